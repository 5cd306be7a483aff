#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# ndrguard-control and ndrctl together, no dataplane: every command's answer and exit status,
# the ndrctl overlay and the snapshot surviving a restart without the directory source,
# reloads (SIGHUP and ndrctl) keeping the old configuration when the new one is invalid.
#   usage: test-ndrctl.sh NDRGUARD_CONTROL NDRCTL
set -u
CTLD=$(realpath "$1")
NDRCTL=$(realpath "$2")
T=$(mktemp -d /tmp/ndg-ctl.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fails=0
check() { # check NAME WANT_STATUS WANT_GREP -- ndrctl args
    local name=$1 want=$2 pat=$3 out st
    shift 4
    out=$("$NDRCTL" -s "$T/ctl.sock" "$@" 2>&1)
    st=$?
    if [ "$st" != "$want" ] || ! printf '%s' "$out" | grep -qE -- "$pat"; then
        echo "FAIL $name: exit $st (want $want), output:"
        printf '%s\n' "$out" | sed 's/^/  | /'
        fails=$((fails + 1))
    else
        echo "ok   $name"
    fi
}
start() {
    "$CTLD" -f "$T/ndrguard.conf" >>"$T/log" 2>&1 &
    pid=$!
    for _ in $(seq 50); do [ -S "$T/ctl.sock" ] && return 0; sleep 0.1; done
    echo "FAIL daemon did not start"; cat "$T/log"; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null; pid=; }

cat >"$T/ndrguard.conf" <<CONF
dataplane socket $T/dp.sock
control socket $T/ctl.sock
directory file $T/recipients
directory snapshot $T/state/snapshot
metrics listen off
decision log $T/decisions.log
domain example.com {
    backend 198.18.2.1
}
domain all.example.com {
    backend 198.18.2.1
}
CONF
printf 'alice@example.com\nBOB@example.com\n@all.example.com\nbad@@line\n' >"$T/recipients"

start
check status-no-dataplane 1 'dataplane: +not connected' -- status
check status-directory 1 'directory: +3 addresses' -- status
check domains 0 '^all.example.com +backends 198.18.2.1:25' -- domains
check lookup-exact 0 'alice@example.com: accepted \(address' -- dir lookup '<Alice+tag@Example.COM>'
check lookup-catchall 0 'accepted \(catch-all: @all.example.com' -- dir lookup x@all.example.com
check lookup-postmaster 0 'accepted \(postmaster' -- dir lookup postmaster@example.com
check lookup-batv 0 'bob@example.com: accepted' -- dir lookup prvs=1234567890=bob@example.com
check lookup-unknown 1 '550 5.1.1' -- dir lookup nobody@example.com
check lookup-relay 1 '554 5.7.1' -- dir lookup someone@elsewhere.net
check lookup-syntax 1 '501 5.1.3' -- dir lookup not-an-address
check add 0 'carol@example.com: added \(4 addresses' -- dir add Carol@Example.com
check del 0 'alice@example.com: deleted \(3 addresses' -- dir del alice@example.com
check lookup-added 0 'accepted' -- dir lookup carol@example.com
check lookup-deleted 1 '550 5.1.1' -- dir lookup alice@example.com
check sync 0 'synced: 3 addresses, 1 bad lines' -- dir sync
check stats-no-dataplane 1 'dataplane unreachable' -- stats
check usage 2 'usage' -- frobnicate
# ndrctl status also reports the systemd units (systemd is not PID 1 on the test box: the unit
# branch runs against a stand-in systemctl that answers as systemd's `show` does).
check status-units-nosystemd 1 'units: systemd is not running here' -- status
cat >"$T/systemctl" <<'SH'
#!/bin/sh
case "$*" in
*ndrguard-dataplane*) printf 'ActiveState=active\nSubState=running\nResult=success\nNRestarts=0\nActiveEnterTimestamp=Mon 2026-11-23 10:00:00 UTC\n' ;;
*ndrguard-control*) printf 'ActiveState=failed\nSubState=failed\nResult=exit-code\nNRestarts=3\nActiveEnterTimestamp=\n' ;;
*) printf 'ActiveState=\n' ;;
esac
SH
chmod +x "$T/systemctl"
export NDRCTL_SYSTEMD_RUNDIR=$T NDRCTL_SYSTEMCTL=$T/systemctl
check status-unit-dataplane 1 'unit ndrguard-dataplane.service +active \(running\) since Mon 2026-11-23 10:00:00 UTC$' -- status
check status-unit-control 1 'unit ndrguard-control.service +failed \(failed\), last result exit-code, restarted 3 times' -- status
check status-unit-unknown 1 'unit ndrguard-hugepages.service +unknown to systemd' -- status
unset NDRCTL_SYSTEMD_RUNDIR NDRCTL_SYSTEMCTL
check usage-args 2 'usage' -- dir lookup
grep -qx 'carol@example.com' "$T/state/snapshot" || { echo "FAIL snapshot lacks the added address"; fails=$((fails + 1)); }

# Restart without the directory source: the snapshot and the overlay keep everything.
stop
mv "$T/recipients" "$T/recipients.gone"
start
check restart-snapshot 1 'directory: +3 addresses.*LAST SYNC FAILED' -- status
check restart-overlay 0 'accepted' -- dir lookup carol@example.com
check restart-deleted 1 '550 5.1.1' -- dir lookup alice@example.com
check restart-sync-fails 1 'sync FAILED, previous directory kept: 3 addresses' -- dir sync
mv "$T/recipients.gone" "$T/recipients"

# A broken configuration is refused by reload; the old one stays.
cp "$T/ndrguard.conf" "$T/good.conf"
printf 'domain broken {\n}\n' >>"$T/ndrguard.conf"
check reload-bad 1 'reload failed' -- reload
kill -HUP "$pid"
sleep 0.3
check still-serving 0 '^example.com' -- domains
cp "$T/good.conf" "$T/ndrguard.conf"
sed -i 's/^domain all.example.com/domain other.example.com/' "$T/ndrguard.conf"
kill -HUP "$pid"
sleep 0.3
check sighup-reloaded 0 '^other.example.com' -- domains
check reload-good 0 'reloaded' -- reload
grep -q 'broken has no backend' "$T/log" || { echo "FAIL the SIGHUP reload error was not logged with its line"; fails=$((fails + 1)); }
# Integrity guard: a source that loses most of its addresses is held, not applied.
for i in $(seq 100); do echo "user$i@example.com"; done >>"$T/recipients"
check guard-grow 0 'synced: 1.. addresses' -- dir sync
head -n 20 "$T/recipients" >"$T/recipients.new" && mv "$T/recipients.new" "$T/recipients"
check guard-held 1 'held: the sources would shrink the directory' -- dir sync
check guard-alarm 1 'guard: +ALARM: a sync would shrink' -- status
check guard-old-in-force 0 'user90@example.com: accepted' -- dir lookup user90@example.com
check guard-accept 0 'accepted: ' -- dir accept
check guard-cleared 1 'guard: +ok' -- status
check guard-new-in-force 1 '550 5.1.1' -- dir lookup user90@example.com
# Stale: no good sync for longer than max-age.
printf 'directory max-age 2s\ndirectory sync-interval 1s\n' >>"$T/ndrguard.conf"
check reload-max-age 0 'reloaded' -- reload
mv "$T/recipients" "$T/recipients.gone"
sleep 3.5
check guard-stale 1 'guard: +ALARM: no good sync for longer than 2 s' -- status
mv "$T/recipients.gone" "$T/recipients"
sleep 2
check guard-fresh-again 1 'guard: +ok' -- status
# Runtime rule modes and expiring blocks, answered without a dataplane.
check rule-unknown 1 'frob: unknown rule' -- rule frob observe
check rule-bad-mode 2 'usage: ndrctl rule' -- rule harvest sometimes
check rule-observe 0 'harvest: observe \(was enforce\) \(dataplane not in sync yet\)' -- rule harvest observe
check rule-list 1 '^harvest +observe +ndrctl' -- rule list
check rule-default 0 'harvest: enforce \(was observe\)' -- rule harvest default
check block-ttl-bad 2 'not a duration' -- block add 198.18.9.0/24 --ttl 0s
check block-ttl 0 '198.18.9.0/24: blocked  expires in 1h00m  reason: ops ticket 7' -- block add 198.18.9.0/24 --ttl 1h --reason 'ops ticket 7'
check block-ttl-list 0 '^198.18.9.0/24  ndrctl  expires in (59m5.s|1h00m)  reason: ops ticket 7' -- block list
check block-readd 0 '^198.18.9.0/24: already blocked$' -- block add 198.18.9.0/24
check block-readd-list 0 '^198.18.9.0/24  ndrctl$' -- block list
check block-ttl-del 0 'unblocked' -- block del 198.18.9.0/24
check log-tail-usage 2 'usage: ndrctl log tail' -- log tail -n many
check sources-empty 0 '^SOURCE +REJECTED' -- sources
check relay-test-usage 2 'usage' -- relay-test
check relay-test-unreachable 2 'cannot connect to 127.0.0.1 port 1' -- relay-test 127.0.0.1 --port 1
stop
check unreachable 3 'cannot reach' -- status

[ $fails -eq 0 ] && echo "all ndrctl checks pass"
exit $((fails > 0))
