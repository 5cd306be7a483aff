#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# TCP benchmark on the lab (prints figures, asserts nothing): connections per second and
# echo transactions per second against the dataplane's echo service (one worker lcore,
# af_packet), and the state per idle connection with BENCH_IDLE (100,000) connections held
# from four client addresses. The Linux client in the client namespace shares the box's two
# CPUs with the polling worker: on this lab the client is the limit, not the stack.
# Usage: bench/tcp-bench.sh [af_packet|af_xdp]
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/lab/lab.sh"
. "$TOP/tests/lab/lib/tcp.sh"

PMD=${1:-af_packet}
SECS=${BENCH_SECS:-5}
IDLE=${BENCH_IDLE:-100000}
CLI=$TOP/bench/tcp_bench_client.py
lab_up "tc$$$RANDOM" >/dev/null 2>&1
lab_dataplane_start "$PMD" --app echo --tcp-max-conns 131072 --tcp-max-per-src 65536 \
    --tcp-synq 4096 --tcp-time-wait 1000 >/dev/null 2>&1 || { echo "dataplane did not start"; exit 1; }

cps=$(ip netns exec "$CLIENT_NETNS" "$PY" "$CLI" conn "$APPLIANCE_IP" 7 "$SECS" 4)
echo "connections/s (connect, 1-byte echo, close; 4 client processes): $cps"
rr=$(ip netns exec "$CLIENT_NETNS" "$PY" "$CLI" rr "$APPLIANCE_IP" 7 "$SECS" 64)
echo "echo transactions/s (64-byte request/response, 64 connections): $rr"
tcp_wait_stat tcp_conn_active eq 0 30 >/dev/null || true

# Idle: four client addresses give enough ephemeral ports for 100,000 connections.
srcs=
for i in 11 12 13 14; do
    # lab_client_addrs gives the client .3-.20 already.
    ip -n "$CLIENT_NETNS" addr add "198.18.1.$i/24" dev "$CLIENT_IF" 2>/dev/null || true
    srcs=${srcs:+$srcs,}198.18.1.$i
done
ip netns exec "$CLIENT_NETNS" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
base=$(tcp_stat mbufs_in_use)
fifo=$LAB_RUN_DIR/idle.fifo
mkfifo "$fifo"
exec 3<>"$fifo"
ip netns exec "$CLIENT_NETNS" "$PY" "$CLI" idle "$APPLIANCE_IP" 7 "$IDLE" "$srcs" <"$fifo" &
idle=$!
tcp_wait_stat tcp_conn_active ge "$IDLE" 120 >/dev/null || echo "(only $(tcp_stat tcp_conn_active) connections opened)"
sleep 1
active=$(tcp_stat tcp_conn_active)
inuse=$(tcp_stat mbufs_in_use)
per=$(grep -o 'TCP: [0-9]* connections per lcore, [0-9]* bytes each + [0-9]* of tables' "$DATAPLANE_LOG")
each=$(echo "$per" | awk '{print $6}')
tbl=$(echo "$per" | awk '{print $10}')
echo "idle connections held: $active from 4 addresses; mbufs in use: $inuse (before: $base)"
echo "state per idle connection: $each bytes (struct tcp_conn) + $tbl bytes (table + per-source entries) = $((each + tbl)) bytes, no packet buffers"
kill "$idle" 2>/dev/null || true
exec 3>&-
wait "$idle" 2>/dev/null || true
