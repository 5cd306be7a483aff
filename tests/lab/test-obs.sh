#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The administrator's tools against the real appliance (dataplane on PMD $1, ndrguard-control,
# Postfix behind): ndrctl relay-test against the appliance (closed) and against a deliberately
# open Postfix (open); a rule switched to observe and back at run time with a live session
# kept; an expiring block; log tail with --rule and a bounded --follow; decision-log rotation
# on SIGHUP; the decision stream on stderr (no systemd here) and to a real systemd-journald
# run in a private mount namespace; ndrctl top under tmux; and
# /metrics parsed by prometheus_client and checked against the traffic sent.
# variants: af_packet
set -u
PMD=${1:-af_packet}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$HERE/lab.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
stat_of() { $NDRCTL stats | awk -v k="$1" '$1 == k {print $2}'; }
NDRCTL_BIN=$LAB_BUILD/control/ndrctl
in_client() { ip netns exec "$CLIENT_NETNS" "$@"; }
# swaks from client source .$1 (lab_client_addrs gives .3-.20), quiet; prints the transcript.
mail_from() {
    local src=$1; shift
    in_client swaks --server "$APPLIANCE_IP" --local-interface "$LAB_EXT_NET.$src" \
        --from sender@example.org --timeout 10 "$@" 2>&1
}
# wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds.
wait_for() {
    local max=$(($1 * 5)) t=0; shift
    until "$@" >/dev/null 2>&1; do
        [ $t -ge "$max" ] && return 1
        sleep 0.2; t=$((t + 1))
    done
}

# A second Postfix in the backend namespace on port 2525 with mynetworks = 0.0.0.0/0: an open
# relay on purpose. It never gets DATA from relay-test, so it never tries to deliver.
open_postfix_start() {
    OPEN_DIR=$LAB_RUN_DIR/openrelay
    mkdir -p "$OPEN_DIR/queue" "$OPEN_DIR/data"
    chown postfix "$OPEN_DIR/data"
    sed 's/^smtp \{1,\}inet /2525      inet /' /etc/postfix/master.cf >"$OPEN_DIR/master.cf"
    cat >"$OPEN_DIR/main.cf" <<CF
# Deliberately open relay of lab $LAB_ID (tests/lab/test-obs.sh)
compatibility_level = 3.7
queue_directory = $OPEN_DIR/queue
data_directory = $OPEN_DIR/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $OPEN_DIR/maillog
maillog_file_prefixes = $OPEN_DIR
inet_interfaces = $BACKEND_IP
inet_protocols = ipv4
myhostname = open.example.com
mydestination =
mynetworks = 0.0.0.0/0
relayhost =
alias_maps =
alias_database =
local_recipient_maps =
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
disable_dns_lookups = yes
smtp_host_lookup = native
defer_transports = smtp
biff = no
CF
    script -qec "ip netns exec $BACKEND_NETNS postfix -c $OPEN_DIR start" \
        "$OPEN_DIR/start.log" >/dev/null 2>&1 || { sed 's/^/  | /' "$OPEN_DIR/start.log" >&2; return 1; }
    wait_for 10 ip netns exec "$BACKEND_NETNS" bash -c "exec 3<>/dev/tcp/$BACKEND_IP/2525"
}
open_postfix_stop() {
    [ -n "${OPEN_DIR:-}" ] && [ -f "$OPEN_DIR/main.cf" ] || return 0
    ip netns exec "$BACKEND_NETNS" postfix -c "$OPEN_DIR" stop >/dev/null 2>&1 || true
}

# scrape OUT: /metrics into a file.
scrape() { "$LAB_PY" -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$METRICS_URL" >"$1"; }

body() {
    lab_up "$LAB_ID_WANTED"
    lab_backend_postfix_start || fail "postfix did not start"
    lab_dataplane_start "$PMD" --app smtp || fail "dataplane did not start"
    lab_control_config
    lab_control_start || fail "control daemon did not start"
    lab_wait_synced 10 || fail "dataplane not in sync"

    # ---- relay-test: the appliance is closed, a permissive Postfix is open ----
    local out rc
    # No --domain: the appliance greets as mx.example.com, so example.com is taken.
    out=$(in_client "$NDRCTL_BIN" relay-test "$APPLIANCE_IP" --timeout 10); rc=$?
    echo "$out" | sed 's/^/  | /'
    [ $rc = 0 ] || fail "relay-test against the appliance: exit $rc, want 0 (closed)"
    echo "$out" | tail -1 | grep -q ': closed (0 relayed, 24 refused, 0 deferred, 0 dropped, of 24 cases)' ||
        fail "relay-test: not every case refused by the appliance"
    echo "$out" | grep -q 'RCPT TO:<relaytest%example.net@example.com>' || fail "relay-test did not find the domain"
    echo "ok: relay-test against the appliance: closed, all 24 cases refused"

    open_postfix_start || fail "the open Postfix did not start"
    out=$(ip netns exec "$BACKEND_NETNS" "$NDRCTL_BIN" relay-test "$BACKEND_IP" --port 2525 \
        --domain open.example.com --timeout 10 --json); rc=$?
    [ $rc = 1 ] || { echo "$out"; fail "relay-test against an open Postfix: exit $rc, want 1 (open)"; }
    "$LAB_PY" - "$out" <<'PY' || fail "relay-test --json"
import json, sys
r = json.loads(sys.argv[1])
assert r["verdict"] == "open", r["verdict"]
plain = [c for c in r["cases"] if c["case"].startswith("plain")][0]
assert plain["result"] == "relayed" and plain["reply"].startswith("250"), plain
assert r["relayed"] >= 10, r["relayed"]
print("ok: relay-test against an open Postfix: open, %d of %d cases relayed (plain: %s)"
      % (r["relayed"], len(r["cases"]), plain["reply"]))
PY
    # Nothing was handed over for delivery: no DATA, so the open relay's queue stays empty.
    [ -z "$(find "$OPEN_DIR/queue" -type f -path '*/incoming/*' -o -type f -path '*/active/*' -o -type f -path '*/deferred/*' 2>/dev/null)" ] ||
        fail "relay-test left mail in the open relay's queue"
    open_postfix_stop
    echo "ok: relay-test queued nothing on the open relay"

    # ---- a rule in observe, then enforce again, a live session kept throughout ----
    $NDRCTL dir del bob@example.com >/dev/null && lab_wait_synced 5 || fail "dir del bob"
    $NDRCTL rule list | grep -Eq '^unknown-recipient +enforce +configuration' || fail "rule list: $($NDRCTL rule list)"
    # A session opened now and used after each switch.
    in_client "$LAB_PY" - "$APPLIANCE_IP" "$LAB_RUN_DIR/live" <<'PY' &
import os, smtplib, sys, time
s = smtplib.SMTP(sys.argv[1], 25, local_hostname="live.example.org", timeout=30,
                 source_address=("198.18.1.12", 0))
s.ehlo()
for step in range(3):
    flag = "%s.%d" % (sys.argv[2], step)
    for _ in range(200):
        if os.path.exists(flag):
            break
        time.sleep(0.1)
    code, _ = s.noop()
    with open(flag + ".done", "w") as f:
        f.write("%d\n" % code)
s.quit()
PY
    local live_pid=$!
    live_step() { touch "$LAB_RUN_DIR/live.$1"; wait_for 10 test -s "$LAB_RUN_DIR/live.$1.done" &&
        [ "$(cat "$LAB_RUN_DIR/live.$1.done")" = 250 ]; }
    live_step 0 || fail "live session did not answer before the switch"

    out=$(mail_from 13 --to bob@example.com)
    echo "$out" | grep -q '<\*\* 550 5.1.1' || { echo "$out"; fail "bob not refused while enforcing"; }
    local obs0 box=$POSTFIX_DIR/mail/example.com/bob/new
    obs0=$(stat_of policy_unknown_user_observe)
    $NDRCTL rule unknown-recipient observe | grep -q 'unknown-recipient: observe (was enforce)' || fail "rule observe"
    lab_wait_synced 5 || fail "not in sync after rule observe"
    $NDRCTL rule list | grep -Eq '^unknown-recipient +observe +ndrctl' || fail "rule list after observe"
    live_step 1 || fail "live session dropped by the switch to observe"
    out=$(mail_from 13 --to bob@example.com --header "Subject: observed")
    echo "$out" | grep -q '<\*\*' && { echo "$out"; fail "mail to bob refused in observe mode"; }
    wait_for 10 sh -c "grep -lq 'Subject: observed' $box/*" || fail "the observed mail did not reach Postfix"
    [ "$(stat_of policy_unknown_user_observe)" = $((obs0 + 1)) ] || fail "observe counter did not move"
    $NDRCTL log tail -n 20 --rule unknown-recipient | grep '"rcpt":"bob@example.com"' |
        grep -q '"outcome":"observe","reply":"550 5.1.1"' || fail "no observe record for bob"
    echo "ok: unknown-recipient in observe: mail to bob delivered, counted and logged as observe"
    $NDRCTL rule unknown-recipient default | grep -q 'enforce (was observe)' || fail "rule default"
    lab_wait_synced 5 || fail "not in sync after rule default"
    live_step 2 || fail "live session dropped by the switch back"
    out=$(mail_from 14 --to bob@example.com)
    echo "$out" | grep -q '<\*\* 550 5.1.1' || { echo "$out"; fail "bob not refused after enforce"; }
    wait "$live_pid" || fail "live session ended badly"
    echo "ok: back to enforce: 550 5.1.1 again; the session opened before both switches lived on"

    # ---- an expiring block ----
    $NDRCTL block add 198.18.1.7 --ttl 4s --reason "obs test" >/dev/null && lab_wait_synced 5 || fail "block add --ttl"
    $NDRCTL block list | grep -Eq '^198.18.1.7/32  ndrctl  expires in [1-4]s  reason: obs test$' ||
        fail "block list: $($NDRCTL block list)"
    out=$(mail_from 7 --to alice@example.com --quit-after CONNECT)
    echo "$out" | grep -q '<\*\* 554 5.7.1' || { echo "$out"; fail "blocked source not refused"; }
    wait_for 10 sh -c "! $NDRCTL block list | grep -q 198.18.1.7" || fail "block did not expire"
    lab_wait_synced 5 || fail "not in sync after expiry"
    out=$(mail_from 7 --to alice@example.com --quit-after CONNECT)
    echo "$out" | grep -q '<-  220 ' || { echo "$out"; fail "expired block still refuses"; }
    grep -q 'block 198.18.1.7/32 expired: lifted; reason was: obs test' "$CONTROL_LOG" || fail "expiry not logged"
    echo "ok: block with --ttl 4s refused at connect, listed with time left and reason, then lifted"

    # ---- log tail, --rule, bounded --follow ----
    out=$($NDRCTL log tail -n 3)
    [ "$(echo "$out" | wc -l)" = 3 ] || fail "log tail -n 3 gave $(echo "$out" | wc -l) lines"
    echo "$out" | "$LAB_PY" -c 'import json, sys
for l in sys.stdin:
    r = json.loads(l)
    assert set(r) == {"time", "client", "helo", "sender", "rcpt", "rule", "outcome", "reply"}, r' ||
        fail "log tail records are not the decision JSON"
    [ "$($NDRCTL log tail -n 5 --rule blocklist | grep -c '"rule":"blocklist"')" = 1 ] ||
        fail "log tail --rule blocklist"
    timeout 15 $NDRCTL log tail -n 0 --rule relay --follow >"$LAB_RUN_DIR/follow" &
    local fpid=$!
    sleep 0.5
    mail_from 15 --to victim@elsewhere.example >/dev/null
    mail_from 15 --to nobody@example.com >/dev/null
    wait_for 10 grep -q '"rcpt":"victim@elsewhere.example"' "$LAB_RUN_DIR/follow" || fail "--follow got nothing"
    kill "$fpid" 2>/dev/null; wait "$fpid" 2>/dev/null
    grep -q '"rule":"relay_denied","outcome":"reject","reply":"554 5.7.1"' "$LAB_RUN_DIR/follow" || fail "--follow record"
    grep -vq '"rule":"relay_denied"' "$LAB_RUN_DIR/follow" && fail "--follow --rule relay let other rules through"
    echo "ok: log tail -n, --rule, and --follow (bounded) stream the decision records"

    # ---- SIGHUP rotation ----
    mv "$LAB_RUN_DIR/decisions.log" "$LAB_RUN_DIR/decisions.log.1"
    kill -HUP "$CONTROL_PID"
    wait_for 5 test -e "$LAB_RUN_DIR/decisions.log" || fail "no new decision log after SIGHUP"
    mail_from 16 --to rotated@elsewhere.example >/dev/null
    wait_for 5 grep -q rotated@elsewhere.example "$LAB_RUN_DIR/decisions.log" || fail "record not in the new log"
    grep -q rotated@elsewhere.example "$LAB_RUN_DIR/decisions.log.1" && fail "record went to the rotated log"
    grep -q victim@elsewhere.example "$LAB_RUN_DIR/decisions.log.1" || fail "rotated log lost its records"
    echo "ok: SIGHUP rotation: the old file keeps its records, new ones go to a new file"

    # ---- the decision stream: journald under systemd, else stderr ----
    if [ "$(ps -p 1 -o comm=)" = systemd ] && [ -d /run/systemd/system ]; then
        fail "systemd is PID 1 here: the journald path should be tested with systemd-run (not written)"
    fi
    grep -q 'decision stream: file and stderr (no journal)' "$CONTROL_LOG" || fail "stderr fallback not chosen"
    grep -q '^decision {.*"rcpt":"rotated@elsewhere.example"' "$CONTROL_LOG" || fail "record not on stderr"
    # Even with JOURNAL_STREAM set, no journal socket means stderr (sd_journal_send would
    # silently succeed and lose everything).
    if [ ! -S /run/systemd/journal/socket ]; then
        lab_control_stop
        : >"$CONTROL_LOG"
        JOURNAL_STREAM=8:1234 INVOCATION_ID=0123456789abcdef0123456789abcdef lab_control_start ||
            fail "control restart"
        lab_wait_synced 10 || fail "not in sync after control restart"
        grep -q 'decision stream: file and stderr (no journal)' "$CONTROL_LOG" ||
            fail "JOURNAL_STREAM without a journal socket must fall back to stderr"
    fi
    echo "ok: no systemd as PID 1 here ($(ps -p 1 -o comm=)): decisions go to stderr beside the file"

    # The journald path with a real systemd-journald: systemd-run needs systemd as PID 1, so
    # journald runs in a private mount namespace (tmpfs over its sockets and journals, nothing
    # of the host's touched) and the daemon runs there with a service's INVOCATION_ID.
    lab_control_stop
    : >"$CONTROL_LOG"
    unshare -m --propagation private env CTLD="$LAB_BUILD/control/ndrguard-control" \
        CONF="$CONTROL_CONF" LOG="$CONTROL_LOG" NDRCTL="$NDRCTL" RUN="$LAB_RUN_DIR" \
        CLIENT_NETNS="$CLIENT_NETNS" APPLIANCE_IP="$APPLIANCE_IP" bash -s <<'NS' || fail "journald path"
set -u
mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/journal || exit 1
mount -t tmpfs tmpfs /run/log || exit 1
[ -d /var/log/journal ] && { mount -t tmpfs tmpfs /var/log/journal || exit 1; }
/lib/systemd/systemd-journald >"$RUN/journald.log" 2>&1 &
jd=$! cp=
# Both end with this namespace's script, however it ends.
trap 'kill $cp $jd 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 50); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
rc=0
INVOCATION_ID=0123456789abcdef0123456789abcdef "$CTLD" -f "$CONF" >>"$LOG" 2>&1 &
cp=$!
for _ in $(seq 100); do $NDRCTL status 2>/dev/null | grep -q 'configuration in sync, directory in sync' && break; sleep 0.1; done
# (The daemon's own messages go to the journal now: "decision stream: ..." is checked there.)
ip netns exec "$CLIENT_NETNS" swaks --server "$APPLIANCE_IP" --local-interface 198.18.1.19 \
    --from j@example.org --to journald@elsewhere.example --timeout 10 >/dev/null 2>&1
for _ in $(seq 50); do
    journalctl -D /run/log/journal NDRGUARD_RCPT=journald@elsewhere.example -o json 2>/dev/null |
        grep -q NDRGUARD_RULE && break
    sleep 0.2
done
journalctl -D /run/log/journal NDRGUARD_RCPT=journald@elsewhere.example -o json >"$RUN/journal.json" 2>&1
/usr/bin/python3 - "$RUN/journal.json" <<'PY' || rc=1
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert len(recs) == 1, "%d journal entries for the relay attempt" % len(recs)
r = recs[0]
want = {"NDRGUARD_RULE": "relay_denied", "NDRGUARD_OUTCOME": "reject",
        "NDRGUARD_CLIENT": "198.18.1.19", "NDRGUARD_SENDER": "j@example.org",
        "NDRGUARD_REPLY": "554 5.7.1", "SYSLOG_IDENTIFIER": "ndrguard-control", "PRIORITY": "5"}
for k, v in want.items():
    assert r.get(k) == v, (k, r.get(k))
m = json.loads(r["MESSAGE"])
assert m["rcpt"] == "journald@elsewhere.example" and m["rule"] == "relay_denied", m
print("ok: journald (a real systemd-journald): one entry, MESSAGE is the JSON record, fields %s"
      % ", ".join(sorted(k for k in r if k.startswith("NDRGUARD_"))))
PY
grep -q '^decision {' "$LOG" && { echo "records went to stderr too"; rc=1; }
# The daemon's own messages are journal entries with fields too, not bare stderr lines.
journalctl -D /run/log/journal SYSLOG_IDENTIFIER=ndrguard-control NDRGUARD_COMPONENT=control \
    -o json >"$RUN/journal-log.json" 2>&1
/usr/bin/python3 - "$RUN/journal-log.json" <<'PY' || rc=1
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
ready = [r for r in recs if r.get("MESSAGE", "").startswith("ready: ndrctl on")]
assert ready and ready[0].get("PRIORITY") == "6", "no 'ready' entry at PRIORITY 6: %r" % recs[:3]
assert any(r.get("MESSAGE") == "decision stream: file and the journal" for r in recs), \
    "journal not chosen for the decision stream"
print("ok: journald: the daemon's own log is structured (%d entries, NDRGUARD_COMPONENT, PRIORITY)"
      % len(recs))
PY
grep -q "ready: ndrctl on" "$LOG" && { echo "daemon messages went to stderr too:"; cat "$LOG"; rc=1; }
exit $rc
NS
    lab_control_start || fail "control daemon did not restart"
    lab_wait_synced 10 || fail "not in sync after control restart"

    # ---- ndrctl top under tmux ----
    local tm="tmux -L ndgobs$LAB_ID"
    $tm new-session -d -s top -x 120 -y 40 "$NDRCTL top" || fail "tmux"
    pane() { $tm capture-pane -p -t top; }
    conns() { pane | awk '$1 == "connections" {print $NF}'; }
    wait_for 10 sh -c "$tm capture-pane -p -t top | grep -q '^ndrguard top'" || fail "top did not draw"
    local c0 c1
    c0=$(conns)
    [ -n "$c0" ] || { pane; fail "top shows no connections line"; }
    for i in 1 2 3; do mail_from 17 --to nobody$i@elsewhere.example >/dev/null; done
    wait_for 6 sh -c "[ \"\$($tm capture-pane -p -t top | awk '\$1 == \"connections\" {print \$NF}')\" -ge $((c0 + 3)) ]" ||
        { pane; fail "top's connection total did not move with traffic"; }
    c1=$(conns)
    pane | grep -Eq '^  relay_denied +[0-9.]+ +[0-9]+' || { pane; fail "top: no relay_denied row"; }
    pane | grep -q '198.18.1.17' || { pane; fail "top: 198.18.1.17 not among the offending sources"; }
    pane | sed 's/^/  | /'
    $tm send-keys -t top q
    wait_for 5 sh -c "! $tm has-session -t top" || { $tm kill-server; fail "q did not quit top"; }
    $tm kill-server 2>/dev/null || true
    echo "ok: ndrctl top under tmux: connections $c0 -> $c1, relay_denied row, source shown, q quits"

    # ---- /metrics against the traffic sent ----
    sleep 1.2
    scrape "$LAB_RUN_DIR/m0" || fail "scrape"
    # One session: 2 recipients the directory and Postfix know, 3 unknown, 1 relay attempt,
    # then one message.
    in_client "$LAB_PY" - "$APPLIANCE_IP" <<'PY' || fail "metrics traffic"
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], 25, local_hostname="metrics.example.org", timeout=20,
                 source_address=("198.18.1.18", 0))
s.ehlo()
s.mail("sender@example.org")
got = [s.rcpt(r)[0] for r in ["alice@example.com", "carol@example.com", "nobody1@example.com",
                              "nobody2@example.com", "nobody3@example.com", "x@elsewhere.example"]]
assert got == [250, 250, 550, 550, 550, 554], got
code, _ = s.data(b"Subject: metrics\r\n\r\none message\r\n")
assert code == 250, code
s.quit()
PY
    sleep 1.5
    scrape "$LAB_RUN_DIR/m1" || fail "scrape"
    "$LAB_PY" - "$LAB_RUN_DIR/m0" "$LAB_RUN_DIR/m1" "$BACKEND_IP" <<'PY' || fail "metrics values"
import sys
from prometheus_client.parser import text_string_to_metric_families
def load(path):
    fams = {f.name: f for f in text_string_to_metric_families(open(path).read())}
    return fams
m0, m1 = load(sys.argv[1]), load(sys.argv[2])
def val(m, name, **labels):
    for f in m.values():
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0
def d(name, **labels):
    return val(m1, name, **labels) - val(m0, name, **labels)
h = m1["ndrguard_rcpt_reply_seconds"]
assert h.type == "histogram", h.type
buckets = [(float(s.labels["le"]), s.value) for s in h.samples if s.name.endswith("_bucket")]
assert buckets == sorted(buckets), "buckets not cumulative in le order"
assert all(b[1] <= c[1] for b, c in zip(buckets, buckets[1:])), "buckets not cumulative"
assert buckets[-1][0] == float("inf")
count = val(m1, "ndrguard_rcpt_reply_seconds_count")
assert buckets[-1][1] == count, (buckets[-1], count)
assert d("ndrguard_rcpt_reply_seconds_count") == 6, d("ndrguard_rcpt_reply_seconds_count")
assert d("ndrguard_rcpt_reply_seconds_sum") > 0
# The two accepted RCPTs waited for Postfix; the four refused ones did not.
assert d("ndrguard_smtp_replies_total", code="550") == 3, d("ndrguard_smtp_replies_total", code="550")
assert d("ndrguard_smtp_replies_total", code="554") == 1
assert d("ndrguard_smtp_replies_total", code="250") == 2
assert d("ndrguard_policy_decisions_total", rule="unknown_user", outcome="reject") == 3
assert d("ndrguard_policy_decisions_total", rule="relay_denied", outcome="reject") == 1
assert d("ndrguard_dataplane_smtp_sessions_total") == 1
assert d("ndrguard_dataplane_smtp_delivered_total") == 1
assert val(m1, "ndrguard_dataplane_sessions_active") == 0
be = sys.argv[3] + ":25"
assert val(m1, "ndrguard_backend_up", backend=be) == 1
assert d("ndrguard_backend_connects_total", backend=be, result="ok") == 1
assert val(m1, "ndrguard_directory_age_seconds") >= 0
p50 = next(le for le, c in buckets if c >= count / 2)
print("ok: /metrics: 6 RCPT replies in ndrguard_rcpt_reply_seconds (median <= %g s, %d buckets), "
      "replies by code 250/550/554 = 2/3/1, rules, sessions, backend %s up" % (p50, len(buckets), be))
PY
}

LAB_ID_WANTED=ob$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
( body ) || exit 1
left=$(lab_leftovers "$LAB_ID_WANTED")
[ -z "$left" ] || fail "lab left behind: $left"
pgrep -af "master.*-c /run/ndrguard/lab-$LAB_ID_WANTED/openrelay" && fail "open relay left behind"
echo "ok: no namespace, link or process left behind"
