#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Ingress anti-spoofing (BCP 38) on the external port and unverified verdicts kept out of XDP
# (DESIGN.md §3 "Hostile peers"), on PMD $1 (af_packet: ndrguard-control attaches xdp_guard
# natively in front of the dataplane's packet socket).
# Checked: SYNs from the client namespace claiming the backend, another backend, an internal
# host, a host of the internal port's subnet, either appliance address or an (inside) relay
# network reach no listener and move drop_ip_spoofed_src, while a relay network marked
# 'external' and a real client still get through; an early talker (its connection never
# acknowledged a byte of ours) is logged but not put in the XDP block map, and counted in
# ndrguard_xdp_verdicts_unverified_total, while a harvester (who read our replies) still is.
# variants: af_packet
set -u
PMD=${1:-af_packet}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$HERE/lab.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
cli() { ip netns exec "$CLIENT_NETNS" "$LAB_PY" "$HERE/antispoof_client.py" "$@"; }
# stat NAME: a dataplane counter, 0 when the build does not have it.
stat() {
    "$LAB_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["counters"].get(sys.argv[2], 0))' \
        "$DATAPLANE_STATS" "$1"
}
N=3

# spoof SRC want: send N SYNs claiming SRC; want "drop" (counted, no listener saw them) or
# "pass" (the listener saw them).
spoof() {
    local src=$1 want=$2 d0 s0 d1 s1 t=0
    d0=$(stat drop_ip_spoofed_src)
    s0=$(stat tcp_syn_rx)
    cli syn "$src" "$APPLIANCE_IP" 25 $N >/dev/null || fail "scapy could not send from $src"
    while :; do
        sleep 0.2; t=$((t + 1))
        d1=$(stat drop_ip_spoofed_src)
        s1=$(stat tcp_syn_rx)
        [ $((d1 - d0 + s1 - s0)) -ge $N ] && break
        [ $t -ge 15 ] && break
    done
    if [ "$want" = drop ]; then
        [ $((s1 - s0)) = 0 ] || fail "$src: $((s1 - s0)) spoofed SYNs reached the listener"
        [ $((d1 - d0)) = $N ] || fail "$src: drop_ip_spoofed_src moved by $((d1 - d0)), not $N"
        echo "ok: SYNs claiming $src dropped on the external port (drop_ip_spoofed_src +$N, no SYN seen)"
    else
        [ $((d1 - d0)) = 0 ] || fail "$src: dropped as spoofed"
        [ $((s1 - s0)) = $N ] || fail "$src: the listener saw $((s1 - s0)) SYNs, not $N"
        echo "ok: SYNs claiming $src (outside) reach the listener"
    fi
}

body() {
    lab_up "$LAB_ID_WANTED"
    export LAB_BPFFS
    LAB_GREETING_DELAY=1s lab_control_config
    printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$APPLIANCE_NETNS" \
        "${NDG_CONTROL_BIN:-$LAB_BUILD/control/ndrguard-control}" >"$LAB_RUN_DIR/control-in-ns"
    chmod +x "$LAB_RUN_DIR/control-in-ns"
    export NDG_CONTROL=$LAB_RUN_DIR/control-in-ns
    sed -i 's/^harvest budget .*/harvest budget 3 per 10m tarpit 10ms/' "$CONTROL_CONF"
    cat >>"$CONTROL_CONF" <<CONF
relay network 198.18.6.0/24
relay network 198.18.7.0/24 external
domain other.$DOMAIN {
    backend 198.18.8.1
}
xdp enable yes
xdp pin-path $LAB_BPFFS
xdp verdict-ttl 30s
xdp interface $APPLIANCE_EXT_IF
xdp mode native
CONF
    lab_control_start || fail "control daemon did not start"
    lab_dataplane_start "$PMD" --app smtp || fail "dataplane did not start"
    lab_wait_synced 10 || fail "dataplane not in sync"
    grep -q 'xdp: maps under' "$CONTROL_LOG" || { cat "$CONTROL_LOG"; fail "control did not load XDP"; }

    grep -q 'port 0: external' "$DATAPLANE_LOG" && grep -q 'port 1: internal' "$DATAPLANE_LOG" ||
        { grep 'port [0-9]:' "$DATAPLANE_LOG"; fail "ports not given their roles"; }
    echo "ok: $(grep -o 'port 0: [a-z-]*' "$DATAPLANE_LOG" | tail -1), $(grep -o 'port 1: [a-z-]*' "$DATAPLANE_LOG" | tail -1)"
    cli greet "$CLIENT_IP" "$APPLIANCE_IP" || fail "a legitimate client got no greeting"
    echo "ok: $CLIENT_IP gets the greeting"
    spoof "$BACKEND_IP" drop             # a backend, in the internal network and subnet
    spoof 198.18.8.1 drop                # a backend only (not on any connected subnet)
    spoof "${INTERNAL_HOSTS%% *}" drop   # an internal network's host
    spoof "$OUTSIDE_HOST" drop           # the internal port's subnet, no network configured
    spoof "$APPLIANCE_IP" drop           # our own address on this port
    spoof "$APPLIANCE_INT_IP" drop       # our own address on the other port
    spoof 198.18.6.5 drop                # a relay network
    spoof 198.18.7.5 pass                # a relay network marked 'external'
    spoof 198.18.1.9 pass                # an outside host
    cli greet "$CLIENT_IP" "$APPLIANCE_IP" || fail "the legitimate client lost its greeting"
    echo "ok: $CLIENT_IP still gets the greeting"
    local m
    # Control runs in the appliance namespace: so does its metrics listener.
    m=$(ip netns exec "$APPLIANCE_NETNS" curl -s "$METRICS_URL" |
        awk '$1 == "ndrguard_dataplane_drop_ip_spoofed_src_total" {print $2}')
    [ "${m:-0}" -ge $((7 * N)) ] || fail "ndrguard_dataplane_drop_ip_spoofed_src_total is '${m:-}'"
    echo "ok: exported as ndrguard_dataplane_drop_ip_spoofed_src_total $m"

    # An early talker never acknowledged a byte of ours: its verdict is logged, not blocked.
    cli early 198.18.1.5 "$APPLIANCE_IP" || fail "early talker not answered 554"
    local t=0
    until grep -qs '"client":"198.18.1.5".*"rule":"early_talker"' "$LAB_RUN_DIR/decisions.log"; do
        [ $t -ge 50 ] && fail "no early_talker decision for 198.18.1.5"
        sleep 0.1; t=$((t + 1))
    done
    # A harvester read our greeting and replies: its verdict still reaches XDP (and shows the
    # records were read past the early talker's).
    ip netns exec "$CLIENT_NETNS" "$LAB_PY" "$HERE/xdp_client.py" harvest 198.18.1.3 "$APPLIANCE_IP" ||
        fail "no harvest verdict"
    t=0
    until $NDRCTL block list | grep -q '^xdp 198.18.1.3/32  reason harvest'; do
        [ $t -ge 50 ] && { $NDRCTL block list; fail "harvest verdict did not reach XDP"; }
        sleep 0.1; t=$((t + 1))
    done
    echo "ok: the harvester (198.18.1.3) is blocked at XDP"
    if $NDRCTL block list | grep -q '198.18.1.5/32'; then
        $NDRCTL block list
        fail "the early talker 198.18.1.5 went into the XDP block map"
    fi
    local unv
    unv=$(ip netns exec "$APPLIANCE_NETNS" curl -s "$METRICS_URL" | awk '$1 == "ndrguard_xdp_verdicts_unverified_total" {print $2}')
    [ "${unv:-0}" -ge 1 ] || fail "ndrguard_xdp_verdicts_unverified_total is '${unv:-}'"
    echo "ok: the early talker (198.18.1.5) is logged, not blocked (verdicts_unverified $unv)"
    lab_control_stop TERM
}

LAB_ID_WANTED=as$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
LAB_BPFFS=/run/ndrguard/bpffs-$LAB_ID_WANTED
mkdir -p "$LAB_BPFFS" && mount -t bpf bpf "$LAB_BPFFS" || fail "cannot mount bpffs"
( body )
rc=$?
umount "$LAB_BPFFS" && rmdir "$LAB_BPFFS" || rc=1
[ $rc = 0 ] || exit 1
left=$(lab_leftovers "$LAB_ID_WANTED")
[ -z "$left" ] || fail "lab left behind: $left"
echo "ok: no namespace, link, process or bpffs left behind"
