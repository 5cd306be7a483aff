#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The appliance end to end on PMD $1: ndrguard-dataplane with the SMTP proxy, ndrguard-control
# with the lab configuration, a real Postfix behind it, and tests/lab/smtp_e2e.py in the client
# namespace: every policy row the appliance has, byte-exact delivery, smuggling, a backend that
# refuses, a client that vanishes mid-DATA, the early talker, the harvest tarpit and a backend
# that is down. Ends by checking the lab left nothing behind.
# variants: af_packet af_xdp
set -u
PMD=${1:-af_packet}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$HERE/lab.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
e2e() { ip netns exec "$CLIENT_NETNS" env APPLIANCE_IP="$APPLIANCE_IP" POSTFIX_DIR="$POSTFIX_DIR" \
    "$LAB_PY" "$HERE/smtp_e2e.py" "$@"; }

body() {
    lab_up "$LAB_ID_WANTED"
    lab_backend_postfix_start || fail "postfix did not start"
    lab_dataplane_start "$PMD" --app smtp --mbufs 32767 || fail "dataplane did not start"
    lab_control_config
    # A domain whose backend accepts connections and never speaks (started below).
    printf 'domain slow.example.com {\n    backend %s port 2527\n}\n' "$BACKEND_IP" >>"$CONTROL_CONF"
    echo @slow.example.com >>"$LAB_RUN_DIR/recipients"
    lab_control_start || fail "control daemon did not start"
    lab_wait_synced 10 || fail "dataplane not in sync"
    local rc=0
    e2e main || rc=1

    # Early talker: a greeting delay, then back to none.
    sed -i 's/greeting-delay .*/greeting-delay 1s/' "$CONTROL_CONF"
    $NDRCTL reload >/dev/null && lab_wait_synced 5 || fail "reload with a greeting delay"
    e2e early-talker || rc=1
    sed -i 's/greeting-delay .*/greeting-delay 0s/' "$CONTROL_CONF"
    $NDRCTL reload >/dev/null && lab_wait_synced 5 || fail "reload without a greeting delay"

    $NDRCTL block add 198.18.1.6 >/dev/null && lab_wait_synced 5 || fail "ndrctl block add"
    $NDRCTL block list | grep -q '^198.18.1.6/32  ndrctl' || { echo "FAIL block list"; rc=1; }
    e2e blocked || rc=1
    $NDRCTL block del 198.18.1.6/32 >/dev/null && lab_wait_synced 5 || fail "ndrctl block del"
    e2e unblocked || rc=1

    # Integrity guard: a source that suddenly loses most addresses is held, unknowns get 450.
    local rcpts=$LAB_RUN_DIR/recipients
    cp "$rcpts" "$rcpts.orig"
    for i in $(seq 40); do echo "extra$i@example.com"; done >>"$rcpts"
    $NDRCTL dir sync >/dev/null && lab_wait_synced 5 || fail "dir sync of 40 more"
    cp "$rcpts.orig" "$rcpts"
    $NDRCTL dir sync | grep -q '^held:' || { echo "FAIL the guard did not hold a shrink of 40"; rc=1; }
    sleep 1.5
    e2e guard-held || rc=1
    $NDRCTL dir accept >/dev/null || { echo "FAIL dir accept"; rc=1; }
    lab_wait_synced 5
    sleep 1.5
    e2e guard-cleared || rc=1

    # Watch the wire toward the backend while the smuggling sequences go through.
    rm -f "$LAB_RUN_DIR/stream.stop"
    ip netns exec "$BACKEND_NETNS" "$LAB_PY" "$HERE/stream_check.py" "$BACKEND_IF" \
        "$LAB_RUN_DIR/stream.stop" 120 >"$LAB_RUN_DIR/stream.out" 2>&1 &
    local watcher=$!
    sleep 0.5
    e2e smuggle-reject || rc=1
    sed -i 's/^bare-newline .*//; $a bare-newline normalize' "$CONTROL_CONF"
    $NDRCTL reload >/dev/null && lab_wait_synced 5 || fail "reload with bare-newline normalize"
    e2e smuggle-normalize || rc=1
    touch "$LAB_RUN_DIR/stream.stop"
    wait "$watcher" || rc=1
    sed 's/^/     /; s/^     ok  /ok   /; s/^     FAIL/FAIL/' "$LAB_RUN_DIR/stream.out"
    sed -i 's/^bare-newline .*//' "$CONTROL_CONF"
    $NDRCTL reload >/dev/null && lab_wait_synced 5 || fail "reload back to bare-newline reject"

    # A backend that accepts the connection and never speaks.
    ip netns exec "$BACKEND_NETNS" "$LAB_PY" -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("'"$BACKEND_IP"'", 2527)); s.listen(16)
conns = []
end = time.time() + 120
s.settimeout(1)
while time.time() < end:
    try:
        conns.append(s.accept()[0])
    except socket.timeout:
        pass
' &
    sleep 0.5
    # A short backend timeout for this check only (the default, 30 s, would make it slow).
    sed -i 's/^    greeting-delay .*/&\n    timeout backend 3s/' "$CONTROL_CONF"
    $NDRCTL reload >/dev/null && lab_wait_synced 5 || fail "reload with timeout backend 3s"
    e2e backend-slow || rc=1
    sed -i '/^    timeout backend 3s$/d' "$CONTROL_CONF"
    $NDRCTL reload >/dev/null && lab_wait_synced 5 || fail "reload back to the default timeout"

    e2e harvest || rc=1

    # Failover: a backend that refuses first, the real one second.
    local before after
    before=$($NDRCTL stats | awk '$1 == "proxy_backend_failover" {print $2}')
    sed -i "0,/    backend $BACKEND_IP port 25/s//    backend $BACKEND_IP port 2599\\n    backend $BACKEND_IP port 25/" "$CONTROL_CONF"
    $NDRCTL reload >/dev/null && lab_wait_synced 5 || fail "reload with two backends"
    ip netns exec "$CLIENT_NETNS" swaks --server "$APPLIANCE_IP" --to alice@example.com \
        --timeout 20 >/dev/null 2>&1 && echo "ok   failover: delivered through the second backend" ||
        { echo "FAIL failover: not delivered"; rc=1; }
    after=$($NDRCTL stats | awk '$1 == "proxy_backend_failover" {print $2}')
    [ "$after" -gt "$before" ] || { echo "FAIL failover: the refusing backend was not tried"; rc=1; }

    # 1,000 concurrent pipelining sessions from 16 client addresses into smtp-sink (Postfix's
    # smtpd would need a process per session): every one answered right, every message there.
    lab_backend_sink_start 2526 || fail "smtp-sink did not start"
    sed -i "s/    backend $BACKEND_IP port 2599/    backend $BACKEND_IP port 2526/" "$CONTROL_CONF"
    sed -i "0,/    backend $BACKEND_IP port 25\$/{//d}" "$CONTROL_CONF"
    sed -i 's/connections-per-ip .*/connections-per-ip 100/' "$CONTROL_CONF"
    $NDRCTL reload >/dev/null && lab_wait_synced 5 || fail "reload toward smtp-sink"
    load_run() { # load_run N: prints the summary line; the tag is its last word
        ip netns exec "$CLIENT_NETNS" "$LAB_PY" "$HERE/smtp_load.py" "$APPLIANCE_IP" "$1" \
            "$LAB_EXT_NET" 5 20
    }
    sink_count() { grep -rl "X-Test-Id: $1-" "$SINK_DIR" 2>/dev/null | wc -l; }
    local out tag n
    out=$(load_run 1000) && echo "ok   $out" || { echo "FAIL $out"; rc=1; }
    tag=${out##* }
    tag=${tag%%[^a-z0-9]*}
    n=$(sink_count "$tag")
    [ "$n" -eq 1000 ] && echo "ok   1000 of 1000 load messages at the backend" ||
        { echo "FAIL $n of 1000 load messages at the backend"; rc=1; }

    # The control daemon killed and restarted under load: nothing dropped, directory intact.
    load_run 400 >"$LAB_RUN_DIR/load2.out" 2>&1 &
    local load=$!
    sleep 0.2
    lab_control_stop KILL
    lab_control_start || fail "control daemon did not restart"
    if wait "$load"; then
        echo "ok   daemon killed under load: $(head -n 1 "$LAB_RUN_DIR/load2.out")"
    else
        echo "FAIL daemon killed under load: $(head -n 3 "$LAB_RUN_DIR/load2.out")"
        rc=1
    fi
    lab_wait_synced 10 || { echo "FAIL not in sync after the restart"; rc=1; }
    [ "$($NDRCTL stats | awk '$1 == "directory_loaded_addresses" {print $2}')" = 9 ] &&
        echo "ok   directory intact (9 addresses) after the restart" ||
        { echo "FAIL directory not intact after the restart"; rc=1; }

    # Decision records: one JSON object per line, the unknown recipient among them.
    sleep 0.5
    "$LAB_PY" - "$LAB_RUN_DIR/decisions.log" <<'PY' || rc=1
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
want = [r for r in recs if r["rcpt"] == "nobody@example.com" and r["rule"] == "unknown_user"
        and r["reply"] == "550 5.1.1" and r["outcome"] == "reject" and r["client"] == "198.18.1.1"]
keys = {"time", "client", "helo", "sender", "rcpt", "rule", "outcome", "reply"}
ok = len(recs) > 100 and want and all(set(r) == keys for r in recs)
print("%s %d decision records, all valid JSON lines with every field; unknown recipient logged" %
      ("ok  " if ok else "FAIL", len(recs)))
sys.exit(0 if ok else 1)
PY
    # The same decisions, scraped as Prometheus metrics.
    sleep 1.2
    "$LAB_PY" - "$METRICS_URL" <<'PY' || rc=1
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
got = {(s.labels.get("rule"), s.labels.get("outcome")): s.value
       for f in text_string_to_metric_families(text) for s in f.samples
       if s.name == "ndrguard_policy_decisions_total"}
ok = got.get(("unknown_user", "reject"), 0) >= 10 and got.get(("blocklist", "reject"), 0) >= 1
print("%s /metrics: unknown_user rejects %d, blocklist rejects %d" % (
    "ok  " if ok else "FAIL", got.get(("unknown_user", "reject"), 0), got.get(("blocklist", "reject"), 0)))
sys.exit(0 if ok else 1)
PY
    # Every block the engine borrowed is back once no session is open (issue 12): the pools
    # are the leak check, as the TLS slot pool is for test-tls.
    local t=0 act=-1 blk=-1
    while [ $t -lt 150 ]; do
        act=$($NDRCTL stats | awk '$1 == "sessions_active" {print $2}')
        blk=$($NDRCTL stats | awk '$1 ~ /^smtp_mem_(line|txn|relay)_in_use$/ {n += $2} END {print n + 0}')
        [ "$act" = 0 ] && [ "$blk" = 0 ] && break
        sleep 0.2; t=$((t + 1))
    done
    if [ "$act" = 0 ] && [ "$blk" = 0 ]; then
        echo "ok   no session open, every engine block back in its pool (smtp_no_mem $($NDRCTL stats | awk '$1 == "smtp_no_mem" {print $2}'))"
    else
        echo "FAIL sessions_active $act, engine blocks still lent $blk"
        rc=1
    fi
    echo "--- ndrctl stats (non-zero)"
    $NDRCTL stats | awk '$2 != 0' | grep -E '^(smtp_|policy_|proxy_|tcp_conn)' | sed 's/^/    /'
    return $rc
}

LAB_ID_WANTED=sm$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
( body ) || exit 1
left=$(lab_leftovers "$LAB_ID_WANTED")
[ -z "$left" ] || fail "lab left behind: $left"
echo "ok   no namespace, link or process left behind"
