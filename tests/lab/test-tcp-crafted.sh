#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# variants: af_packet af_xdp
#
# Crafted segments (scapy) against the echo service: RST and SYN in and out of the window
# (RFC 5961 challenge ACKs), exact RST, bad checksum, old duplicates, overlapping and
# out-of-order segments, truncated options, window scale and zero-window probing.
# Usage: test-tcp-crafted.sh [af_packet|af_xdp|tap]
set -eu
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/lib/tcp.sh"

PMD=${1:-af_packet}
lab_up "tc$$$RANDOM" >/dev/null 2>&1
lab_dataplane_start "$PMD" --app echo --tcp-time-wait 500 >/dev/null 2>&1 ||
    tcp_fail "dataplane did not start on $PMD"
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
tcp_expect_idle 90
echo "PASS: crafted segments on $PMD ($(tcp_counters))"
