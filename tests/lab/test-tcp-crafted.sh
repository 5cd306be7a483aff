#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# variants: af_packet af_xdp
#
# Crafted segments (scapy) against the echo service (and the discard service once): RST and SYN in and out of the window
# (RFC 5961 challenge ACKs), exact RST, bad checksum, old duplicates, overlapping and
# out-of-order segments, truncated options, window scale and zero-window probing; ICMP errors
# that matter to TCP: fragmentation needed (the MSS drops and what was in flight is resent
# smaller), port and host unreachable for established connections (soft: they go on) and
# for active opens (the connection fails at once instead of retrying its SYN), and an ICMP
# quoting a sequence number not in flight (ignored, RFC 5927).
# Usage: test-tcp-crafted.sh [af_packet|af_xdp|tap]
set -eu
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/lib/tcp.sh"

PMD=${1:-af_packet}
ICMP_N=20
lab_up "tc$$$RANDOM" >/dev/null 2>&1
# The backend answers SYNs to port 9 with ICMP port unreachable and host unreachable in turn,
# every time (no per-destination rate limit on its ICMP errors).
ip netns exec "$BACKEND_NETNS" sysctl -qw net.ipv4.icmp_ratelimit=0
ip netns exec "$BACKEND_NETNS" nft -f - <<NFT || tcp_fail "nftables reject rules"
table ip ndgicmp {
    chain in {
        type filter hook input priority 0; policy accept;
        tcp dport 9 numgen inc mod 2 0 reject with icmp type port-unreachable
        tcp dport 9 reject with icmp type host-unreachable
    }
}
NFT
lab_dataplane_start "$PMD" --app echo --app discard --app "client:$BACKEND_IP:9:$ICMP_N:5:1000" \
    --tcp-time-wait 500 >/dev/null 2>&1 || tcp_fail "dataplane did not start on $PMD"
# Every active open ends on the ICMP error: no SYN was ever retransmitted.
r=$(tcp_wait_stat app_client_fail eq $ICMP_N 15) || tcp_fail "active opens against ICMP: $r; $(tcp_counters)"
[ "$(tcp_stat app_client_ok)" -eq 0 ] || tcp_fail "an active open succeeded against a reject"
[ "$(tcp_stat tcp_rto)" -eq 0 ] || tcp_fail "SYNs were retransmitted despite the ICMP errors: $(tcp_counters)"
[ "$(tcp_stat tcp_icmp)" -ge $ICMP_N ] || tcp_fail "ICMP errors not counted: $(tcp_counters)"
[ "$(tcp_stat arp_request_tx)" -ge 1 ] || tcp_fail "the backend was never resolved by ARP"
echo "  ok active-open-icmp-unreachable ($ICMP_N connections failed at once, port and host unreachable)"
icmp0=$(tcp_stat tcp_icmp)
# The dataplane's MAC: ask by ARP from the client (the kernel resolves it for us).
ip netns exec "$CLIENT_NETNS" ping -c1 -W2 "$APPLIANCE_IP" >/dev/null || tcp_fail "no ping"
mac=$(ip -n "$CLIENT_NETNS" neigh show "$APPLIANCE_IP" | awk '{print $5}')
out=$(ip netns exec "$CLIENT_NETNS" "$PY" "$TCP_LIB_DIR/tcp_crafted.py" "$CLIENT_IF" 198.18.1.50 \
    "$APPLIANCE_IP" "$mac" 2>&1) || tcp_fail "$(echo "$out" | grep FAIL | tr '\n' ';') $(tcp_counters)"
echo "$out" | sed 's/^/  /'
[ "$(tcp_stat drop_tcp_bad_cksum)" -ge 1 ] || tcp_fail "bad checksum not counted"
[ "$(tcp_stat tcp_challenge_ack)" -ge 2 ] || tcp_fail "challenge ACKs not counted"
[ "$(tcp_stat tcp_bad_options)" -ge 1 ] || tcp_fail "truncated options not counted"
[ "$(tcp_stat tcp_window_probe)" -ge 1 ] || tcp_fail "no zero-window probe counted"
[ "$(tcp_stat tcp_icmp)" -ge $((icmp0 + 3)) ] || tcp_fail "ICMP errors for established connections not counted"
[ "$(tcp_stat tcp_icmp_ignored)" -ge 1 ] || tcp_fail "ICMP quoting a sequence not in flight not ignored"
tcp_expect_idle 90
# Discard (RFC 863) swallows everything and closes: nothing comes back.
out=$(ip netns exec "$CLIENT_NETNS" "$PY" - "$APPLIANCE_IP" <<'PYEOF'
import socket, sys
s = socket.create_connection((sys.argv[1], 9), timeout=10)
s.sendall(b"x" * 300000)
s.shutdown(socket.SHUT_WR)
print(len(s.recv(100)))
PYEOF
) || tcp_fail "discard: client error"
[ "$out" = 0 ] || tcp_fail "discard sent data back"
r=$(tcp_wait_stat app_discard_bytes eq 300000 5) || tcp_fail "discard: $r"
echo "  ok discard-swallows"
tcp_expect_idle 30
echo "PASS: crafted segments on $PMD ($(tcp_counters))"
