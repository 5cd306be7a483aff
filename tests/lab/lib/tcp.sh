# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# Helpers for the TCP lab tests (tests/lab/test-tcp-*.sh): counters from the dataplane's
# stats file, waiting for a counter, loss on the client's own link, and failing with a reason.
# Source after tests/lab/lab.sh.

TCP_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3 # Debian's python3 has scapy; a pyenv shim on PATH may not

# tcp_fail REASON: one line on stdout, non-zero exit (the EXIT trap cleans the lab).
tcp_fail() {
    echo "FAIL: $*"
    exit 1
}

# tcp_stat NAME: a counter, or the mbufs in use with NAME=mbufs_in_use.
tcp_stat() {
    "$PY" - "$DATAPLANE_STATS" "$1" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
k = sys.argv[2]
print(d["mbufs"]["in_use"] if k == "mbufs_in_use" else d["counters"][k])
PYEOF
}

# tcp_wait_stat NAME OP VALUE SECONDS: wait until "NAME OP VALUE" holds (OP: eq ge le).
tcp_wait_stat() {
    local name=$1 op=$2 want=$3 secs=$4 t=0 v
    while :; do
        v=$(tcp_stat "$name" 2>/dev/null || echo -1)
        case $op in
        eq) [ "$v" -eq "$want" ] && return 0 ;;
        ge) [ "$v" -ge "$want" ] && return 0 ;;
        le) [ "$v" -le "$want" ] && return 0 ;;
        esac
        [ $t -ge $((secs * 10)) ] && { echo "$name=$v (want $op $want)"; return 1; }
        sleep 0.1
        t=$((t + 1))
    done
}

# tcp_counters: the non-zero TCP/app counters on one line (for failure reports and logs).
tcp_counters() {
    "$PY" - "$DATAPLANE_STATS" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["counters"]
print(" ".join("%s=%d" % (k, v) for k, v in c.items()
               if v and (k.startswith("tcp") or k.startswith("app") or k.startswith("arp"))),
      "mbufs_in_use=%d" % d["mbufs"]["in_use"])
PYEOF
}

# tcp_impair_client PERCENT: drop PERCENT % of the client's frames each way, in the client
# namespace (never on the dataplane's veth: packet sockets see frames before netfilter).
tcp_impair_client() {
    local p=$1
    ip netns exec "$CLIENT_NETNS" nft delete table inet ndgimp 2>/dev/null || true
    [ "$p" -gt 0 ] || return 0
    ip netns exec "$CLIENT_NETNS" nft -f - <<NFT
table inet ndgimp {
    chain out { type filter hook output priority 0; policy accept; oifname "$CLIENT_IF" numgen random mod 100 < $p drop; }
    chain in { type filter hook input priority 0; policy accept; iifname "$CLIENT_IF" numgen random mod 100 < $p drop; }
}
NFT
}

# tcp_echo_run ARGS...: the concurrent echo client in the client namespace.
tcp_echo_run() {
    ip netns exec "$CLIENT_NETNS" "$PY" "$TCP_LIB_DIR/tcp_echo_client.py" "$@"
}

# tcp_expect_idle SECONDS: the connection table drains and no mbuf stays with a connection
# (what is left in use is the rx rings and caches: compare with the count before traffic).
tcp_expect_idle() {
    local secs=$1 base=${2:-} r
    r=$(tcp_wait_stat tcp_conn_active eq 0 "$secs") || tcp_fail "connections left in the table: $r; $(tcp_counters)"
    if [ -n "$base" ]; then
        r=$(tcp_wait_stat mbufs_in_use le "$base" 5) || tcp_fail "mbufs still held after close: $r (before: $base)"
    fi
}
