#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# 100,000 SYNs from random spoofed sources while a legitimate client connects and echoes:
# past --tcp-synq half-open connections the stack answers with SYN cookies (RFC 4987) and
# keeps no state, so the table stays bounded and the legitimate traffic is served.
# Usage: test-tcp-synflood.sh [af_packet|af_xdp|tap]
set -eu
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/lib/tcp.sh"

PMD=${1:-af_packet}
SYNQ=256
LEGIT=100
lab_up "tc$$$RANDOM" >/dev/null 2>&1
lab_dataplane_start "$PMD" --app echo --tcp-synq $SYNQ --tcp-time-wait 500 >/dev/null 2>&1 ||
    tcp_fail "dataplane did not start on $PMD"
ip netns exec "$CLIENT_NETNS" ping -c1 -W2 "$APPLIANCE_IP" >/dev/null || tcp_fail "no ping"
mac=$(ip -n "$CLIENT_NETNS" neigh show "$APPLIANCE_IP" | awk '{print $5}')

ip netns exec "$CLIENT_NETNS" "$PY" "$TCP_LIB_DIR/syn_flood.py" "$CLIENT_IF" "$APPLIANCE_IP" "$mac" 7 \
    "${TCP_FLOOD_SYNS:-100000}" &
flood=$!
sleep 0.5
max=0
legit_out=$(mktemp)
tcp_echo_run "$APPLIANCE_IP" 7 -n $LEGIT -p 20 -m 65536 -t 90 >"$legit_out" 2>&1 &
legit=$!
while kill -0 $flood 2>/dev/null || kill -0 $legit 2>/dev/null; do
    a=$(tcp_stat tcp_conn_active 2>/dev/null || echo 0)
    [ "$a" -gt "$max" ] && max=$a
    sleep 0.2
done
wait $flood || tcp_fail "flood generator failed"
wait $legit || tcp_fail "legitimate client during the flood: $(cat "$legit_out"); $(tcp_counters)"
rm -f "$legit_out"
syns=$(tcp_stat tcp_syn_rx)
cookies=$(tcp_stat tcp_syncookie_tx)
echo "flood: $syns SYNs seen, $cookies cookies sent, table peaked at $max"
[ "$cookies" -ge 10000 ] || tcp_fail "only $cookies SYN cookies for $syns SYNs"
[ "$max" -le $((SYNQ + 20 + 10)) ] || tcp_fail "table grew to $max with the flood (synq $SYNQ)"
tcp_expect_idle 60
echo "PASS: SYN flood on $PMD ($(tcp_counters))"
