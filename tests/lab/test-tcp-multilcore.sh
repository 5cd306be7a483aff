#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Two worker lcores on ports without RSS (af_packet fanout, two queue pairs): a flow may
# land on either queue, so the stack hands it to its owner over a ring; active opens pick
# source ports that the owner's hash claims, and ARP answers reach every lcore. Passive
# echo from Linux clients and active opens to a Linux echo server, all bytes exact.
# Usage: test-tcp-multilcore.sh
set -eu
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/lib/tcp.sh"

export LAB_LCORES=0@0,1@0,2@1 LAB_QPAIRS=2
lab_up "tc$$$RANDOM" >/dev/null 2>&1
ip netns exec "$BACKEND_NETNS" "$PY" "$TCP_LIB_DIR/echo_server.py" "$BACKEND_IP" 7 &
sleep 0.5
# Every lcore runs the client: 2 x 200 active opens.
lab_dataplane_start af_packet --app echo --app "client:$BACKEND_IP:7:200:40:20000" \
    --tcp-time-wait 500 >/dev/null 2>&1 || tcp_fail "dataplane did not start with 2 workers"
out=$(tcp_echo_run "$APPLIANCE_IP" 7 -n 300 -m 100000 -t 90) || tcp_fail "$out; $(tcp_counters)"
echo "$out"
r=$(tcp_wait_stat app_client_ok eq 400 60) || tcp_fail "active opens: $r; $(tcp_counters)"
[ "$(tcp_stat tcp_handoff)" -gt 0 ] || tcp_fail "no frame was handed between lcores"
[ "$(tcp_stat tcp_conn_aborted)" -eq 0 ] || tcp_fail "aborted connections: $(tcp_counters)"
tcp_expect_idle 20
echo "PASS: two lcores without RSS ($(tcp_counters))"
