#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# variants: af_packet af_xdp
#
# The userspace TCP against Linux through the lab's impairment bridges (issue 5): a bridge
# between the client and the appliance and one between the appliance and the backend
# (tests/lab/impair/ndrguard-impair). In every run Linux clients talk to the dataplane's echo
# service (passive open) while the dataplane's own client opens connections to a Linux echo
# server in the backend namespace (active open), both under the same impairment:
#
#   run        impairment (each way, both bridges)   passive (Linux → echo)   active (→ Linux)
#   clean      none                                  1000 × 0..1 MiB          1000 × 64 KiB
#   loss1      1 % loss                              1000 × 0..1 MiB          1000 × 64 KiB
#   loss5      5 % loss                              100 × 0..256 KiB         100 × 64 KiB
#   loss20     20 % loss                             100 × 0..256 KiB         100 × 64 KiB
#   big        1 % loss                              10 × 10 MiB              10 × 1 MiB
#   reorder    25 % reordering                       200 × 0..256 KiB         200 × 64 KiB
#   dup        1 % duplication                       200 × 0..256 KiB         200 × 64 KiB
#   delay      50 ± 20 ms delay                      200 × 0..256 KiB         200 × 64 KiB
#   corrupt    0.1 % frames with a flipped bit       200 × 0..256 KiB         200 × 64 KiB
#
# Each run checks every byte echoed exactly both ways, every connection closed cleanly (no
# reset, no abort), none left in the table and no mbuf kept afterwards, and that the bridges
# really impaired (their counters); the corrupt run also that the dataplane dropped frames by
# checksum. TCP_IMPAIRED_RUNS="loss20 corrupt" picks runs; TCP_ECHO_MAX caps the sizes of the
# 1000-connection runs.
# Usage: test-tcp-impaired.sh [af_packet|af_xdp]
set -eu
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/lib/tcp.sh"

PMD=${1:-af_packet}
# af_xdp runs the loss/reorder suite (the issue's second acceptance line) with passive sizes
# up to 256 KiB at 1 %, so that both variants fit the lab's time; af_packet runs every row.
if [ "$PMD" = af_xdp ]; then
    RUNS=${TCP_IMPAIRED_RUNS:-loss1 loss5 loss20 reorder dup delay corrupt}
    MAX1=${TCP_ECHO_MAX:-262144}
else
    RUNS=${TCP_IMPAIRED_RUNS:-clean loss1 loss5 loss20 big reorder dup delay corrupt}
    MAX1=${TCP_ECHO_MAX:-1048576}
fi
MIB=1048576
# A failed run says why and shows what is stuck on both sides.
tfail() {
    tcp_diag
    tcp_fail "$@"
}
KIB256=262144

lab_up "ti$$$RANDOM" >/dev/null 2>&1
tcp_impair_bridges_up 5 >/dev/null 2>&1 || tcp_fail "impairment bridges did not start"
# The Linux peers cap their retransmission backoff at 4 s (net.ipv4.tcp_rto_max_ms, default
# 120 s). The dataplane sends SACK blocks but no timestamps, so at 20 % loss each way a Linux
# sender still meets losses of retransmissions that only its RTO repairs, and backs off on a
# few connections to minutes: that is Linux waiting, not a stall of the stack, and it would
# make one run last longer than the whole suite may. An orphan whose RTO has reached that cap
# counts as dead at once (tcp_orphan_retries() gives it 0 retries when the sysctl is 0), so
# orphans get a fixed number of retries instead. The dataplane gets the same cap
# (--tcp-rto-max): with its default 60 s, three lost resends of one segment at 20 % loss put
# the next attempt minutes away, longer than the run waits.
# The peers' sockets run CUBIC, Linux's usual default (TCP_PEER_CC, set per socket by the
# Python peers): this box defaults to BBR (v1), whose bandwidth estimate collapses to a few
# kbit/s after an RTO stall against a receiver without SACK and then paces the rest of the
# connection at that rate (seen at 1 % loss: 236 KB left at 4 kbit/s).
export TCP_PEER_CC=${TCP_PEER_CC:-cubic}
# Linux gives up on a connection once the time since the first retransmission of a loss
# episode exceeds what tcp_retries2 (tcp_orphan_retries for orphans) retransmissions would
# take with exponential backoff up to tcp_rto_max_ms (tcp_model_timeout). With the 4 s cap
# and 15 retries that is only 31 x 0.2 s + 11 x 4 s = 50 s, and at 20 % loss an episode
# can stay in loss recovery (one segment per RTO, always a retransmission in
# flight, so retrans_stamp is never cleared) longer than that while still making progress:
# Linux then drops the socket silently and the dataplane waits forever for the hole (seen as
# FIN_WAIT_2 with ooo queued, no Linux socket). 64 retries: 6.2 s + 60 x 4 s = 246 s, beyond
# the 240 s the run waits, as 15 retries are with Linux's default 120 s cap.
for ns in "$CLIENT_NETNS" "$BACKEND_NETNS"; do
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_rto_max_ms="${TCP_RTO_MAX_MS:-4000}" \
        net.ipv4.tcp_orphan_retries=64 net.ipv4.tcp_retries2=64
done
ip netns exec "$BACKEND_NETNS" "$PY" "$TCP_LIB_DIR/echo_server.py" "$BACKEND_IP" 7 &
sleep 0.3

# run NAME "IMPAIRMENT" PASSIVE_N PASSIVE_MAX ACTIVE_N ACTIVE_PAR ACTIVE_BYTES COUNTER
#   COUNTER: the bridge counter that must have moved (dropped, reordered, ...), or "-".
run() {
    local name=$1 imp=$2 pn=$3 pmax=$4 an=$5 apar=$6 abytes=$7 ctr=$8 pmin=${9:-0} t0=$SECONDS out r
    local -a opts
    read -r -a opts <<<"$imp"
    lab_impair_set "${opts[@]}" 2>/dev/null || tfail "$name: client-side bridge refused $imp"
    tcp_impair_backend_set "${opts[@]}" || tfail "$name: backend-side bridge refused $imp"
    lab_dataplane_start "$PMD" --app echo --app "client:$BACKEND_IP:7:$an:$apar:$abytes" \
        --tcp-time-wait 500 --tcp-rto-max "${TCP_RTO_MAX_MS:-4000}" >/dev/null 2>&1 ||
        tfail "$name: dataplane did not start on $PMD"
    out=$(tcp_echo_run "$APPLIANCE_IP" 7 -n "$pn" -M "$pmin" -m "$pmax" -t "${TCP_IMPAIRED_TIMEOUT:-240}") ||
        tfail "$name ($imp): $out; $(tcp_counters)"
    r=$(tcp_wait_stat app_client_ok eq "$an" 240) ||
        tfail "$name ($imp): active open $r, failed $(tcp_stat app_client_fail); $(tcp_counters)"
    [ "$(tcp_stat app_client_fail)" -eq 0 ] || tfail "$name: active open failures; $(tcp_counters)"
    # Orphaned closes may still be retransmitting their last FIN into the loss.
    tcp_expect_idle 90
    # A reset from Linux may only meet a TIME-WAIT (its answer to a late segment): that closes
    # it cleanly. Any other way out of a connection counts as aborted.
    [ "$(tcp_stat tcp_conn_aborted)" -eq 0 ] || tfail "$name: aborted connections: $(tcp_counters)"
    if [ "$ctr" != - ]; then
        [ "$(tcp_impair_sum "$ctr")" -gt 0 ] || tfail "$name: the bridges did not count $ctr"
    fi
    if [ "$name" = corrupt ]; then
        [ "$(tcp_stat drop_tcp_bad_cksum)" -ge 1 ] ||
            tfail "corrupt: no frame dropped by checksum ($(tcp_counters))"
    fi
    echo "ok   $name ($imp) $((SECONDS - t0))s: passive ${out#echo-client: }; active $an × $abytes B exact;" \
        "rto $(tcp_stat tcp_rto) fast_rxmt $(tcp_stat tcp_fast_rxmt) ooo $(tcp_stat tcp_ooo_rx)" \
        "bad_cksum $(tcp_stat drop_tcp_bad_cksum) $ctr $( [ "$ctr" = - ] || tcp_impair_sum "$ctr")"
    lab_dataplane_stop >/dev/null 2>&1 || tfail "$name: dataplane did not stop cleanly"
    lab_impair_set 2>/dev/null || true
    tcp_impair_backend_set || true
}

for name in $RUNS; do
    case $name in
    clean) run clean "" 1000 "$MAX1" 1000 100 65536 - ;;
    loss1) run loss1 "--loss 1" 1000 "$MAX1" 1000 100 65536 dropped ;;
    loss5) run loss5 "--loss 5" 100 "$KIB256" 100 50 65536 dropped ;;
    loss20) run loss20 "--loss 20" 100 "$KIB256" 100 50 65536 dropped ;;
    big) run big "--loss 1" 10 $((10 * MIB)) 10 10 "$MIB" dropped $((10 * MIB)) ;;
    reorder) run reorder "--reorder 25" 200 "$KIB256" 200 50 65536 reordered ;;
    dup) run dup "--dup 1" 200 "$KIB256" 200 50 65536 duplicated ;;
    delay) run delay "--delay 50 --jitter 20" 200 "$KIB256" 200 50 65536 delayed ;;
    corrupt) run corrupt "--corrupt 0.1" 200 "$KIB256" 200 50 65536 corrupted ;;
    *) tcp_fail "unknown run $name" ;;
    esac
done
echo "PASS: TCP through the impairment bridges on $PMD"
