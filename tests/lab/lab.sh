# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# The lab: network namespaces for a client, the appliance and a backend, joined by veth pairs,
# addresses from 198.18.0.0/15 only (RFC 2544). Every name carries a per-run id so two labs can
# coexist; lab_up registers a trap that removes everything the lab made, also when a test fails.
# Used by the lab tests, firmware-config/quickstart and the bench.
#
#   client ns                     appliance ns (DPDK owns both ports)       backend ns
#   CLIENT_IF 198.18.1.1/24 ── APPLIANCE_EXT_IF [198.18.1.2]
#                                 APPLIANCE_INT_IF [198.18.2.2] ── BACKEND_IF 198.18.2.1/24
#
# Sourcing this file defines functions only. Needs root, iproute2, ethtool.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_TOP=$(cd "$LAB_DIR/../.." && pwd)

LAB_EXT_NET=198.18.1
LAB_INT_NET=198.18.2

lab_log() { printf 'lab: %s\n' "$*" >&2; }

# Turn off what makes the kernel hand out frames a userspace stack cannot take as they are:
# partial checksums (tx), segmentation offloads (tso/gso) and receive coalescing (gro/lro).
lab_offloads_off() {
    local ns=$1 dev=$2
    ip netns exec "$ns" ethtool -K "$dev" tx off tso off gso off gro off >/dev/null 2>&1 || true
    ip netns exec "$ns" ethtool -K "$dev" lro off >/dev/null 2>&1 || true
}

lab_ns_add() {
    local ns=$1
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # No IPv6 chatter (router solicitations, MLD) toward a dataplane that speaks IPv4 only.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# lab_up [ID]: create the lab; exports LAB_* and the lab.env keys.
lab_up() {
    LAB_ID=${1:-ndg$$$RANDOM}
    LAB_ID=${LAB_ID:0:10}
    CLIENT_NETNS=$LAB_ID-cli
    APPLIANCE_NETNS=$LAB_ID-app
    BACKEND_NETNS=$LAB_ID-bk
    CLIENT_IF=${LAB_ID}c
    APPLIANCE_EXT_IF=${LAB_ID}e
    APPLIANCE_INT_IF=${LAB_ID}i
    BACKEND_IF=${LAB_ID}b
    CLIENT_IP=$LAB_EXT_NET.1
    APPLIANCE_IP=$LAB_EXT_NET.2
    APPLIANCE_INT_IP=$LAB_INT_NET.2
    BACKEND_IP=$LAB_INT_NET.1
    LAB_RUN_DIR=${LAB_RUN_DIR:-/run/ndrguard/lab-$LAB_ID}
    export LAB_ID CLIENT_NETNS APPLIANCE_NETNS BACKEND_NETNS CLIENT_IF APPLIANCE_EXT_IF \
        APPLIANCE_INT_IF BACKEND_IF CLIENT_IP APPLIANCE_IP APPLIANCE_INT_IP BACKEND_IP LAB_RUN_DIR

    [ "${LAB_NO_TRAP:-0}" = 1 ] || trap 'lab_down' EXIT
    [ "${LAB_NO_TRAP:-0}" = 1 ] || trap 'exit 130' INT TERM
    mkdir -p "$LAB_RUN_DIR"

    lab_ns_add "$CLIENT_NETNS"
    lab_ns_add "$APPLIANCE_NETNS"
    lab_ns_add "$BACKEND_NETNS"

    ip link add "$CLIENT_IF" netns "$CLIENT_NETNS" type veth \
        peer name "$APPLIANCE_EXT_IF" netns "$APPLIANCE_NETNS"
    ip link add "$BACKEND_IF" netns "$BACKEND_NETNS" type veth \
        peer name "$APPLIANCE_INT_IF" netns "$APPLIANCE_NETNS"

    ip -n "$CLIENT_NETNS" addr add "$CLIENT_IP/24" dev "$CLIENT_IF"
    ip -n "$BACKEND_NETNS" addr add "$BACKEND_IP/24" dev "$BACKEND_IF"
    # The kernel side routes back through the appliance, never anywhere else.
    local d
    for d in "$CLIENT_NETNS:$CLIENT_IF" "$APPLIANCE_NETNS:$APPLIANCE_EXT_IF" \
        "$APPLIANCE_NETNS:$APPLIANCE_INT_IF" "$BACKEND_NETNS:$BACKEND_IF"; do
        lab_offloads_off "${d%%:*}" "${d#*:}"
        ip -n "${d%%:*}" link set "${d#*:}" up
    done
    ip -n "$CLIENT_NETNS" route add "$LAB_INT_NET.0/24" via "$APPLIANCE_IP"
    ip -n "$BACKEND_NETNS" route add "$LAB_EXT_NET.0/24" via "$APPLIANCE_INT_IP"
    lab_log "up: $LAB_ID (client $CLIENT_IP, appliance $APPLIANCE_IP/$APPLIANCE_INT_IP, backend $BACKEND_IP)"
}

# lab_eal_args PMD: EAL options giving the dataplane its two lab ports (0 = external,
# 1 = internal) with the given PMD: af_packet, af_xdp or tap.
lab_eal_args() {
    local pmd=$1 i=0 dev
    for dev in "$APPLIANCE_EXT_IF" "$APPLIANCE_INT_IF"; do
        case $pmd in
        af_packet) printf -- '--vdev=net_af_packet%d,iface=%s,qpairs=%d,blocksz=4096,framesz=2048,framecnt=1024 ' "$i" "$dev" "${LAB_QPAIRS:-1}" ;;
        af_xdp) printf -- '--vdev=net_af_xdp%d,iface=%s,start_queue=0,queue_count=1 ' "$i" "$dev" ;;
        tap) printf -- '--vdev=net_tap%d,iface=%st ' "$i" "$dev" ;;
        *) lab_log "unknown PMD '$pmd'"; return 1 ;;
        esac
        i=$((i + 1))
    done
}

# lab_dataplane_start PMD [dataplane options...]: start ndrguard-dataplane in the appliance
# namespace on both ports; waits until it is polling. Sets DATAPLANE_PID, DATAPLANE_STATS,
# DATAPLANE_LOG. LAB_HUGE=1 uses hugepages (reserved here), otherwise --no-huge.
# LAB_LCORES: EAL lcore list (default 0,1) or --lcores map; LAB_QPAIRS: af_packet queue
# pairs per port (one per worker lcore).
lab_dataplane_start() {
    local pmd=$1; shift
    local bin=${NDG_DATAPLANE:-$LAB_TOP/build/dataplane/ndrguard-dataplane}
    local mem eal lcores
    [ -x "$bin" ] || { lab_log "no dataplane binary at $bin"; return 1; }
    DATAPLANE_STATS=$LAB_RUN_DIR/dataplane-stats.json
    DATAPLANE_LOG=$LAB_RUN_DIR/dataplane.log
    export DATAPLANE_STATS DATAPLANE_LOG DATAPLANE_PMD=$pmd
    rm -f "$DATAPLANE_STATS"
    if [ "${LAB_HUGE:-0}" = 1 ]; then
        lab_hugepages 256 || return 1
        mem="--huge-dir=/dev/hugepages --in-memory -m 256"
    else
        mem="--no-huge --no-shconf -m 512"
    fi
    lcores=${LAB_LCORES:-0,1}
    # A map with '@' (more lcores than CPUs, e.g. 0@0,1@0,2@1) goes to --lcores.
    case $lcores in *@*) lcores="--lcores $lcores" ;; *) lcores="-l $lcores" ;; esac
    eal="$lcores --no-pci --file-prefix=$LAB_ID $mem --log-level=lib.eal:warning $(lab_eal_args "$pmd")" || return 1
    if [ "$pmd" = tap ]; then
        # The tap PMD makes its own interfaces in the appliance namespace: bridge them to the veths.
        lab_tap_bridges_add
    fi
    # A private mount namespace with bpffs so libxdp can pin its dispatcher (af_xdp).
    # shellcheck disable=SC2086
    ip netns exec "$APPLIANCE_NETNS" unshare -m --propagation private sh -c \
        'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' sh \
        "$bin" $eal -- -a "0:$APPLIANCE_IP/24" -a "1:$APPLIANCE_INT_IP/24" \
        -s "$DATAPLANE_STATS" -i 200 "$@" >"$DATAPLANE_LOG" 2>&1 &
    DATAPLANE_PID=$!
    export DATAPLANE_PID
    echo "$DATAPLANE_PID" >"$LAB_RUN_DIR/dataplane.pid"
    local t=0
    while [ ! -s "$DATAPLANE_STATS" ]; do
        if ! kill -0 "$DATAPLANE_PID" 2>/dev/null || [ $t -ge 300 ]; then
            lab_log "dataplane did not start ($pmd):"
            sed 's/^/  | /' "$DATAPLANE_LOG" >&2
            return 1
        fi
        sleep 0.1; t=$((t + 1))
    done
    [ "$pmd" = tap ] && lab_tap_bridges_attach
    lab_log "dataplane up on $pmd, pid $DATAPLANE_PID"
}

lab_tap_bridges_add() {
    local dev
    for dev in "$APPLIANCE_EXT_IF" "$APPLIANCE_INT_IF"; do
        ip -n "$APPLIANCE_NETNS" link add "${dev}br" type bridge
        ip -n "$APPLIANCE_NETNS" link set "$dev" master "${dev}br"
        ip -n "$APPLIANCE_NETNS" link set "${dev}br" up
    done
}

lab_tap_bridges_attach() {
    local dev t
    for dev in "$APPLIANCE_EXT_IF" "$APPLIANCE_INT_IF"; do
        for t in $(seq 50); do
            ip -n "$APPLIANCE_NETNS" link show "${dev}t" >/dev/null 2>&1 && break
            sleep 0.1
        done
        lab_offloads_off "$APPLIANCE_NETNS" "${dev}t"
        ip -n "$APPLIANCE_NETNS" link set "${dev}t" master "${dev}br" up
    done
}

# lab_dataplane_stop: SIGTERM, wait up to 10 s, then SIGKILL. Returns the exit status.
lab_dataplane_stop() {
    local pid=${DATAPLANE_PID:-} t=0 rc=0
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && [ $t -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
        lab_log "dataplane $pid ignored SIGTERM, killing"
        kill -KILL "$pid" 2>/dev/null || true
        rc=1
    fi
    wait "$pid" 2>/dev/null || rc=$?
    DATAPLANE_PID=
    return $rc
}

# lab_stat NAME: one counter from the dataplane's stats file.
lab_stat() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["counters"][sys.argv[2]])' \
        "$DATAPLANE_STATS" "$1"
}

# lab_hugepages N: make sure at least N 2 MiB pages are reserved and hugetlbfs is mounted.
lab_hugepages() {
    local want=$1 have
    have=$(cat /proc/sys/vm/nr_hugepages)
    if [ "$have" -lt "$want" ]; then
        echo "$want" >/proc/sys/vm/nr_hugepages
        have=$(cat /proc/sys/vm/nr_hugepages)
    fi
    mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages
    [ "$have" -ge "$want" ] || { lab_log "only $have hugepages could be reserved"; return 1; }
}

# lab_write_env FILE: the lab's facts as KEY=VALUE lines.
lab_write_env() {
    local f=$1
    mkdir -p "$(dirname "$f")"
    {
        echo "LAB_ID=$LAB_ID"
        echo "CLIENT_NETNS=$CLIENT_NETNS"
        echo "CLIENT_IF=$CLIENT_IF"
        echo "CLIENT_IP=$CLIENT_IP"
        echo "APPLIANCE_NETNS=$APPLIANCE_NETNS"
        echo "APPLIANCE_IP=$APPLIANCE_IP"
        echo "APPLIANCE_INT_IP=$APPLIANCE_INT_IP"
        echo "APPLIANCE_EXT_IF=$APPLIANCE_EXT_IF"
        echo "APPLIANCE_INT_IF=$APPLIANCE_INT_IF"
        echo "BACKEND_NETNS=$BACKEND_NETNS"
        echo "BACKEND_IF=$BACKEND_IF"
        echo "BACKEND_IP=$BACKEND_IP"
        echo "DATAPLANE_PID=${DATAPLANE_PID:-}"
        echo "DATAPLANE_PMD=${DATAPLANE_PMD:-}"
        echo "DATAPLANE_STATS=${DATAPLANE_STATS:-}"
        echo "DATAPLANE_LOG=${DATAPLANE_LOG:-}"
        echo "LAB_RUN_DIR=$LAB_RUN_DIR"
    } >"$f.tmp"
    mv "$f.tmp" "$f"
}

# lab_down: stop the dataplane, delete namespaces (which deletes their veths), remove the run dir.
lab_down() {
    local rc=$?
    trap - EXIT
    [ -n "${LAB_ID:-}" ] || return $rc
    lab_dataplane_stop >/dev/null 2>&1 || true
    local ns pid
    for ns in "$CLIENT_NETNS" "$APPLIANCE_NETNS" "$BACKEND_NETNS"; do
        # Anything still running inside the namespace belongs to this lab.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    [ -n "${LAB_RUN_DIR:-}" ] && rm -rf "$LAB_RUN_DIR"
    lab_log "down: $LAB_ID"
    LAB_ID=
    return $rc
}

# lab_leftovers ID: print what of lab ID still exists (namespaces, links, processes).
lab_leftovers() {
    local id=$1
    ip netns list 2>/dev/null | grep -E "^$id-" || true
    ip -o link show 2>/dev/null | grep -E ": $id[a-z]+[@:]" || true
    pgrep -af "file-prefix=$id( |$)" || true
}
