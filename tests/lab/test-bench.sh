#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# ndrguard-bench against real peers, short and bounded in count (figures are printed, never
# judged): (1) the appliance on PMD $1 with ndrguard-bench's sink as its backend, driven with
# bench/scenarios/lab-mix.conf from 16 client addresses: every reply as the scenario expects,
# every session of the count done, every accepted legit message intact at the sink, and the
# count of each kind equal to the dataplane's own counters; (2) a scenario with a deliberately
# wrong expectation reports one mismatch per session; (3) the appliance with STARTTLS (the lab's
# certificates after 'ndrctl reload'): tls-legit-1k.conf, every session a verified full
# handshake and its message intact at the sink; (4) Postfix's smtp-sink driven directly in the
# open loop. Ends by checking the lab left nothing behind.
# variants: af_packet
set -u
PMD=${1:-af_packet}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$HERE/lab.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
BENCH=${NDG_BUILD_DIR:-$LAB_TOP/build}/bench/ndrguard-bench
SCN=$LAB_TOP/bench/scenarios
COUNT=600

# jget FILE EXPR: a value from the JSON last line of FILE (EXPR in Python, 'j' is the object).
jget() {
    "$LAB_PY" -c 'import json,sys; j=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(eval(sys.argv[2]))' "$1" "$2"
}

check() { # check DESCRIPTION PYTHON-CONDITION FILE
    if [ "$(jget "$3" "$2")" = True ]; then
        echo "ok   $1"
    else
        echo "FAIL $1 ($2)"
        rc=1
    fi
}

body() {
    [ -x "$BENCH" ] || fail "no ndrguard-bench at $BENCH"
    lab_up "$LAB_ID_WANTED"
    local stats=$LAB_RUN_DIR/sink.stats out=$LAB_RUN_DIR/bench.out
    ip netns exec "$BACKEND_NETNS" "$BENCH" sink --listen "$BACKEND_IP:2526" --stats "$stats" \
        >"$LAB_RUN_DIR/benchsink.log" 2>&1 &
    BSINK_PID=$!
    for _ in $(seq 50); do [ -s "$stats" ] && break; sleep 0.1; done
    [ -s "$stats" ] || fail "ndrguard-bench sink did not start"
    lab_dataplane_start "$PMD" --app smtp --mbufs 32767 || fail "dataplane did not start"
    lab_control_config
    sed -i "s/ port 25\$/ port 2526/" "$CONTROL_CONF"
    sed -i 's/connections-per-ip .*/connections-per-ip 1000/' "$CONTROL_CONF"
    sed -i 's/^harvest budget .*/harvest budget 1000000 per 1m/' "$CONTROL_CONF"
    lab_control_start || fail "control daemon did not start"
    lab_wait_synced 10 || fail "dataplane not in sync"
    rc=0

    echo "--- lab-mix.conf, $COUNT sessions, 50 concurrent, sources $LAB_EXT_NET.5-20"
    timeout 120 ip netns exec "$CLIENT_NETNS" "$BENCH" smtp --server "$APPLIANCE_IP:25" \
        --scenario "$SCN/lab-mix.conf" --count $COUNT --concurrency 50 --timeout 20 \
        --source "$LAB_EXT_NET.5-$LAB_EXT_NET.20" --sink-stats "$stats" \
        --server-pid "$DATAPLANE_PID" >"$out" 2>"$out.err"
    sed 's/^/    /' "$out" | head -n -1
    sed 's/^/    stderr: /' "$out.err" | head -n 10
    [ -s "$out" ] || fail "no output from ndrguard-bench"
    check "$COUNT sessions done, each kind drawn" \
        "j['sessions'] == $COUNT and all(k['sessions'] > 0 and k['sessions'] == k['started'] for k in j['kinds'].values())" "$out"
    check "zero mismatches, zero errors" "j['mismatches'] == 0 and j['errors'] == 0" "$out"
    check "every accepted legit message intact at the sink (lost 0, corrupt 0)" \
        "j['legit_accepted'] > 0 and j['lost'] == 0 and j['corrupt'] == 0 and j['sink_ok'] == j['legit_accepted']" "$out"
    check "one greeting and one goodbye per session" \
        "j['replies']['220'] == $COUNT and j['replies'].get('221', 0) + j['replies'].get('421', 0) >= $COUNT" "$out"
    check "latency of every command measured" \
        "all(j['latency_us'][v]['count'] > 0 and j['latency_us'][v]['p50'] > 0 for v in ('connect','ehlo','mail','rcpt','data','dot','quit'))" "$out"
    # The appliance's own counters agree with the generator's.
    local st relay unknown batv never multi
    st=$($NDRCTL stats)
    relay=$(awk '$1 == "policy_relay_denied_reject" {print $2}' <<<"$st")
    unknown=$(awk '$1 == "policy_unknown_user_reject" {print $2}' <<<"$st")
    batv=$(awk '$1 == "policy_batv_invalid_reject" {print $2}' <<<"$st")
    never=$(awk '$1 == "policy_never_bounce_reject" {print $2}' <<<"$st")
    multi=$(awk '$1 == "policy_null_multi_rcpt_reject" {print $2}' <<<"$st")
    check "dataplane relay denials (${relay:-none}) = relay sessions" \
        "j['kinds']['relay']['sessions'] == int('${relay:--1}')" "$out"
    check "dataplane BATV rejects (${batv:-none}) = bounces with a bad or no tag" \
        "int('${batv:--1}') == j['kinds']['bounce-badbatv']['sessions'] + j['kinds']['bounce-untagged']['sessions']" "$out"
    check "dataplane never-bounce (${never:-none}) and multi-recipient bounce (${multi:-none}) rejects = their sessions" \
        "int('${never:--1}') == j['kinds']['bounce-untagged']['sessions'] and int('${multi:--1}') == j['kinds']['bounce-multi']['sessions']" "$out"
    # Every 550 the generator saw is one of the dataplane's rejects: unknown users, BATV,
    # never-bounce, multi-recipient bounces, and the four relay-bypass forms per relay session.
    check "dataplane unknown-user rejects (${unknown:-none}) account for the rest of the 550s" \
        "j['replies']['550'] == int('${unknown:--1}') + int('${batv:--1}') + int('${never:--1}') + int('${multi:--1}') + 4 * j['kinds']['relay']['sessions'] and int('${unknown:--1}') >= j['kinds']['backscatter']['sessions'] + 3 * j['kinds']['forged']['sessions']" "$out"

    echo "--- a deliberately wrong expectation (RCPT to an unknown user expected to pass)"
    sed 's/RCPT TO:<{rand}@example.com>" 550$/RCPT TO:<{rand}@example.com>" 250/' \
        "$SCN/attack.conf" >"$LAB_RUN_DIR/wrong.conf"
    timeout 60 ip netns exec "$CLIENT_NETNS" "$BENCH" smtp --server "$APPLIANCE_IP:25" \
        --scenario "$LAB_RUN_DIR/wrong.conf" --count 100 --concurrency 10 --timeout 20 \
        --source "$LAB_EXT_NET.5-$LAB_EXT_NET.20" --quiet >"$out" 2>"$out.err"
    head -n 3 "$out.err" | sed 's/^/    stderr: /'
    check "100 sessions, 100 mismatches reported, no errors" \
        "j['sessions'] == 100 and j['mismatches'] == 100 and j['ok_sessions'] == 0 and j['errors'] == 0" "$out"
    grep -q "expected 250, got '550 5.1.1" "$out.err" || { echo "FAIL mismatch line not on stderr"; rc=1; }

    echo "--- STARTTLS: tls-legit-1k.conf, 200 sessions, 20 concurrent, verified against the lab CA"
    lab_tls_certs || fail "lab_tls_certs"
    printf 'tls source-rate 100000\ntls source-burst 100000\n' >>"$CONTROL_CONF"
    $NDRCTL reload >/dev/null && lab_wait_synced 10 || fail "reload with the certificates"
    timeout 120 ip netns exec "$CLIENT_NETNS" "$BENCH" smtp --server "$APPLIANCE_IP:25" \
        --scenario "$SCN/tls-legit-1k.conf" --count 200 --concurrency 20 --timeout 20 \
        --source "$LAB_EXT_NET.5-$LAB_EXT_NET.20" --sink-stats "$stats" --tls-ca "$TLS_CA" \
        >"$out" 2>"$out.err"
    sed 's/^/    /' "$out" | head -n -1
    sed 's/^/    stderr: /' "$out.err" | head -n 10
    check "200 sessions, 200 verified handshakes, none failed, zero mismatches and errors" \
        "j['sessions'] == 200 and j['tls_handshakes'] == 200 and j['tls_failures'] == 0 and j['mismatches'] == 0 and j['errors'] == 0" "$out"
    check "TLS 1.3 negotiated, handshake and starttls latency measured" \
        "j['tls'].startswith('TLSv1.3 ') and j['latency_us']['tls']['count'] == 200 and j['latency_us']['starttls']['count'] == 200" "$out"
    check "every message accepted inside TLS arrived intact at the sink" \
        "j['messages'] == 200 and j['lost'] == 0 and j['corrupt'] == 0 and j['sink_ok'] == j['legit_accepted']" "$out"
    local hs
    hs=$($NDRCTL stats | awk '$1 == "tls_handshakes_tls1_3" {print $2}')
    check "the dataplane counted the 200 TLS 1.3 handshakes (tls_handshakes_tls1_3 ${hs:-none})" \
        "int('${hs:--1}') == 200" "$out"

    echo "--- Postfix's smtp-sink, open loop: 400 sessions at 200/s, legit-1k.conf"
    lab_backend_sink_start 2527 || fail "smtp-sink did not start"
    timeout 60 ip netns exec "$BACKEND_NETNS" "$BENCH" smtp --server "$BACKEND_IP:2527" \
        --scenario "$SCN/legit-1k.conf" --rate 200 --count 400 --timeout 20 \
        --server-pid "$SINK_PID" >"$out" 2>"$out.err"
    sed 's/^/    /' "$out" | head -n -1
    check "400 sessions, 400 messages, zero mismatches and errors" \
        "j['sessions'] == 400 and j['messages'] == 400 and j['mismatches'] == 0 and j['errors'] == 0 and j['mode'] == 'open'" "$out"
    return $rc
}

LAB_ID_WANTED=bn$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
( body ) || exit 1
left=$(lab_leftovers "$LAB_ID_WANTED")
[ -z "$left" ] || fail "lab left behind: $left"
echo "ok   no namespace, link or process left behind"
