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
#                                                                   (+ .10-.12 internal hosts,
#                                                                      .200 outside the internal
#                                                                      networks)
#   lab_internet_up adds an "internet" namespace behind the client namespace (the appliance's
#   gateway), with the smarthost sink of the outbound path:
#   client ns ${LAB_ID}n 198.18.3.1/24 ── internet ns ${LAB_ID}w 198.18.3.2/24
#
# Sourcing this file defines functions only. Needs root, iproute2, ethtool.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_TOP=$(cd "$LAB_DIR/../.." && pwd)
# Binaries come from NDG_BUILD_DIR (tests/run sets it) or build/ (the quickstart's).
LAB_BUILD=${NDG_BUILD_DIR:-$LAB_TOP/build}

# Debian's python3 carries the packages firmware-config/deps installs (scapy), whatever PATH says.
LAB_PY=/usr/bin/python3

LAB_EXT_NET=198.18.1
LAB_INT_NET=198.18.2
LAB_NET_NET=198.18.3 # the "internet" (lab_internet_up)

lab_log() { printf 'lab: %s\n' "$*" >&2; }

# Turn off what makes the kernel hand out frames a userspace stack cannot take as they are:
# partial checksums (tx), segmentation offloads (tso/gso) and receive coalescing (gro/lro).
lab_offloads_off() {
    local ns=$1 dev=$2
    ip netns exec "$ns" ethtool -K "$dev" tx off tso off gso off gro off >/dev/null 2>&1 || true
    ip netns exec "$ns" ethtool -K "$dev" lro off >/dev/null 2>&1 || true
}

# The client's addresses: CLIENT_IP, and .3-.20 as extra sources for per-source limits
# (.3 harvest, .4 concurrency, .5-.20 load).
lab_client_addrs() {
    local a
    ip -n "$CLIENT_NETNS" addr add "$CLIENT_IP/24" dev "$CLIENT_IF"
    for a in $(seq 3 20); do
        ip -n "$CLIENT_NETNS" addr add "$LAB_EXT_NET.$a/24" dev "$CLIENT_IF"
    done
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
    INTERNAL_IP=$APPLIANCE_INT_IP # the outbound (internal) listener
    BACKEND_IP=$LAB_INT_NET.1
    # Hosts beside the backend MTA: internal workstations, and one outside the internal networks.
    INTERNAL_HOSTS="$LAB_INT_NET.10 $LAB_INT_NET.11 $LAB_INT_NET.12"
    OUTSIDE_HOST=$LAB_INT_NET.200
    SMARTHOST_IP=$LAB_NET_NET.2
    SMARTHOST_PORT=25
    LAB_RUN_DIR=${LAB_RUN_DIR:-/run/ndrguard/lab-$LAB_ID}
    export LAB_ID CLIENT_NETNS APPLIANCE_NETNS BACKEND_NETNS CLIENT_IF APPLIANCE_EXT_IF \
        APPLIANCE_INT_IF BACKEND_IF CLIENT_IP APPLIANCE_IP APPLIANCE_INT_IP BACKEND_IP LAB_RUN_DIR \
        INTERNAL_IP INTERNAL_HOSTS OUTSIDE_HOST SMARTHOST_IP SMARTHOST_PORT

    # lab_down fails when the dataplane left a sanitizer report: the script exits with that.
    [ "${LAB_NO_TRAP:-0}" = 1 ] || trap 'lab_down || exit $?' EXIT
    [ "${LAB_NO_TRAP:-0}" = 1 ] || trap 'exit 130' INT TERM
    mkdir -p "$LAB_RUN_DIR"

    lab_ns_add "$CLIENT_NETNS"
    lab_ns_add "$APPLIANCE_NETNS"
    lab_ns_add "$BACKEND_NETNS"

    ip link add "$CLIENT_IF" netns "$CLIENT_NETNS" type veth \
        peer name "$APPLIANCE_EXT_IF" netns "$APPLIANCE_NETNS"
    ip link add "$BACKEND_IF" netns "$BACKEND_NETNS" type veth \
        peer name "$APPLIANCE_INT_IF" netns "$APPLIANCE_NETNS"

    lab_client_addrs
    ip -n "$BACKEND_NETNS" addr add "$BACKEND_IP/24" dev "$BACKEND_IF"
    for a in $INTERNAL_HOSTS $OUTSIDE_HOST; do
        ip -n "$BACKEND_NETNS" addr add "$a/24" dev "$BACKEND_IF"
    done
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
# 1 = internal) with the given PMD: af_packet, af_xdp, tap or memif.
lab_eal_args() {
    local pmd=$1 i=0 dev
    for dev in "$APPLIANCE_EXT_IF" "$APPLIANCE_INT_IF"; do
        case $pmd in
        af_packet) printf -- '--vdev=net_af_packet%d,iface=%s,qpairs=%d,blocksz=4096,framesz=2048,framecnt=1024 ' "$i" "$dev" "${LAB_QPAIRS:-1}" ;;
        af_xdp)
            printf -- '--vdev=net_af_xdp%d,iface=%s,start_queue=0,queue_count=1' "$i" "$dev"
            # LAB_XDP_PROG: the external port loads this XDP object (its map xsks_map) instead
            # of libxdp's default program: bpf/xdp_guard.bpf.o steers only SMTP to DPDK.
            [ $i = 0 ] && [ -n "${LAB_XDP_PROG:-}" ] && printf ',xdp_prog=%s' "$LAB_XDP_PROG"
            printf ' ' ;;
        tap) printf -- '--vdev=net_tap%d,iface=%st ' "$i" "$dev" ;;
        # memif: the dataplane is the server of two memif sockets in LAB_RUN_DIR (port 0
        # memif0.sock, port 1 memif1.sock) for DPDK peers such as ndrguard-bench-dpdk;
        # the veths stay unused. Sockets are paths: abstract ones do not cross namespaces.
        memif) printf -- '--vdev=net_memif%d,role=server,id=0,socket=%s/memif%d.sock,socket-abstract=no ' "$i" "$LAB_RUN_DIR" "$i" ;;
        *) lab_log "unknown PMD '$pmd'"; return 1 ;;
        esac
        i=$((i + 1))
    done
}

# lab_dataplane_start PMD [dataplane options...]: start ndrguard-dataplane in the appliance
# namespace on both ports; waits until it is polling. Sets DATAPLANE_PID, DATAPLANE_STATS,
# DATAPLANE_LOG. LAB_HUGE=1 uses hugepages (reserved here), otherwise --no-huge.
# LAB_IDLE_US (default 100) lets the idle worker sleep so a shared box keeps its cores;
# benchmarks set it to 0 for pure polling.
# LAB_LCORES: EAL lcore list (default 0,1) or --lcores map; LAB_QPAIRS: af_packet queue
# pairs per port (one per worker lcore).
# A dataplane built with -Dsanitize_dataplane=true reports to DATAPLANE_LOG; when it stops,
# lab_dataplane_stop keeps any report and lab_down prints it and fails (lab_sanitizer_check).
# UBSan prints stacks; ASAN_OPTIONS and UBSAN_OPTIONS from the caller are passed on (they win).
lab_dataplane_start() {
    local pmd=$1; shift
    local bin=${NDG_DATAPLANE:-$LAB_BUILD/dataplane/ndrguard-dataplane}
    local mem eal lcores gw=
    [ -x "$bin" ] || { lab_log "no dataplane binary at $bin"; return 1; }
    # With the internet namespace up, the client namespace is the external port's router.
    [ -n "${INTERNET_NETNS:-}" ] && gw="-g 0:$CLIENT_IP"
    DATAPLANE_STATS=$LAB_RUN_DIR/dataplane-stats.json
    DATAPLANE_LOG=$LAB_RUN_DIR/dataplane.log
    DATAPLANE_CTL_SOCKET=$LAB_RUN_DIR/dataplane.sock
    export DATAPLANE_STATS DATAPLANE_LOG DATAPLANE_CTL_SOCKET DATAPLANE_PMD=$pmd
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
    # A private mount namespace with bpffs so libxdp can pin its dispatcher (af_xdp).
    # LAB_BPFFS: a bpffs the caller mounted, bound there instead so that maps pinned by
    # ndrguard-control are the ones the dataplane's XDP object reuses.
    # LAB_DETACH=1 (the quickstart) puts it in its own session so it outlives the shell.
    local detach=
    [ "${LAB_DETACH:-0}" = 1 ] && detach=setsid
    # The previous dataplane of this lab, if it died and nobody stopped it: keep its reports.
    [ -n "${DATAPLANE_PID:-}" ] && lab_sanitizer_collect "$DATAPLANE_PID"
    # shellcheck disable=SC2086
    $detach ip netns exec "$APPLIANCE_NETNS" unshare -m --propagation private sh -c \
        'ulimit -l unlimited 2>/dev/null; if [ -n "$LAB_BPFFS" ]; then mount --bind "$LAB_BPFFS" /sys/fs/bpf; else mount -t bpf bpf /sys/fs/bpf 2>/dev/null; fi; exec "$@"' sh \
        env "UBSAN_OPTIONS=print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
        "$bin" $eal -- -a "0:$APPLIANCE_IP/24" -a "1:$APPLIANCE_INT_IP/24" \
        -s "$DATAPLANE_STATS" -i 200 -c "$DATAPLANE_CTL_SOCKET" --idle-sleep-us "${LAB_IDLE_US:-100}" $gw "$@" >"$DATAPLANE_LOG" 2>&1 &
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
    [ "$pmd" = tap ] && lab_tap_patch
    lab_log "dataplane up on $pmd, pid $DATAPLANE_PID"
}

# The tap PMD makes its own interfaces in the appliance namespace. A bridge would keep frames
# for the PMD's MAC (the tap netdev carries it, so the bridge takes it as its own): patch each
# tap to its veth with tc mirred redirects instead, both ways.
lab_tap_patch() {
    local dev t
    for dev in "$APPLIANCE_EXT_IF" "$APPLIANCE_INT_IF"; do
        for t in $(seq 50); do
            ip -n "$APPLIANCE_NETNS" link show "${dev}t" >/dev/null 2>&1 && break
            sleep 0.1
        done
        lab_offloads_off "$APPLIANCE_NETNS" "${dev}t"
        ip -n "$APPLIANCE_NETNS" link set "${dev}t" up
        ip netns exec "$APPLIANCE_NETNS" sh -e -c '
            for pair in "$1 $2" "$2 $1"; do
                set -- $pair
                tc qdisc add dev "$1" ingress
                tc filter add dev "$1" parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev "$2"
            done' sh "$dev" "${dev}t"
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
    lab_sanitizer_collect "$pid"
    DATAPLANE_PID=
    return $rc
}

# What starts a report of AddressSanitizer (SEGV included), LeakSanitizer and UBSan. UBSan
# (gcc's libubsan beside libasan) ignores log_path, so all three are read from stderr.
LAB_SANITIZER_RE='^==[0-9]+==ERROR: (AddressSanitizer|LeakSanitizer)|: runtime error: '

# lab_sanitizer_collect PID: copy the sanitizer report in DATAPLANE_LOG (from its first line
# to the end of the log) to LAB_RUN_DIR/sanitizer.PID, where lab_sanitizer_check finds it
# once a later dataplane has overwritten DATAPLANE_LOG.
lab_sanitizer_collect() {
    [ -n "${DATAPLANE_LOG:-}" ] && [ -f "$DATAPLANE_LOG" ] || return 0
    grep -qE "$LAB_SANITIZER_RE" "$DATAPLANE_LOG" || return 0
    sed -nE "/$LAB_SANITIZER_RE/,\$p" "$DATAPLANE_LOG" >"$LAB_RUN_DIR/sanitizer.$1"
}

# lab_stat NAME: one counter from the dataplane's stats file.
lab_stat() {
    "$LAB_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["counters"][sys.argv[2]])' \
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
    mkdir -p /dev/hugepages
    mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages || return 1
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
        echo "INTERNAL_IP=$INTERNAL_IP"
        echo "INTERNAL_HOSTS=\"$INTERNAL_HOSTS\""
        echo "OUTSIDE_HOST=$OUTSIDE_HOST"
        echo "INTERNET_NETNS=${INTERNET_NETNS:-}"
        echo "SMARTHOST_IP=$SMARTHOST_IP"
        echo "SMARTHOST_PORT=$SMARTHOST_PORT"
        echo "SMARTHOST_LOG=${SMARTHOST_LOG:-}"
        echo "DATAPLANE_PID=${DATAPLANE_PID:-}"
        echo "DATAPLANE_PMD=${DATAPLANE_PMD:-}"
        echo "DATAPLANE_STATS=${DATAPLANE_STATS:-}"
        echo "DATAPLANE_LOG=${DATAPLANE_LOG:-}"
        echo "DATAPLANE_CTL_SOCKET=${DATAPLANE_CTL_SOCKET:-}"
        echo "CONTROL_PID=${CONTROL_PID:-}"
        echo "CONTROL_CONF=${CONTROL_CONF:-}"
        echo "CONTROL_LOG=${CONTROL_LOG:-}"
        echo "DECISION_LOG=${LAB_RUN_DIR}/decisions.log"
        echo "METRICS_URL=${METRICS_URL:-}"
        echo "DOMAIN=${DOMAIN:-}"
        echo "VALID_RCPT=${VALID_RCPT:-}"
        # The lab's domain with BATV required for bounces ('batv require'): outbound mail from
        # BATV_RCPT leaves signed, and only a bounce to the signed address comes back in.
        echo "BATV_DOMAIN=batv.${DOMAIN:-example.com}"
        echo "BATV_RCPT=bounce@batv.${DOMAIN:-example.com}"
        echo "NDRCTL=\"${NDRCTL:-}\""
        echo "SMTP_PORT=${SMTP_PORT:-}"
        [ -n "${ECHO_PORT:-}" ] && echo "ECHO_PORT=$ECHO_PORT"
        echo "MAILBOX=${MAILBOX:-}"
        echo "POSTFIX_DIR=${POSTFIX_DIR:-}"
        echo "TLS_CA=${TLS_CA:-}"
        echo "LAB_RUN_DIR=$LAB_RUN_DIR"
    } >"$f.tmp"
    mv "$f.tmp" "$f"
}

# lab_control_config [RECIPIENTS_FILE]: write the lab's ndrguard.conf (domain example.com and
# catch-all domain catchall.example.com behind the backend) and, unless one is given, a small
# recipients file. Sets CONTROL_CONF, CONTROL_SOCKET, DOMAIN, VALID_RCPT.
lab_control_config() {
    CONTROL_CONF=$LAB_RUN_DIR/ndrguard.conf
    CONTROL_SOCKET=$LAB_RUN_DIR/control.sock
    # A port of its own per lab, on the root namespace's loopback.
    METRICS_PORT=$((20000 + $(printf '%s' "$LAB_ID" | cksum | cut -d' ' -f1) % 20000))
    METRICS_URL=http://127.0.0.1:$METRICS_PORT/metrics
    export METRICS_PORT METRICS_URL
    DOMAIN=example.com
    VALID_RCPT=alice@example.com
    local rcpts=${1:-$LAB_RUN_DIR/recipients}
    export CONTROL_CONF CONTROL_SOCKET DOMAIN VALID_RCPT
    if [ -z "${1:-}" ]; then
        # ghost@ is known here but not to the backend: the backend's own 550 must show.
        printf '%s\n' '# lab directory' alice@example.com bob@example.com carol@example.com \
            postmaster@example.com noreply@example.com ghost@example.com \
            bounce@batv.example.com @catchall.example.com >"$rcpts"
    fi
    cat >"$CONTROL_CONF" <<CONF
# ndrguard.conf of lab $LAB_ID (tests/lab/lab.sh)
hostname mx.$DOMAIN
listen port 25
dataplane socket $LAB_RUN_DIR/dataplane.sock
control socket $CONTROL_SOCKET
directory file $rcpts
directory snapshot $LAB_RUN_DIR/directory.snapshot
decision log $LAB_RUN_DIR/decisions.log
metrics listen 127.0.0.1:$METRICS_PORT
domain $DOMAIN {
    backend $BACKEND_IP port 25
}
domain catchall.$DOMAIN {
    backend $BACKEND_IP port 25
}
domain batv.$DOMAIN {
    backend $BACKEND_IP port 25
    batv require
}
never-bounce noreply@$DOMAIN
batv key 1 00112233445566778899aabbccddeeff
limits {
    message-size 12M
    connections-per-ip 10
    greeting-delay ${LAB_GREETING_DELAY:-0s}
}
harvest budget 8 per 10m tarpit 200ms
# Mail leaving: the backend and the internal hosts (not OUTSIDE_HOST) through INTERNAL_IP to
# the smarthost sink in the internet namespace (lab_internet_up, lab_smarthost_start).
outbound {
    address $INTERNAL_IP
    internal network $LAB_INT_NET.0/25
    smarthost $SMARTHOST_IP port $SMARTHOST_PORT
    sender rate ${LAB_OUT_SENDER_RATE:-60 per minute}
    host rate ${LAB_OUT_HOST_RATE:-30 per minute burst 10}
    ndr domain ${LAB_OUT_NDR_DOMAIN:-10 per hour}
    ndr total ${LAB_OUT_NDR_TOTAL:-50 per hour}
}
CONF
}

# lab_tls_certs [DIR]: a throw-away CA and an ECDSA (P-256) and an RSA (2048) server certificate
# for mx.$DOMAIN and APPLIANCE_IP (so clients that verify the address they dialled, as
# smtplib does, accept it) (openssl CLI) in DIR (default LAB_RUN_DIR/tls), valid two days; appends the
# two 'tls certificate' lines to CONTROL_CONF when it exists. Sets TLS_DIR and TLS_CA (the CA
# file a client verifies the appliance with).
lab_tls_certs() {
    TLS_DIR=${1:-$LAB_RUN_DIR/tls}
    TLS_CA=$TLS_DIR/ca.crt
    export TLS_DIR TLS_CA
    local d=$TLS_DIR k
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=ndrguard lab CA $LAB_ID" -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null || return 1
    for k in ecdsa rsa; do
        if [ $k = ecdsa ]; then
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/$k.key" 2>/dev/null
        else
            openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$d/$k.key" 2>/dev/null
        fi || return 1
        openssl req -new -key "$d/$k.key" -subj "/CN=mx.${DOMAIN:-example.com}" 2>/dev/null |
            openssl x509 -req -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
                -extfile <(printf 'subjectAltName=DNS:mx.%s%s\nextendedKeyUsage=serverAuth\n' "${DOMAIN:-example.com}" "${APPLIANCE_IP:+,IP:$APPLIANCE_IP}") \
                -out "$d/$k.crt" 2>/dev/null || return 1
    done
    chmod -R a+rX "$d"
    if [ -n "${CONTROL_CONF:-}" ] && [ -f "$CONTROL_CONF" ]; then
        printf 'tls certificate %s key %s\n' "$d/ecdsa.crt" "$d/ecdsa.key" "$d/rsa.crt" "$d/rsa.key" >>"$CONTROL_CONF"
    fi
}

# lab_control_start: run ndrguard-control on CONTROL_CONF and wait for its socket. It runs in
# the root namespace (it speaks to the dataplane over Unix sockets) so that METRICS_URL is
# reachable from there. Sets CONTROL_PID, CONTROL_LOG and NDRCTL (the command line that reaches it).
lab_control_start() {
    local bin=${NDG_CONTROL:-$LAB_BUILD/control/ndrguard-control}
    local detach=
    [ "${LAB_DETACH:-0}" = 1 ] && detach=setsid
    CONTROL_LOG=$LAB_RUN_DIR/control.log
    NDRCTL="${NDG_NDRCTL:-$LAB_BUILD/control/ndrctl} -s $CONTROL_SOCKET"
    export CONTROL_LOG NDRCTL
    rm -f "$CONTROL_SOCKET"
    $detach "$bin" -f "$CONTROL_CONF" >>"$CONTROL_LOG" 2>&1 &
    CONTROL_PID=$!
    export CONTROL_PID
    local t=0
    until [ -S "$CONTROL_SOCKET" ]; do
        if ! kill -0 "$CONTROL_PID" 2>/dev/null || [ $t -ge 100 ]; then
            lab_log "ndrguard-control did not start:"
            sed 's/^/  | /' "$CONTROL_LOG" >&2
            return 1
        fi
        sleep 0.1; t=$((t + 1))
    done
}

# lab_control_stop [SIGNAL]: stop the control daemon (default TERM) and wait for it.
lab_control_stop() {
    local pid=${CONTROL_PID:-}
    [ -n "$pid" ] || return 0
    kill "-${1:-TERM}" "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    CONTROL_PID=
}

# lab_wait_synced [SECONDS]: wait until ndrctl status says the dataplane is connected and in sync.
lab_wait_synced() {
    local t=0 max=$((${1:-10} * 10))
    until $NDRCTL status 2>/dev/null | grep -q 'configuration in sync, directory in sync'; do
        [ $t -ge $max ] && return 1
        sleep 0.1; t=$((t + 1))
    done
}

# lab_backend_postfix_start: a private Postfix instance in the backend namespace on
# BACKEND_IP:25, delivering example.com recipients (and the catch-all domain) to Maildirs
# under LAB_RUN_DIR/postfix/mail through the virtual agent. Only the appliance's internal
# address is in mynetworks: the client can never relay through it. Sets POSTFIX_DIR,
# POSTFIX_LOG and MAILBOX (VALID_RCPT's Maildir).
lab_backend_postfix_start() {
    POSTFIX_DIR=$LAB_RUN_DIR/postfix
    POSTFIX_LOG=$POSTFIX_DIR/maillog
    MAILBOX=$POSTFIX_DIR/mail/example.com/alice/
    export POSTFIX_DIR POSTFIX_LOG MAILBOX
    mkdir -p "$POSTFIX_DIR/queue" "$POSTFIX_DIR/data" "$POSTFIX_DIR/mail"
    chown nobody:nogroup "$POSTFIX_DIR/mail"
    chown postfix "$POSTFIX_DIR/data"
    cp /etc/postfix/master.cf "$POSTFIX_DIR/master.cf"
    local u
    {
        for u in alice bob carol postmaster noreply; do
            echo "$u@example.com example.com/$u/"
        done
        echo "bounce@batv.example.com batv/bounce/"
        echo "@catchall.example.com catchall/"
    } >"$POSTFIX_DIR/vmailbox"
    cat >"$POSTFIX_DIR/main.cf" <<CF
# Private backend MTA of lab $LAB_ID (tests/lab/lab.sh)
compatibility_level = 3.7
queue_directory = $POSTFIX_DIR/queue
data_directory = $POSTFIX_DIR/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $POSTFIX_LOG
maillog_file_prefixes = $POSTFIX_DIR
inet_interfaces = $BACKEND_IP
inet_protocols = ipv4
myhostname = backend.example.com
mydestination =
mynetworks = 127.0.0.0/8 $APPLIANCE_INT_IP/32 $BACKEND_IP/32
relayhost = [$INTERNAL_IP]
smtp_bind_address = $BACKEND_IP
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = example.com catchall.example.com batv.example.com
virtual_mailbox_maps = texthash:$POSTFIX_DIR/vmailbox
virtual_mailbox_base = $POSTFIX_DIR/mail
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_mailbox_limit = 0
message_size_limit = 104857600
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_banner = \$myhostname ESMTP backend
smtp_host_lookup = native
smtpd_peername_lookup = no
disable_dns_lookups = yes
biff = no
CF
    # Postfix writes its complaints to stderr only when that is a terminal: give it one.
    if ! script -qec "ip netns exec $BACKEND_NETNS postfix -c $POSTFIX_DIR start" \
        "$POSTFIX_DIR/start.log" >/dev/null 2>&1; then
        lab_log "postfix did not start:"
        sed 's/^/  | /' "$POSTFIX_DIR/start.log" >&2
        return 1
    fi
    local t=0
    until ip netns exec "$BACKEND_NETNS" bash -c "exec 3<>/dev/tcp/$BACKEND_IP/25" 2>/dev/null; do
        [ $t -ge 100 ] && { lab_log "postfix does not listen on $BACKEND_IP:25"; return 1; }
        sleep 0.1; t=$((t + 1))
    done
}

# lab_backend_sink_start [PORT]: Postfix's smtp-sink on BACKEND_IP:PORT (default 2526), a fast
# single-process backend that writes each message to a file under SINK_DIR.
lab_backend_sink_start() {
    SINK_PORT=${1:-2526}
    SINK_DIR=$LAB_RUN_DIR/sink
    export SINK_PORT SINK_DIR
    mkdir -p "$SINK_DIR"
    chown nobody:nogroup "$SINK_DIR"
    # smtp-sink writes as nobody: it must be able to reach its directory.
    chmod o+x "$LAB_RUN_DIR"
    ip netns exec "$BACKEND_NETNS" /usr/sbin/smtp-sink -u nobody -d "$SINK_DIR/%H%M." \
        "$BACKEND_IP:$SINK_PORT" 2048 >"$LAB_RUN_DIR/sink.log" 2>&1 &
    SINK_PID=$!
    export SINK_PID
    local t=0
    until ip netns exec "$BACKEND_NETNS" bash -c "exec 3<>/dev/tcp/$BACKEND_IP/$SINK_PORT" 2>/dev/null; do
        [ $t -ge 50 ] && { lab_log "smtp-sink does not listen"; return 1; }
        sleep 0.1; t=$((t + 1))
    done
}

lab_backend_postfix_stop() {
    [ -n "${POSTFIX_DIR:-}" ] && [ -f "$POSTFIX_DIR/main.cf" ] || return 0
    ip netns exec "$BACKEND_NETNS" postfix -c "$POSTFIX_DIR" stop >/dev/null 2>&1 || true
}

# lab_sanitizer_check: print the sanitizer reports kept by lab_dataplane_stop, each followed
# by its headline (tests/run shows a failed log's last lines); returns 1 when there is one.
# Call it once the dataplane has exited: LeakSanitizer reports at exit.
lab_sanitizer_check() {
    local f rc=0
    for f in "${LAB_RUN_DIR:-/nonexistent}"/sanitizer.*; do
        [ -e "$f" ] || continue
        lab_log "sanitizer report of dataplane ${f##*.}:"
        sed 's/^/  | /' "$f" >&2
        lab_log "FAIL: dataplane ${f##*.}: $(head -n 1 "$f" | sed -E 's/^==[0-9]+==//')"
        grep -m 1 '^SUMMARY: ' "$f" | sed 's/^/lab: FAIL: /' >&2
        rc=1
    done
    return $rc
}

# lab_down: stop the dataplane, delete namespaces (which deletes their veths), remove the run
# dir. Returns the status it was called with, or 1 when the dataplane left a sanitizer report.
lab_down() {
    local rc=$?
    trap - EXIT
    [ -n "${LAB_ID:-}" ] || return $rc
    lab_control_stop >/dev/null 2>&1 || true
    lab_backend_postfix_stop
    lab_dataplane_stop >/dev/null 2>&1 || true
    lab_sanitizer_check || rc=1
    lab_impair_down --no-restore >/dev/null 2>&1 || true
    # Our own background helpers end quietly rather than by the namespace sweep below.
    local bg
    for bg in "${IMPAIR_BK_PID:-}" "${SINK_PID:-}" "${SMARTHOST_PID:-}"; do
        [ -n "$bg" ] || continue
        kill -TERM "$bg" 2>/dev/null || true
        wait "$bg" 2>/dev/null || true
    done
    local ns pid
    for ns in "$CLIENT_NETNS" "$APPLIANCE_NETNS" "$BACKEND_NETNS" "$LAB_ID-rk" "$LAB_ID-net"; do
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
    pgrep -af "ndrguard-impair -a ${id}ra( |$)" || true
    pgrep -af "ndrguard-control -f /run/ndrguard/lab-$id/" || true
    pgrep -af "master.*-c /run/ndrguard/lab-$id/" || true
    pgrep -af "smarthost_sink.py .* /run/ndrguard/lab-$id/" || true
}

# lab_internet_up: the "internet" namespace $LAB_ID-net behind the client namespace, which
# routes for it (the dataplane's external gateway: call this before lab_dataplane_start).
# Sets INTERNET_NETNS.
lab_internet_up() {
    INTERNET_NETNS=$LAB_ID-net
    export INTERNET_NETNS
    lab_ns_add "$INTERNET_NETNS" || return 1
    ip link add "${LAB_ID}n" netns "$CLIENT_NETNS" type veth \
        peer name "${LAB_ID}w" netns "$INTERNET_NETNS" || return 1
    ip -n "$CLIENT_NETNS" addr add "$LAB_NET_NET.1/24" dev "${LAB_ID}n"
    ip -n "$INTERNET_NETNS" addr add "$SMARTHOST_IP/24" dev "${LAB_ID}w"
    lab_offloads_off "$CLIENT_NETNS" "${LAB_ID}n"
    lab_offloads_off "$INTERNET_NETNS" "${LAB_ID}w"
    ip -n "$CLIENT_NETNS" link set "${LAB_ID}n" up
    ip -n "$INTERNET_NETNS" link set "${LAB_ID}w" up
    ip -n "$INTERNET_NETNS" route add default via "$LAB_NET_NET.1"
    ip netns exec "$CLIENT_NETNS" sysctl -qw net.ipv4.ip_forward=1
    lab_log "internet namespace $INTERNET_NETNS up ($SMARTHOST_IP, routed by the client namespace)"
}

# lab_smarthost_start: the outbound path's upstream, tests/lab/smarthost_sink.py on
# SMARTHOST_IP:SMARTHOST_PORT in the internet namespace, one JSON line per received message in
# SMARTHOST_LOG. Sets SMARTHOST_PID and SMARTHOST_LOG.
lab_smarthost_start() {
    local detach= t=0
    [ "${LAB_DETACH:-0}" = 1 ] && detach=setsid
    SMARTHOST_LOG=$LAB_RUN_DIR/smarthost.jsonl
    export SMARTHOST_LOG
    : >"$SMARTHOST_LOG"
    $detach ip netns exec "$INTERNET_NETNS" "$LAB_PY" "$LAB_DIR/smarthost_sink.py" \
        "$SMARTHOST_IP" "$SMARTHOST_PORT" "$SMARTHOST_LOG" >"$LAB_RUN_DIR/smarthost.out" 2>&1 &
    SMARTHOST_PID=$!
    export SMARTHOST_PID
    echo "$SMARTHOST_PID" >"$LAB_RUN_DIR/smarthost.pid"
    until ip netns exec "$INTERNET_NETNS" bash -c "exec 3<>/dev/tcp/$SMARTHOST_IP/$SMARTHOST_PORT" 2>/dev/null; do
        if ! kill -0 "$SMARTHOST_PID" 2>/dev/null || [ $t -ge 50 ]; then
            lab_log "smarthost sink does not listen:"
            sed 's/^/  | /' "$LAB_RUN_DIR/smarthost.out" >&2
            return 1
        fi
        sleep 0.1; t=$((t + 1))
    done
}

# ---- Impairment bridge (issue 5) ----------------------------------------------------------
# lab_impair_up [ndrguard-impair options...]: put a router namespace between the client and the
# appliance, running tests/lab/impair/ndrguard-impair with the given impairment options:
#
#   client ns                  $LAB_ID-rt (ndrguard-impair)           appliance ns
#   CLIENT_IF ── IMPAIR_IF_A [side A]  ⇄  [side B] IMPAIR_IF_B ── APPLIANCE_EXT_IF
#
# One L2 segment: no address changes anywhere. Direction "ab" is client → appliance, "ba" is
# appliance → client (--dir). Call it after lab_up and before lab_dataplane_start: it replaces
# the client ↔ appliance veth pair (same names, new ifindexes). Sets and exports IMPAIR_NETNS,
# IMPAIR_IF_A, IMPAIR_IF_B, IMPAIR_PID, IMPAIR_STATS, IMPAIR_CONF, IMPAIR_LOG. lab_down removes
# all of it; lab_impair_down removes it earlier and restores the direct pair.
lab_impair_up() {
    [ -n "${LAB_ID:-}" ] || { lab_log "lab_impair_up: no lab (call lab_up first)"; return 1; }
    if [ -n "${DATAPLANE_PID:-}" ] && kill -0 "$DATAPLANE_PID" 2>/dev/null; then
        lab_log "lab_impair_up: call it before lab_dataplane_start (it recreates $APPLIANCE_EXT_IF)"
        return 1
    fi
    IMPAIR_NETNS=$LAB_ID-rt
    IMPAIR_IF_A=${LAB_ID}ra
    IMPAIR_IF_B=${LAB_ID}rb
    IMPAIR_STATS=$LAB_RUN_DIR/impair-stats.json
    IMPAIR_CONF=$LAB_RUN_DIR/impair.conf
    IMPAIR_LOG=$LAB_RUN_DIR/impair.log
    export IMPAIR_NETNS IMPAIR_IF_A IMPAIR_IF_B IMPAIR_STATS IMPAIR_CONF IMPAIR_LOG

    lab_ns_add "$IMPAIR_NETNS" || return 1
    # Deleting one end of a veth deletes its peer: this removes APPLIANCE_EXT_IF too.
    ip -n "$CLIENT_NETNS" link del "$CLIENT_IF" || return 1
    ip link add "$CLIENT_IF" netns "$CLIENT_NETNS" type veth \
        peer name "$IMPAIR_IF_A" netns "$IMPAIR_NETNS" || return 1
    ip link add "$IMPAIR_IF_B" netns "$IMPAIR_NETNS" type veth \
        peer name "$APPLIANCE_EXT_IF" netns "$APPLIANCE_NETNS" || return 1
    lab_client_addrs
    local d
    for d in "$CLIENT_NETNS:$CLIENT_IF" "$IMPAIR_NETNS:$IMPAIR_IF_A" \
        "$IMPAIR_NETNS:$IMPAIR_IF_B" "$APPLIANCE_NETNS:$APPLIANCE_EXT_IF"; do
        lab_offloads_off "${d%%:*}" "${d#*:}"
        ip -n "${d%%:*}" link set "${d#*:}" up
    done
    ip -n "$CLIENT_NETNS" route add "$LAB_INT_NET.0/24" via "$APPLIANCE_IP"
    lab_impair_start "$@" || return 1
    lab_log "impairment bridge up in $IMPAIR_NETNS ($IMPAIR_IF_A ⇄ $IMPAIR_IF_B): ${*:-none}"
}

# lab_impair_start [options...]: start the bridge (lab_impair_up does); waits until it forwards.
# lab_impair_backend_up [ndrguard-impair options...]: a second bridge, between the appliance's
# internal port and the backend, in namespace $LAB_ID-rk (same rules as lab_impair_up: after
# lab_up, before lab_dataplane_start). Sets IMPAIR_BK_PID and IMPAIR_BK_STATS.
lab_impair_backend_up() {
    local bin=${NDG_IMPAIR:-$LAB_BUILD/tests/lab/impair/ndrguard-impair} t=0 d
    [ -x "$bin" ] || { lab_log "no impairment bridge binary at $bin"; return 1; }
    IMPAIR_BK_NETNS=$LAB_ID-rk
    IMPAIR_BK_STATS=$LAB_RUN_DIR/impair-bk-stats.json
    export IMPAIR_BK_NETNS IMPAIR_BK_STATS
    lab_ns_add "$IMPAIR_BK_NETNS" || return 1
    ip -n "$BACKEND_NETNS" link del "$BACKEND_IF" || return 1
    ip link add "$BACKEND_IF" netns "$BACKEND_NETNS" type veth \
        peer name "${LAB_ID}ka" netns "$IMPAIR_BK_NETNS" || return 1
    ip link add "${LAB_ID}kb" netns "$IMPAIR_BK_NETNS" type veth \
        peer name "$APPLIANCE_INT_IF" netns "$APPLIANCE_NETNS" || return 1
    ip -n "$BACKEND_NETNS" addr add "$BACKEND_IP/24" dev "$BACKEND_IF"
    for d in "$BACKEND_NETNS:$BACKEND_IF" "$IMPAIR_BK_NETNS:${LAB_ID}ka" \
        "$IMPAIR_BK_NETNS:${LAB_ID}kb" "$APPLIANCE_NETNS:$APPLIANCE_INT_IF"; do
        lab_offloads_off "${d%%:*}" "${d#*:}"
        ip -n "${d%%:*}" link set "${d#*:}" up
    done
    ip -n "$BACKEND_NETNS" route add "$LAB_EXT_NET.0/24" via "$APPLIANCE_INT_IP"
    ip netns exec "$IMPAIR_BK_NETNS" "$bin" -a "${LAB_ID}ka" -b "${LAB_ID}kb" \
        -S "$IMPAIR_BK_STATS" "$@" >>"$LAB_RUN_DIR/impair-bk.log" 2>&1 &
    IMPAIR_BK_PID=$!
    export IMPAIR_BK_PID
    while [ ! -s "$IMPAIR_BK_STATS" ]; do
        if ! kill -0 "$IMPAIR_BK_PID" 2>/dev/null || [ $t -ge 50 ]; then
            lab_log "backend-side impairment bridge did not start"
            return 1
        fi
        sleep 0.1; t=$((t + 1))
    done
    lab_log "impairment bridge up in $IMPAIR_BK_NETNS (backend side): ${*:-none}"
}

# lab_impair_backend_stat KEY [ab|ba]: a counter of the backend-side bridge (fresh).
lab_impair_backend_stat() {
    rm -f "$IMPAIR_BK_STATS"
    kill -USR1 "$IMPAIR_BK_PID" 2>/dev/null || return 1
    for _ in $(seq 50); do [ -s "$IMPAIR_BK_STATS" ] && break; sleep 0.1; done
    "$LAB_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(d[sys.argv[3]][sys.argv[2]] if len(sys.argv) > 3 else d[sys.argv[2]])' "$IMPAIR_BK_STATS" "$@"
}

lab_impair_start() {
    local bin=${NDG_IMPAIR:-$LAB_BUILD/tests/lab/impair/ndrguard-impair} t=0
    [ -x "$bin" ] || { lab_log "no impairment bridge binary at $bin"; return 1; }
    rm -f "$IMPAIR_STATS"
    ip netns exec "$IMPAIR_NETNS" "$bin" -a "$IMPAIR_IF_A" -b "$IMPAIR_IF_B" \
        -S "$IMPAIR_STATS" -c "$IMPAIR_CONF" "$@" >>"$IMPAIR_LOG" 2>&1 &
    IMPAIR_PID=$!
    export IMPAIR_PID
    echo "$IMPAIR_PID" >"$LAB_RUN_DIR/impair.pid"
    # The bridge writes its first stats file once both sockets are bound.
    while [ ! -s "$IMPAIR_STATS" ]; do
        if ! kill -0 "$IMPAIR_PID" 2>/dev/null || [ $t -ge 50 ]; then
            lab_log "impairment bridge did not start:"
            sed 's/^/  | /' "$IMPAIR_LOG" >&2
            return 1
        fi
        sleep 0.1; t=$((t + 1))
    done
}

# lab_impair_set [options...]: replace the impairments of the running bridge (SIGHUP + --config)
# without restarting it: counters, queues and PRNG streams carry on. No options = no impairment.
# Only impairment options (--dir --loss --dup --corrupt --reorder* --delay --jitter --ordered
# --rate --burst --rate-queue) are accepted. Returns 1 if the bridge refused them (old ones stay).
lab_impair_set() {
    local gen fail t=0
    [ -n "${IMPAIR_PID:-}" ] || { lab_log "lab_impair_set: no bridge"; return 1; }
    gen=$(lab_impair_stat generation) || return 1
    fail=$(lab_impair_stat reload_failed) || return 1
    printf '%s\n' "$@" >"$IMPAIR_CONF.tmp" && mv "$IMPAIR_CONF.tmp" "$IMPAIR_CONF"
    kill -HUP "$IMPAIR_PID" || return 1
    # The bridge rewrites its stats file after every reload: generation + 1 or reload_failed + 1.
    while [ "$(lab_impair_stat generation 2>/dev/null)" = "$gen" ]; do
        if [ $t -ge 50 ] || [ "$(lab_impair_stat reload_failed 2>/dev/null)" != "$fail" ]; then
            lab_log "impairment bridge refused: $*"
            tail -n 3 "$IMPAIR_LOG" | sed 's/^/  | /' >&2
            return 1
        fi
        sleep 0.1; t=$((t + 1))
    done
    lab_log "impairments now: ${*:-none}"
}

# lab_impair_refresh: make the bridge rewrite IMPAIR_STATS now (SIGUSR1) and wait for it.
lab_impair_refresh() {
    local t=0
    [ -n "${IMPAIR_PID:-}" ] || return 0
    rm -f "$IMPAIR_STATS"
    kill -USR1 "$IMPAIR_PID" 2>/dev/null || return 1
    while [ ! -s "$IMPAIR_STATS" ]; do
        [ $t -lt 50 ] || return 1
        sleep 0.1; t=$((t + 1))
    done
}

# lab_impair_stat KEY [DIR]: one value from IMPAIR_STATS as last written, e.g.
# `lab_impair_stat dropped ab`, `lab_impair_stat generation`. Call lab_impair_refresh first for
# current figures.
lab_impair_stat() {
    python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(d[sys.argv[3]][sys.argv[2]] if len(sys.argv) > 3 else d[sys.argv[2]])' \
        "$IMPAIR_STATS" "$@"
}

# lab_impair_write_env FILE: append the bridge's facts (IMPAIR_*) to a lab.env written by
# lab_write_env, so tools outside the lab scripts can read counters or change impairments.
lab_impair_write_env() {
    [ -n "${IMPAIR_NETNS:-}" ] || return 0
    {
        echo "IMPAIR_NETNS=$IMPAIR_NETNS"
        echo "IMPAIR_IF_A=$IMPAIR_IF_A"
        echo "IMPAIR_IF_B=$IMPAIR_IF_B"
        echo "IMPAIR_PID=${IMPAIR_PID:-}"
        echo "IMPAIR_STATS=$IMPAIR_STATS"
        echo "IMPAIR_CONF=$IMPAIR_CONF"
        echo "IMPAIR_LOG=$IMPAIR_LOG"
    } >>"$1"
}

# lab_impair_stop: SIGTERM (the bridge writes its final counters), wait up to 5 s, then SIGKILL.
lab_impair_stop() {
    local pid=${IMPAIR_PID:-} t=0 rc=0
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && [ $t -lt 50 ]; do sleep 0.1; t=$((t + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
        lab_log "impairment bridge $pid ignored SIGTERM, killing"
        kill -KILL "$pid" 2>/dev/null || true
        rc=1
    fi
    wait "$pid" 2>/dev/null || rc=$?
    IMPAIR_PID=
    return $rc
}

# lab_impair_down [--no-restore]: stop the bridge and delete the router namespace (its veths
# take CLIENT_IF and APPLIANCE_EXT_IF with them); then recreate the direct client ↔ appliance
# pair, unless --no-restore (lab_down). A no-op when there is no router namespace.
lab_impair_down() {
    local ns=${LAB_ID:+$LAB_ID-rt} pid d
    [ -n "$ns" ] || return 0
    lab_impair_stop >/dev/null 2>&1 || true
    ip netns list 2>/dev/null | grep -qE "^$ns( |$)" || return 0
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
    IMPAIR_NETNS=
    [ "${1:-}" = --no-restore ] && return 0
    # Veth deletion is asynchronous: wait until the old names are free.
    for d in $(seq 50); do
        ip -n "$CLIENT_NETNS" link show "$CLIENT_IF" >/dev/null 2>&1 || \
            ip -n "$APPLIANCE_NETNS" link show "$APPLIANCE_EXT_IF" >/dev/null 2>&1 || break
        sleep 0.1
    done
    ip link add "$CLIENT_IF" netns "$CLIENT_NETNS" type veth \
        peer name "$APPLIANCE_EXT_IF" netns "$APPLIANCE_NETNS" || return 1
    lab_client_addrs
    for d in "$CLIENT_NETNS:$CLIENT_IF" "$APPLIANCE_NETNS:$APPLIANCE_EXT_IF"; do
        lab_offloads_off "${d%%:*}" "${d#*:}"
        ip -n "${d%%:*}" link set "${d#*:}" up
    done
    ip -n "$CLIENT_NETNS" route add "$LAB_INT_NET.0/24" via "$APPLIANCE_IP"
    lab_log "impairment bridge removed, client ↔ appliance direct again"
}
