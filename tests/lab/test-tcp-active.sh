#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Active open: the dataplane's built-in client resolves the backend by ARP, opens 1000
# connections (100 at once) to a Linux echo server in the backend namespace, sends 64 KiB
# on each and checks every byte comes back; then the same with 2 % loss on the backend's
# link. The table must be empty afterwards.
# Usage: test-tcp-active.sh [af_packet|af_xdp|tap]
set -eu
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/lib/tcp.sh"

PMD=${1:-af_packet}
N=${TCP_ACTIVE_CONNS:-1000}
lab_up "tc$$$RANDOM" >/dev/null 2>&1
ip netns exec "$BACKEND_NETNS" "$PY" "$TCP_LIB_DIR/echo_server.py" "$BACKEND_IP" 7 &
sleep 0.5
lab_dataplane_start "$PMD" --app "client:$BACKEND_IP:7:$N:100:65536" --tcp-time-wait 500 \
    >/dev/null 2>&1 || tcp_fail "dataplane did not start on $PMD"
r=$(tcp_wait_stat app_client_ok eq "$N" 120) ||
    tcp_fail "active open: $r, failed $(tcp_stat app_client_fail); $(tcp_counters)"
[ "$(tcp_stat app_client_fail)" -eq 0 ] || tcp_fail "client failures: $(tcp_counters)"
[ "$(tcp_stat arp_request_tx)" -ge 1 ] || tcp_fail "backend was never resolved by ARP"
tcp_expect_idle 20
echo "no loss: $N active opens echoed exactly"

# Again through 2 % loss on the backend's own link (both ways).
lab_dataplane_stop >/dev/null 2>&1
ip netns exec "$BACKEND_NETNS" nft -f - <<NFT
table inet ndgimp {
    chain out { type filter hook output priority 0; policy accept; oifname "$BACKEND_IF" numgen random mod 100 < 2 drop; }
    chain in { type filter hook input priority 0; policy accept; iifname "$BACKEND_IF" numgen random mod 100 < 2 drop; }
}
NFT
lab_dataplane_start "$PMD" --app "client:$BACKEND_IP:7:200:50:65536" --tcp-time-wait 500 \
    >/dev/null 2>&1 || tcp_fail "dataplane did not restart on $PMD"
r=$(tcp_wait_stat app_client_ok eq 200 120) ||
    tcp_fail "active open at 2 % loss: $r, failed $(tcp_stat app_client_fail); $(tcp_counters)"
tcp_expect_idle 60
echo "PASS: active open on $PMD ($(tcp_counters))"
