#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Memory per idle SMTP connection on the lab (prints figures, asserts nothing; issue 12's
# "<= 1 KiB per idle plaintext connection"). BENCH_IDLE (default 50,000) connections from
# four client addresses are greeted, say EHLO and then stay idle; the dataplane's own report
# is read back: the element sizes its pools really use (rte_mempool header + object + trailer,
# padding included) times the elements in use, for the sessions and for each kind of block
# the SMTP engine borrows (command line, transaction, backend), divided by the connections,
# plus the TCP state per connection it logs at start. Also printed: what the pools reserve per
# session slot (with --smtp-busy, BENCH_BUSY, default the dataplane's) and smtp_no_mem.
# Bounded: the client gives up after BENCH_SECS (default 150) seconds.
# Usage: bench/smtp-idle-bench.sh [af_packet|af_xdp]   (as root, NDG_BUILD_DIR=build dir)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/lab/lab.sh"
. "$TOP/tests/lab/lib/tcp.sh"

PMD=${1:-af_packet}
IDLE=${BENCH_IDLE:-50000}
SECS=${BENCH_SECS:-150}
SESS=$((IDLE + IDLE / 8 + 1024))
CLI=$TOP/bench/smtp_idle_client.py
busy=
[ -n "${BENCH_BUSY:-}" ] && busy="--smtp-busy $BENCH_BUSY"
lab_up "si$$$RANDOM" >/dev/null 2>&1
# shellcheck disable=SC2086
lab_dataplane_start "$PMD" --app "smtp:25:$SESS" --tcp-max-conns $((SESS + 4096)) \
    --tcp-max-per-src 65536 --tcp-synq 4096 $busy >/dev/null 2>&1 ||
    { echo "dataplane did not start"; sed 's/^/  | /' "$DATAPLANE_LOG" 2>/dev/null | tail -5; exit 1; }
lab_control_config
sed -i 's/connections-per-ip .*/connections-per-ip 1000000/' "$CONTROL_CONF"
lab_control_start >/dev/null 2>&1 || { echo "control did not start"; exit 1; }
lab_wait_synced 10 >/dev/null 2>&1 || { echo "directory not synced"; exit 1; }

stat() { $NDRCTL stats | awk -v k="$1" '$1 == k {print $2}'; }

srcs=
for i in 11 12 13 14; do
    ip -n "$CLIENT_NETNS" addr add "198.18.1.$i/24" dev "$CLIENT_IF" 2>/dev/null || true
    srcs=${srcs:+$srcs,}198.18.1.$i
done
ip netns exec "$CLIENT_NETNS" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
fifo=$LAB_RUN_DIR/idle.fifo
out=$LAB_RUN_DIR/idle.out
mkfifo "$fifo"
exec 3<>"$fifo"
ip netns exec "$CLIENT_NETNS" "$PY" "$CLI" "$APPLIANCE_IP" 25 "$IDLE" "$srcs" "$SECS" \
    <"$fifo" >"$out" 2>&1 &
client=$!
t=0
until grep -q '^idle ' "$out" 2>/dev/null; do
    [ $t -ge $(((SECS + 30) * 10)) ] && break
    kill -0 "$client" 2>/dev/null || break
    sleep 0.1
    t=$((t + 1))
done
sleep 1
echo "client: $(cat "$out" 2>/dev/null | tr '\n' ' ')"

active=$(stat sessions_active)
tcp_active=$(tcp_stat tcp_conn_active)
s_bytes=$(stat smtp_mem_session_bytes)
s_used=$(stat smtp_mem_session_in_use)
s_size=$(stat smtp_mem_session_size)
held=$((s_bytes * s_used))
reserved=$((s_bytes * s_size))
blocks=
for k in line txn relay; do
    b=$(stat "smtp_mem_${k}_bytes")
    u=$(stat "smtp_mem_${k}_in_use")
    n=$(stat "smtp_mem_${k}_size")
    held=$((held + b * u))
    reserved=$((reserved + b * n))
    blocks="$blocks $k ${b} B x $u in use (of $n);"
done
per=$(grep -o 'TCP: [0-9]* connections per lcore, [0-9]* bytes each + [0-9]* of tables' "$DATAPLANE_LOG")
tcp_each=$(echo "$per" | awk '{print $6}')
tcp_tbl=$(echo "$per" | awk '{print $10}')
tcp=$((tcp_each + tcp_tbl))
echo "dataplane: $(grep -o 'smtp: lcore [0-9]*: [0-9]* sessions, .*' "$DATAPLANE_LOG" | head -1)"
echo "idle SMTP sessions: $active (TCP connections: $tcp_active), --app smtp:25:$SESS"
echo "pools: session $s_bytes B x $s_used in use (of $s_size);$blocks"
if [ "${active:-0}" -gt 0 ]; then
    eng=$((held / active))
    echo "SMTP state per idle connection: $eng bytes (pool elements in use / sessions)"
    echo "TCP state per connection: $tcp_each bytes (struct tcp_conn) + $tcp_tbl bytes (tables)"
    echo "total per idle connection: $((eng + tcp)) bytes (target <= 1024)"
fi
echo "pools reserve per session slot: $((reserved / s_size)) bytes + TCP $tcp bytes"
echo "smtp_no_mem: $(stat smtp_no_mem); proxy_refused_no_session: $(stat proxy_refused_no_session)"
# Closing the fifo ends the client (it stops its workers); then the lab comes down.
exec 3>&-
for _ in $(seq 50); do kill -0 "$client" 2>/dev/null || break; sleep 0.1; done
kill "$client" 2>/dev/null || true
wait "$client" 2>/dev/null || true
