# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# Helpers for the TCP lab tests (tests/lab/test-tcp-*.sh): counters from the dataplane's
# stats file, waiting for a counter, the impairment bridges on both sides, and failing with a
# reason.
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

# tcp_impair_bridges_up [SEED]: the client-side and backend-side impairment bridges
# (lab_impair_up, lab_impair_backend_up), both forwarding unimpaired until tcp_impair_both.
# Call after lab_up, before lab_dataplane_start.
tcp_impair_bridges_up() {
    local seed=${1:-5}
    IMPAIR_BK_CONF=$LAB_RUN_DIR/impair-bk.conf
    export IMPAIR_BK_CONF
    : >"$IMPAIR_BK_CONF"
    lab_impair_up --seed "$seed" || return 1
    lab_impair_backend_up --seed $((seed + 1)) -c "$IMPAIR_BK_CONF" || return 1
}

# tcp_impair_backend_set [options...]: replace the backend-side bridge's impairments (SIGHUP
# with its --config, as lab_impair_set does for the client side).
tcp_impair_backend_set() {
    local gen t=0
    gen=$(lab_impair_backend_stat generation) || return 1
    printf '%s\n' "$@" >"$IMPAIR_BK_CONF.tmp" && mv "$IMPAIR_BK_CONF.tmp" "$IMPAIR_BK_CONF"
    kill -HUP "$IMPAIR_BK_PID" || return 1
    while [ "$(lab_impair_backend_stat generation 2>/dev/null)" = "$gen" ]; do
        [ $t -lt 50 ] || { lab_log "backend-side bridge refused: $*"; return 1; }
        sleep 0.1
        t=$((t + 1))
    done
}

# tcp_impair_sum KEY: KEY summed over both directions of both bridges (fresh counters).
tcp_impair_sum() {
    local k=$1
    lab_impair_refresh || return 1
    echo $(($(lab_impair_stat "$k" ab) + $(lab_impair_stat "$k" ba) +
        $(lab_impair_backend_stat "$k" ab) + $(lab_impair_backend_stat "$k" ba)))
}

# tcp_diag: what a failed run leaves to look at, on stdout: the dataplane's live connections
# (SIGUSR1 lists them in its log) and the Linux sockets still open in the client and backend
# namespaces (ss -tni), a few lines each.
tcp_diag() {
    local n
    echo "--- dataplane connections (log):"
    n=$(wc -l <"$DATAPLANE_LOG")
    kill -USR1 "$DATAPLANE_PID" 2>/dev/null && sleep 0.5
    tail -n +$((n + 1)) "$DATAPLANE_LOG" | grep '^tcp conn' | head -n 12
    echo "--- client sockets:"
    ip netns exec "$CLIENT_NETNS" ss -tnio state all '( dport = :7 )' 2>/dev/null | head -n 24
    echo "--- backend sockets:"
    ip netns exec "$BACKEND_NETNS" ss -tnio state all '( sport = :7 )' 2>/dev/null | grep -v LISTEN | head -n 24
}
