#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# XDP blocklist benchmark (prints figures, asserts nothing), in one run:
#  1. bpf/xdp_guard under BPF_PROG_TEST_RUN on one core, 10,000 blocked /24s: packets per second
#     per core it drops (a blocked source's SYN) and passes;
#  2. the lab (af_xdp dataplane, xdp_guard steering, ndrguard-control owning the maps): the
#     same SYN flood from one source for BENCH_SECS, first blocked at XDP (ndrctl block add),
#     then with the entry removed so it reaches the dataplane: the XDP drop rate, and the
#     packets the dataplane handles per second of its own CPU time.
# The ratio printed is (1) drops per core-second over the dataplane's packets per CPU-second.
# The dataplane's figure leaves out the kernel's share of the AF_XDP path (XDP redirect, veth),
# so the ratio understates XDP's advantage. The sender shares the box's two cores.
# Usage: bench/xdp-bench.sh [BUILD_DIR]
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
export NDG_BUILD_DIR=${1:-${NDG_BUILD_DIR:-$TOP/build}}
. "$TOP/tests/lab/lab.sh"
SECS=${BENCH_SECS:-5}
BENCH=$NDG_BUILD_DIR/bench/ndrguard-xdp-bench
SRC=198.18.1.50
[ -x "$BENCH" ] || { echo "build first: ninja -C $NDG_BUILD_DIR"; exit 1; }

echo "== 1. xdp_guard, BPF_PROG_TEST_RUN, one core"
prog=$("$BENCH" prog --prefixes 10000 --repeat 5000000)
printf '%s\n' "$prog" | head -n 2
drop_pps=$(printf '%s\n' "$prog" | tail -n 1 | "$LAB_PY" -c 'import json,sys; print(int(json.load(sys.stdin)["drop_pps_per_core"]))')

LAB_ID_WANTED=xb$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
export LAB_BPFFS=/run/ndrguard/bpffs-$LAB_ID_WANTED
mkdir -p "$LAB_BPFFS"
mount -t bpf bpf "$LAB_BPFFS"

dp_cpu() { awk '{print $14 + $15}' "/proc/$DATAPLANE_PID/stat"; }
xstat() { $NDRCTL xdp | awk -v k="xdp_$1" '$1 == k {print $2}'; }

lab() {
    lab_up "$LAB_ID_WANTED" >/dev/null 2>&1
    lab_control_config
    printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$APPLIANCE_NETNS" \
        "$LAB_BUILD/control/ndrguard-control" >"$LAB_RUN_DIR/control-in-ns"
    chmod +x "$LAB_RUN_DIR/control-in-ns"
    export NDG_CONTROL=$LAB_RUN_DIR/control-in-ns
    printf 'xdp enable yes\nxdp pin-path %s\nxdp steer yes\nxdp address %s\n' "$LAB_BPFFS" \
        "$APPLIANCE_IP" >>"$CONTROL_CONF"
    lab_control_start >/dev/null
    ip -n "$APPLIANCE_NETNS" addr add "$APPLIANCE_IP/24" dev "$APPLIANCE_EXT_IF"
    export LAB_XDP_PROG=$LAB_BUILD/bpf/xdp_guard.bpf.o
    lab_dataplane_start af_xdp --app smtp >/dev/null 2>&1
    lab_wait_synced 10
    ip netns exec "$CLIENT_NETNS" ping -c1 -W2 "$APPLIANCE_IP" >/dev/null
    local mac
    mac=$(ip -n "$CLIENT_NETNS" neigh show "$APPLIANCE_IP" | awk '{print $5}')
    flood() { ip netns exec "$CLIENT_NETNS" "$BENCH" flood "$CLIENT_IF" "$mac" "$SRC" "$APPLIANCE_IP" 25 "$SECS"; }

    echo "== 2a. the flood from $SRC, blocked at XDP (${SECS}s)"
    $NDRCTL block add "$SRC/32" >/dev/null
    local d0 r0 c0 out sent el d1 r1 c1
    d0=$(xstat drop_block); sleep 0.5; r0=$(lab_stat rx_packets); c0=$(dp_cpu)
    out=$(flood); sent=${out% *}; el=${out#* }
    sleep 0.5; d1=$(xstat drop_block); r1=$(lab_stat rx_packets); c1=$(dp_cpu)
    # What the dataplane burns over the same window with nothing reaching it (idle polling).
    local idle=$((c1 - c0))
    "$LAB_PY" - "$sent" "$el" "$((d1 - d0))" "$((r1 - r0))" "$((c1 - c0))" <<'PY'
import sys
sent, el, dropped, rx, cpu = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print("sent %d SYNs in %.2f s (%.0f/s); XDP dropped %d (%.0f/s); dataplane received %d, used %.2f CPU-s"
      % (sent, el, sent / el, dropped, dropped / el, rx, cpu / 100))
PY

    echo "== 2b. the same flood reaching the dataplane (XDP entry removed, ${SECS}s)"
    $NDRCTL block del "$SRC/32" >/dev/null
    sleep 0.5; r0=$(lab_stat rx_packets); c0=$(dp_cpu); t0=$(lab_stat tcp_seg_tx)
    out=$(flood); sent=${out% *}; el=${out#* }
    sleep 0.5; r1=$(lab_stat rx_packets); c1=$(dp_cpu); t1=$(lab_stat tcp_seg_tx)
    "$LAB_PY" - "$sent" "$el" "$((r1 - r0))" "$((t1 - t0))" "$((c1 - c0))" "$drop_pps" "$idle" <<'PY'
import sys
sent, el, rx, tx, cpu, drop_pps, idle = (int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]),
                                         int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
                                         int(sys.argv[7]))
# Net of the idle polling of 2a (same window): the dataplane's most favourable figure.
cpu_s = max(cpu - idle, 1) / 100.0  # clock ticks
dp_pps = rx / cpu_s
print("sent %d SYNs in %.2f s (%.0f/s); dataplane received %d (%.0f/s), sent %d segments, %.2f CPU-s net"
      % (sent, el, sent / el, rx, rx / el, tx, cpu_s))
print("dataplane: %.0f packets per CPU-second (%.2f CPU-s net of %.2f idle-polling CPU-s)"
      % (dp_pps, cpu_s, idle / 100.0))
print("XDP blocklist: %.0f drops per core-second (BPF_PROG_TEST_RUN)" % drop_pps)
print("ratio XDP drop / dataplane, per core: %.1f x" % (drop_pps / dp_pps if dp_pps else 0))
print('{"xdp_drop_pps_per_core":%d,"dataplane_pps_per_cpu_s":%.0f,"ratio":%.2f}'
      % (drop_pps, dp_pps, drop_pps / dp_pps if dp_pps else 0))
PY
}
rc=0
( lab ) || rc=1
umount "$LAB_BPFFS" && rmdir "$LAB_BPFFS"
exit $rc
