#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Directory sync from a real OpenLDAP slapd (private instance in a temporary directory, mdb +
# syncprov, the AD-like schema of tests/lab/ldap/, 10,000 users loaded with slapadd -q) into
# ndrguard-control and the dataplane in the lab, with a private Postfix as the backend.
#   syncrepl: OpenLDAP flavour (mail, mailAlternateAddress), simple bind with a password file
#             over ldap://127.0.0.1, RFC 4533 refreshAndPersist; and a second source for the
#             groups (AD flavour, SASL EXTERNAL over ldapi, syncrepl too).
#   poll:     AD flavour (mail, proxyAddresses smtp: only), SASL EXTERNAL over ldapi, a paged
#             re-read when contextCSN moves, polled every 500 ms.
# Both: the initial sync and its union with the flat file; add, modify and delete in slapd seen
# by 'ndrctl dir lookup' within 2 s (measured latency printed); slapd stopped: the last set still
# served, also after restarting the control daemon; slapd back: the source recovers; deleting 50 %
# of the users trips the integrity guard (RCPT to a deleted address 450 4.1.1 through the
# dataplane, held deletions still accepted) and 'ndrctl dir accept' makes them 550 5.1.1.
# variants: syncrepl poll
set -u
MODE=${1:-syncrepl}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$HERE/lab.sh"
# shellcheck source=tests/lab/ldap/slapd.sh
. "$HERE/ldap/slapd.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
N=10000
BOUND_MS=2000 # the issue's bound for a change to show in ndrctl dir lookup

case $MODE in
syncrepl | poll) ;;
*) fail "unknown variant '$MODE' (syncrepl or poll)" ;;
esac

stat_of() { $NDRCTL stats | awk -v k="$1" '$1 == k {print $2}'; }
dir_count() { $NDRCTL status | sed -n 's/^directory: *\([0-9]*\) addresses.*/\1/p'; }
src_line() { $NDRCTL status | grep '^ldap corp:'; }
src_field() { src_line | grep -o "[0-9]* $1" | head -n 1 | cut -d' ' -f1; }
known() { $NDRCTL dir lookup "$1" >/dev/null; }
unknown() { ! $NDRCTL dir lookup "$1" >/dev/null; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_ms LIMIT_MS CMD...: poll CMD every 20 ms until it succeeds; print the milliseconds it took.
wait_ms() {
    local lim=$1 t0 t
    shift
    t0=$(now_ms)
    while :; do
        "$@" && break
        t=$(($(now_ms) - t0))
        [ "$t" -ge "$lim" ] && return 1
        sleep 0.02
    done
    echo $(($(now_ms) - t0))
}

# rcpt SRC ADDR: "CODE ENHANCED" of the RCPT reply through the appliance, from client address SRC.
rcpt() {
    ip netns exec "$CLIENT_NETNS" "$LAB_PY" - "$APPLIANCE_IP" "$1" "$2" <<'PY'
import smtplib, sys
s = smtplib.SMTP(timeout=10)
s.connect(sys.argv[1], 25, source_address=(sys.argv[2], 0))
s.ehlo("client.example")
s.mail("sender@client.example")
code, msg = s.rcpt(sys.argv[3])
print(code, msg.decode(errors="replace").split()[0])
try:
    s.quit()
except Exception:
    pass
PY
}

expect_rcpt() { # expect_rcpt SRC ADDR WANT WHAT
    local got
    got=$(rcpt "$1" "$2") || fail "SMTP session for $2"
    [ "$got" = "$3" ] || fail "$4: RCPT $2 got '$got', want '$3'"
    echo "ok: $4: RCPT $2 -> $got"
}

changed_within() { # changed_within WHAT CMD...
    local what=$1 ms
    shift
    ms=$(wait_ms $BOUND_MS "$@") || fail "$what not seen within $BOUND_MS ms"
    echo "ok: $what seen by ndrctl dir lookup after $ms ms"
}

body() {
    trap 'rc=$?; slapd_stop; rm -rf "$SLAPD_TMP"; exit $rc' EXIT
    slapd_setup "$SLAPD_TMP"
    local t0
    t0=$(now_ms)
    slapd_load $N || fail "slapadd"
    echo "ok: $N users loaded with slapadd -q in $(($(now_ms) - t0)) ms"
    slapd_start || fail "slapd did not start"

    lab_up "$LAB_ID_WANTED"
    # slapd goes down with the lab, whatever happens.
    trap 'rc=$?; slapd_stop; rm -rf "$SLAPD_TMP"; (exit $rc); lab_down' EXIT
    lab_backend_postfix_start || fail "postfix did not start"
    # The backend takes every example.com user: any 550 below is the appliance's own.
    echo "@example.com example.com/all/" >>"$POSTFIX_DIR/vmailbox"
    ip netns exec "$BACKEND_NETNS" postfix -c "$POSTFIX_DIR" reload >/dev/null 2>&1 || fail "postfix reload"
    lab_dataplane_start af_packet --app smtp || fail "dataplane did not start"
    lab_control_config
    local extra corp_extra alias other
    if [ "$MODE" = syncrepl ]; then
        printf '%s' "$SLAPD_READER_PW" >"$LAB_RUN_DIR/ldap.secret"
        chmod 600 "$LAB_RUN_DIR/ldap.secret"
        cat >>"$CONTROL_CONF" <<CONF
directory ldap corp {
    uri "$SLAPD_URI"
    base "$SLAPD_BASE"
    bind simple "$SLAPD_READER_DN"
    password-file $LAB_RUN_DIR/ldap.secret
    sync syncrepl
}
directory ldap groups {
    uri "$SLAPD_LDAPI"
    base "ou=groups,$SLAPD_BASE"
    flavour ad
    filter "(objectClass=groupOfNames)"
    bind sasl-external
}
CONF
        # staff@ (both sources) and all-staff@ (the groups source, AD-style proxyAddresses)
        extra=2 corp_extra=1 alias=alt other=proxy
    else
        cat >>"$CONTROL_CONF" <<CONF
directory ldap corp {
    uri "$SLAPD_LDAPI"
    base "$SLAPD_BASE"
    flavour ad
    filter "(objectClass=ndgMailRecipient)"
    bind sasl-external
    sync poll
    poll-interval 500ms
    change-marker "$SLAPD_BASE" contextCSN
}
CONF
        extra=2 corp_extra=2 alias=proxy other=alt # staff@ and all-staff@ from proxyAddresses
    fi
    if [ "$MODE" = syncrepl ]; then
        # The bind password: refused from a file others can read, never in argv or the log.
        chmod 640 "$LAB_RUN_DIR/ldap.secret"
        "$LAB_BUILD/control/ndrguard-control" -n -f "$CONTROL_CONF" 2>&1 | grep -q 'not readable by group or others' ||
            fail "a group-readable password file was accepted"
        chmod 600 "$LAB_RUN_DIR/ldap.secret"
        echo "ok: a password file readable by others is refused"
    fi
    lab_control_start || fail "control daemon did not start"
    if [ "$MODE" = syncrepl ]; then
        tr '\0' ' ' <"/proc/$CONTROL_PID/cmdline" | grep -qF "$SLAPD_READER_PW" && fail "the password is on the command line"
    fi
    local ms want
    ms=$(wait_ms 60000 known user$((N - 1))@example.com) || { $NDRCTL status; fail "initial sync"; }
    lab_wait_synced 10 || { $NDRCTL status; fail "dataplane not in sync"; }
    want=$((8 + 2 * N + extra))
    [ "$(dir_count)" = "$want" ] || { $NDRCTL status; fail "directory holds $(dir_count), want $want"; }
    [ "$(stat_of directory_loaded_addresses)" = "$want" ] || fail "dataplane holds $(stat_of directory_loaded_addresses), want $want"
    echo "ok: initial sync ($MODE): $want addresses (8 from the file, $((2 * N + extra)) from LDAP) in force in the dataplane, $ms ms after start"
    src_line | sed 's/^/     /'
    known user7@example.com && known user7.$alias@example.com && known staff@example.com ||
        fail "user7, user7.$alias or staff missing"
    unknown user7.$other@example.com || fail "user7.$other came from an attribute this flavour does not read"
    known alice@example.com || fail "the flat file lost in the union"
    if [ "$MODE" = syncrepl ]; then
        known all-staff@example.com || fail "the second source (groups) is missing from the union"
        $NDRCTL status | grep -q '^ldap groups: persist via syncrepl' || fail "the groups source is not following"
        echo "ok: two LDAP sources and the flat file in one directory (groups: SASL EXTERNAL over ldapi)"
    fi
    if [ "$MODE" = poll ]; then
        known all-staff@example.com || fail "the group's smtp: proxyAddresses value is missing"
        [ "$(src_field 'values skipped')" -ge $((N + 1)) ] || fail "X500/X400 values were not skipped"
        echo "ok: proxyAddresses: smtp:/SMTP: values in, X500:/X400: values skipped ($(src_field 'values skipped'))"
        local r1 r2
        r1=$(src_field refreshes)
        sleep 1.5
        r2=$(src_field refreshes)
        [ "$r1" = "$r2" ] || fail "re-read $((r2 - r1)) times while nothing changed"
        echo "ok: contextCSN unchanged over 3 polls: no re-read ($r2 so far)"
    fi
    # Least privilege: the thread that parses the server's replies holds no capability.
    local task caps=
    for task in /proc/"$CONTROL_PID"/task/*; do
        [ "$(cat "$task/comm")" = "ldap:corp" ] && caps=$(awk '/^CapEff/ {print $2}' "$task/status")
    done
    [ "$caps" = 0000000000000000 ] || fail "the ldap:corp thread has capabilities '$caps'"
    echo "ok: the ldap:corp thread runs with no capabilities (CapEff $caps)"
    # The source's metrics, parsed by the reference parser.
    sleep 1.5
    "$LAB_PY" - "$METRICS_URL" "$((2 * N + corp_extra))" <<'PY' || fail "metrics"
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
got = {}
for f in text_string_to_metric_families(text):
    for s in f.samples:
        if s.name.startswith("ndrguard_directory_source_") and s.labels.get("source") == "corp":
            got[s.name] = s.value
assert got.get("ndrguard_directory_source_up") == 1, got
assert got.get("ndrguard_directory_source_addresses") == int(sys.argv[2]), got
assert got.get("ndrguard_directory_source_entries", 0) > 0, got
assert got.get("ndrguard_directory_source_last_sync_timestamp_seconds", 0) > 0, got
print("ok: /metrics: ndrguard_directory_source_* for corp: up 1, %d addresses" % got["ndrguard_directory_source_addresses"])
PY
    expect_rcpt 198.18.1.9 user7@example.com "250 2.1.5" "synced LDAP user through the dataplane"
    expect_rcpt 198.18.1.9 nobody@example.com "550 5.1.1" "unknown recipient"

    # Changes in slapd, seen within the bound.
    slapd_modify <<LDIF || fail "ldapmodify add"
dn: uid=newbie,ou=people,$SLAPD_BASE
changetype: add
objectClass: inetOrgPerson
objectClass: ndgMailRecipient
uid: newbie
cn: New Bie
sn: Bie
mail: newbie@example.com
mailAlternateAddress: newbie.alt@example.com
proxyAddresses: SMTP:newbie@example.com
proxyAddresses: smtp:newbie.proxy@example.com
LDIF
    changed_within "added entry (newbie.$alias@)" known newbie.$alias@example.com
    slapd_modify <<LDIF || fail "ldapmodify modify"
dn: uid=user8,ou=people,$SLAPD_BASE
changetype: modify
replace: mail
mail: user8.renamed@example.com
-
replace: mailAlternateAddress
mailAlternateAddress: user8.renamed.alt@example.com
-
replace: proxyAddresses
proxyAddresses: SMTP:user8.renamed@example.com
proxyAddresses: smtp:user8.renamed.proxy@example.com
LDIF
    changed_within "modified entry (user8@ renamed)" known user8.renamed.$alias@example.com
    unknown user8@example.com && unknown user8.$alias@example.com || fail "the old addresses of user8 stayed"
    slapd_modify <<LDIF || fail "ldapmodify delete"
dn: uid=user9,ou=people,$SLAPD_BASE
changetype: delete
LDIF
    changed_within "deleted entry (user9@ gone)" unknown user9@example.com
    lab_wait_synced 5 || fail "dataplane not in sync after the changes"
    expect_rcpt 198.18.1.10 newbie@example.com "250 2.1.5" "added LDAP user"
    expect_rcpt 198.18.1.10 user9@example.com "550 5.1.1" "deleted LDAP user"

    # Directory outage: the last good set stays, also across a control daemon restart.
    want=$(dir_count)
    slapd_stop
    wait_ms 15000 eval 'src_line | grep -q "LAST ERROR"' >/dev/null || { src_line; fail "the source did not notice slapd going away"; }
    [ "$(dir_count)" = "$want" ] && known user7@example.com && known newbie@example.com ||
        fail "slapd down: the directory changed ($(dir_count), want $want)"
    expect_rcpt 198.18.1.11 user7@example.com "250 2.1.5" "slapd down, last snapshot served"
    echo "ok: slapd down: $want addresses still in force"
    src_line | sed 's/^/     /'
    lab_control_stop
    lab_control_start || fail "control daemon did not restart"
    lab_wait_synced 10 || fail "not in sync after the restart"
    [ "$(dir_count)" = "$want" ] && known user7@example.com && known newbie@example.com &&
        unknown user9@example.com || fail "after a restart with slapd down: $(dir_count), want $want"
    $NDRCTL status | grep -q '^guard: *ok' || fail "the guard raised an alarm after the restart"
    [ "$(stat_of directory_loaded_addresses)" = "$want" ] || fail "dataplane lost addresses"
    expect_rcpt 198.18.1.11 newbie@example.com "250 2.1.5" "control restarted with slapd down"
    echo "ok: control daemon restarted with slapd down: the same $want addresses, guard ok"
    slapd_start || fail "slapd did not restart"
    ms=$(wait_ms 40000 eval 'src_line | grep -Eq "^ldap corp: (persist|up to date)"') ||
        { src_line; fail "the source did not recover"; }
    echo "ok: slapd back: the source recovered after $ms ms"
    if [ "$MODE" = syncrepl ]; then
        # Resumed from the cookie kept on disk: unchanged entries come back as "present"
        # (RFC 4533 §3.4), not whole.
        local whole
        whole=$(src_line | sed -n 's/.*(last: \([0-9]*\) entries sent whole).*/\1/p')
        [ -n "$whole" ] && [ "$whole" -lt $((N / 10)) ] || { src_line; fail "the refresh after the outage sent ${whole:-?} entries whole: the cookie was not used"; }
        echo "ok: resumed with the persisted cookie: $whole of $N entries sent whole"
    fi
    slapd_modify <<LDIF || fail "ldapmodify add after the restart"
dn: uid=late,ou=people,$SLAPD_BASE
changetype: add
objectClass: inetOrgPerson
objectClass: ndgMailRecipient
uid: late
cn: Late
sn: Late
mail: late@example.com
proxyAddresses: SMTP:late@example.com
LDIF
    changed_within "entry added after the outage" known late@example.com

    # Integrity guard: a first small batch of deletions (3 %) is applied, then deleting half of
    # the users is held: unknown recipients (the first batch) get 450, held ones stay accepted.
    local first=$((N / 2)) small=$((N * 3 / 100)) last=$((N - 1)) i
    for i in $(seq "$first" $((first + small - 1))); do echo "uid=user$i,ou=people,$SLAPD_BASE"; done >"$SLAPD_TMP/del1"
    for i in $(seq $((first + small)) "$last"); do echo "uid=user$i,ou=people,$SLAPD_BASE"; done >"$SLAPD_TMP/del2"
    ldapdelete -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" -w "$SLAPD_ADMIN_PW" -f "$SLAPD_TMP/del1" || fail "ldapdelete 3 %"
    wait_ms 10000 unknown user$((first + small - 1))@example.com >/dev/null || fail "3 % deletions not applied"
    $NDRCTL status | grep -q '^guard: *ok' || fail "3 % of deletions tripped the guard"
    echo "ok: deleting 3 % of the users is applied (guard ok)"
    t0=$(now_ms)
    ldapdelete -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" -w "$SLAPD_ADMIN_PW" -f "$SLAPD_TMP/del2" || fail "ldapdelete 47 %"
    echo "ok: $((N / 2 - small)) more users deleted in slapd in $(($(now_ms) - t0)) ms"
    wait_ms 30000 eval '$NDRCTL status | grep -q "^guard: *ALARM: a sync would shrink"' >/dev/null ||
        { $NDRCTL status; fail "deleting 50 % did not trip the guard"; }
    want=$((N - N / 2 - 1 + 3)) # minus user9, plus newbie, late, staff
    wait_ms 30000 eval '[ "$(src_field entries)" = "$want" ]' >/dev/null || { src_line; fail "the source did not reach $want entries"; }
    sleep 1.5 # the main loop tells the dataplane within a poll round
    $NDRCTL status | grep '^guard' | sed 's/^/     /'
    expect_rcpt 198.18.1.12 user$first@example.com "450 4.1.1" "guard raised: a deleted address"
    expect_rcpt 198.18.1.12 user$last@example.com "250 2.1.5" "guard raised: a held deletion is not applied"
    expect_rcpt 198.18.1.12 user7@example.com "250 2.1.5" "guard raised: a remaining user"
    $NDRCTL dir accept | sed 's/^/     /'
    lab_wait_synced 10 || fail "not in sync after dir accept"
    sleep 1.5
    $NDRCTL status | grep -q '^guard: *ok' || fail "dir accept did not clear the guard"
    expect_rcpt 198.18.1.13 user$first@example.com "550 5.1.1" "after dir accept: a deleted address"
    expect_rcpt 198.18.1.13 user$last@example.com "550 5.1.1" "after dir accept: the held deletion"
    expect_rcpt 198.18.1.13 user7@example.com "250 2.1.5" "after dir accept: a remaining user"
    if [ "$MODE" = syncrepl ]; then
        grep -qF "$SLAPD_READER_PW" "$CONTROL_LOG" && fail "the password is in the log"
        echo "ok: the bind password is in neither the command line nor the log"
    fi
    echo "ok: $(dir_count) addresses in force after dir accept"
}

LAB_ID_WANTED=ld$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
SLAPD_TMP=$(mktemp -d /tmp/ndg-slapd.XXXXXX)
( body ) || exit 1
left=$(lab_leftovers "$LAB_ID_WANTED")
[ -z "$left" ] || fail "lab left behind: $left"
pgrep -f "slapd -f $SLAPD_TMP/" >/dev/null && fail "slapd left behind"
echo "ok: no namespace, link or process left behind"
