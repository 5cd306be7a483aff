# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# Shared by tests/lab/test-impair-*.sh: a lab whose appliance namespace is a plain Linux peer
# (no DPDK) on APPLIANCE_IP, joined to the client through the impairment bridge, plus traffic
# helpers around impair-peer.py. Results go to files in LAB_RUN_DIR; the verdict is one line.
# Exit codes: 0 pass, 1 fail, 77 skip (meson's convention).

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lab.sh
source "$IT_DIR/../lab.sh"
IT_PEER="$IT_DIR/impair-peer.py"
IT_PORT=9000

it_fail() { echo "FAIL: $*"; exit 1; }
it_cannot() { echo "FAIL: cannot run: $*"; exit 1; }

# Quiet lab: its progress lines go to a log unless IT_VERBOSE=1.
if [ "${IT_VERBOSE:-0}" != 1 ]; then
    lab_log() { printf 'lab: %s\n' "$*" >>"${IT_LOG:-/dev/null}"; }
fi

# it_setup ID [bridge options...]
it_setup() {
    local id=$1 cmac amac bin
    shift
    # Not a skip: a test that cannot run here is a failure to fix (run as root).
    [ "$(id -u)" -eq 0 ] || it_cannot "needs root"
    bin=${NDG_IMPAIR:-$LAB_TOP/build/tests/lab/impair/ndrguard-impair}
    [ -x "$bin" ] || it_fail "no bridge binary at $bin (meson setup build && ninja -C build)"
    export LAB_RUN_DIR=/run/ndrguard/lab-$id
    IT_LOG=/run/ndrguard/test-$id.log
    mkdir -p /run/ndrguard && : >"$IT_LOG"
    lab_up "$id" 2>>"$IT_LOG" || it_fail "lab_up failed (see $IT_LOG)"
    lab_impair_up "$@" 2>>"$IT_LOG" || it_fail "lab_impair_up $* failed (see $IT_LOG)"
    ip -n "$APPLIANCE_NETNS" addr add "$APPLIANCE_IP/24" dev "$APPLIANCE_EXT_IF"
    # Static neighbours: no ARP frame mixes with the counted traffic (replay needs that).
    cmac=$(ip netns exec "$CLIENT_NETNS" cat "/sys/class/net/$CLIENT_IF/address")
    amac=$(ip netns exec "$APPLIANCE_NETNS" cat "/sys/class/net/$APPLIANCE_EXT_IF/address")
    ip -n "$CLIENT_NETNS" neigh replace "$APPLIANCE_IP" lladdr "$amac" \
        dev "$CLIENT_IF" nud permanent
    ip -n "$APPLIANCE_NETNS" neigh replace "$CLIENT_IP" lladdr "$cmac" \
        dev "$APPLIANCE_EXT_IF" nud permanent
}

# it_wait_file FILE: up to 5 s for FILE to appear.
it_wait_file() {
    local t=0
    while [ ! -e "$1" ]; do
        [ $t -lt 50 ] || return 1
        sleep 0.1; t=$((t + 1))
    done
}

# it_udp OUT COUNT SIZE PPS: COUNT numbered datagrams of SIZE bytes, client → appliance, at PPS;
# the receiver's JSON lands in OUT.
it_udp() {
    local out=$1 count=$2 size=$3 pps=$4 rdy=$LAB_RUN_DIR/udp.ready rpid
    rm -f "$rdy"
    ip netns exec "$APPLIANCE_NETNS" python3 "$IT_PEER" udp-recv \
        --bind "$APPLIANCE_IP:$IT_PORT" --idle 1 --timeout 60 --ready "$rdy" >"$out" &
    rpid=$!
    it_wait_file "$rdy" || it_fail "UDP receiver did not start"
    ip netns exec "$CLIENT_NETNS" python3 "$IT_PEER" udp-send --to "$APPLIANCE_IP:$IT_PORT" \
        --count "$count" --size "$size" --pps "$pps" --timeout 60 >"$out.send" ||
        it_fail "UDP sender failed: $(cat "$out.send")"
    wait "$rpid" || it_fail "UDP receiver failed: $(cat "$out")"
}

# it_tcp OUT BYTES [SEED]: one TCP transfer client → appliance; OUT gets the receiver's JSON,
# OUT.send the sender's. Bounded by a 90 s timeout on both ends.
it_tcp() {
    local out=$1 bytes=$2 seed=${3:-1} rdy=$LAB_RUN_DIR/tcp.ready rpid
    rm -f "$rdy"
    ip netns exec "$APPLIANCE_NETNS" python3 "$IT_PEER" tcp-recv \
        --bind "$APPLIANCE_IP:$IT_PORT" --timeout 90 --ready "$rdy" >"$out" &
    rpid=$!
    it_wait_file "$rdy" || it_fail "TCP receiver did not start"
    ip netns exec "$CLIENT_NETNS" python3 "$IT_PEER" tcp-send --to "$APPLIANCE_IP:$IT_PORT" \
        --bytes "$bytes" --seed "$seed" --timeout 90 >"$out.send" ||
        it_fail "TCP sender failed: $(cat "$out.send")"
    wait "$rpid" || it_fail "TCP receiver failed: $(cat "$out")"
}

# it_snmp NS OUT: the namespace's /proc/net/snmp and /proc/net/netstat counters as JSON,
# keys like "Tcp.InCsumErrors".
it_snmp() {
    ip netns exec "$1" python3 -c '
import json
d = {}
for path in ("/proc/net/snmp", "/proc/net/netstat"):
    lines = open(path).read().splitlines()
    for k, v in zip(lines[0::2], lines[1::2]):
        p, keys = k.split(":", 1)
        for name, val in zip(keys.split(), v.split(":", 1)[1].split()):
            d[p + "." + name] = int(val)
print(json.dumps(d))' >"$2"
}

# it_stats OUT: current bridge counters copied to OUT, after checking that they add up in each
# direction: every frame received is forwarded, still queued, or counted by the reason it left.
it_stats() {
    local why
    lab_impair_refresh || it_fail "bridge did not write its counters"
    cp "$IMPAIR_STATS" "$1"
    why=$(python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
for d in ("ab", "ba"):
    c = s[d]
    out = (c["rx"] - c["dropped"] - c["truncated"] + c["duplicated"] - c["rate_dropped"]
           - c["queue_dropped"] - c["tx_errors"] - c["queued"])
    if out != c["forwarded"]:
        print(f"{d}: counters do not add up: {out} expected forwarded, {c}")
        sys.exit(1)' "$1") || it_fail "$why"
}

# it_pass MESSAGE: the one-line verdict; the log is only kept for failures.
it_pass() {
    echo "PASS: $*"
    lab_down
    rm -f "${IT_LOG:-}"
    exit 0
}

# it_judge PYTHON [FILES...]: run PYTHON with sys.argv[1:] = FILES, each loaded as JSON into
# j[0], j[1]...; it must print one line and exit 0 (pass) or 1 (fail). Helpers: within(x, lo, hi),
# binom_ok(k, n, p) (k within ±3 sigma of n*p).
it_judge() {
    local code=$1
    shift
    python3 - "$@" <<PYEOF
import json, math, sys
j = [json.load(open(f)) for f in sys.argv[1:]]
def binom_ok(k, n, p):
    s = math.sqrt(n * p * (1 - p))
    return abs(k - n * p) <= 3 * s, n * p, 3 * s
$code
PYEOF
}
