#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bpf/xdp_guard in the lab, with ndrguard-control owning its maps, on PMD $1:
#   af_packet  ndrguard-control loads and attaches the program (native XDP on the appliance's
#              veth) in front of the dataplane's packet socket, and detaches it on stop;
#   af_xdp     the dataplane's net_af_xdp loads the same object (xdp_prog=) and shares the maps
#              control pinned; SMTP is steered into its AF_XDP socket, the rest to the kernel.
# Checked: a source blocked with ndrctl cannot complete a handshake while another delivers
# mail into Postfix; a harvester crossing the budget is dropped at XDP on its next connection
# and freed after the TTL; control restarted re-adopts the pinned maps; (af_xdp) ssh-like
# traffic to another port of the box reaches a kernel listener while SMTP goes to DPDK.
# variants: af_packet af_xdp
set -u
PMD=${1:-af_packet}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$HERE/lab.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
cli() { ip netns exec "$CLIENT_NETNS" "$LAB_PY" "$HERE/xdp_client.py" "$@"; }
xstat() { $NDRCTL xdp | awk -v k="xdp_$1" '$1 == k {print $2}'; }
TTL=8

body() {
    lab_up "$LAB_ID_WANTED"
    export LAB_BPFFS
    lab_backend_postfix_start || fail "postfix did not start"
    lab_control_config
    # Control runs in the appliance namespace: it attaches to the veth there (af_packet).
    printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$APPLIANCE_NETNS" \
        "${NDG_CONTROL_BIN:-$LAB_BUILD/control/ndrguard-control}" >"$LAB_RUN_DIR/control-in-ns"
    chmod +x "$LAB_RUN_DIR/control-in-ns"
    export NDG_CONTROL=$LAB_RUN_DIR/control-in-ns
    # The harvest verdict (421 at twice the budget) before the error limit (10) ends the session.
    sed -i 's/^harvest budget .*/harvest budget 3 per 10m tarpit 10ms/' "$CONTROL_CONF"
    {
        echo "xdp enable yes"
        echo "xdp pin-path $LAB_BPFFS"
        echo "xdp verdict-ttl ${TTL}s"
        if [ "$PMD" = af_xdp ]; then
            echo "xdp steer yes"
            echo "xdp address $APPLIANCE_IP"
        else
            echo "xdp interface $APPLIANCE_EXT_IF"
            echo "xdp mode native"
        fi
    } >>"$CONTROL_CONF"
    lab_control_start || fail "control daemon did not start"
    local t=0
    until grep -q '^ndrguard-control: ready' "$CONTROL_LOG"; do
        [ $t -ge 50 ] && break
        sleep 0.1; t=$((t + 1))
    done
    grep -q 'xdp: maps under' "$CONTROL_LOG" || { cat "$CONTROL_LOG"; fail "control did not load XDP"; }
    [ -e "$LAB_BPFFS/ndg_block" ] && [ -e "$LAB_BPFFS/xsks_map" ] || fail "maps not pinned"
    echo "ok: control loaded the program and pinned its maps under $LAB_BPFFS"
    if [ "$PMD" = af_xdp ]; then
        # The kernel owns the address too (ARP, ssh); SMTP to it is steered to DPDK.
        ip -n "$APPLIANCE_NETNS" addr add "$APPLIANCE_IP/24" dev "$APPLIANCE_EXT_IF"
        export LAB_XDP_PROG=$LAB_BUILD/bpf/xdp_guard.bpf.o
    fi
    lab_dataplane_start "$PMD" --app smtp || fail "dataplane did not start"
    lab_wait_synced 10 || fail "dataplane not in sync"
    local prog
    prog=$(ip -n "$APPLIANCE_NETNS" -d link show "$APPLIANCE_EXT_IF" | grep -o 'prog/xdp id [0-9]*' | head -1)
    [ -n "$prog" ] || fail "no XDP program on $APPLIANCE_EXT_IF"
    ip netns exec "$APPLIANCE_NETNS" bpftool prog show id "${prog##* }" | grep -q 'name xdp_guard' ||
        fail "the program on $APPLIANCE_EXT_IF is not xdp_guard"
    echo "ok: xdp_guard attached to $APPLIANCE_EXT_IF ($prog, by $([ "$PMD" = af_xdp ] && echo the dataplane || echo control))"

    cli deliver "$CLIENT_IP" "$APPLIANCE_IP" xdp-token-1 || fail "no delivery before any block"
    # 1. ndrctl block: the source's SYNs die at XDP, another source still delivers.
    $NDRCTL block add 198.18.1.4/32 | grep -q 'dropped at XDP' || fail "block add did not reach XDP"
    cli handshake 198.18.1.4 "$APPLIANCE_IP" 25 3 && fail "blocked source completed a handshake"
    cli deliver "$CLIENT_IP" "$APPLIANCE_IP" xdp-token-2 || fail "an unblocked source could not deliver"
    local n
    n=$($NDRCTL block list | awk '$1 == "xdp" && $2 == "198.18.1.4/32" && $4 == "ndrctl" {print $8}')
    [ "${n:-0}" -ge 1 ] || { $NDRCTL block list; fail "no drops counted for 198.18.1.4/32"; }
    echo "ok: 198.18.1.4 blocked by ndrctl: no handshake ($n packets dropped at XDP), 198.18.1.1 delivers"
    t=0
    until grep -rqs xdp-token-2 "$POSTFIX_DIR/mail"; do
        [ $t -ge 100 ] && fail "message from the unblocked source not in the mailbox"
        sleep 0.1; t=$((t + 1))
    done
    echo "ok: its message is in Postfix's mailbox"
    $NDRCTL block del 198.18.1.4/32 >/dev/null || fail "block del"
    cli handshake 198.18.1.4 "$APPLIANCE_IP" 25 3 || fail "unblocked source still dropped"
    echo "ok: block del frees it"
    # An ndrctl block with --ttl reaches XDP with the time it has left, and leaves it with it.
    $NDRCTL block add 198.18.1.4/32 --ttl 3s --reason ttl-test | grep -q 'dropped at XDP' ||
        fail "block add --ttl did not reach XDP"
    $NDRCTL block list | grep -qE '^xdp 198.18.1.4/32  reason ndrctl  expires [1-3]s' ||
        { $NDRCTL block list; fail "the XDP entry does not carry the block's TTL"; }
    t=0
    while $NDRCTL block list | grep -q '198.18.1.4/32'; do
        [ $t -ge 100 ] && { $NDRCTL block list; fail "the --ttl block did not lift itself"; }
        sleep 0.1; t=$((t + 1))
    done
    cli handshake 198.18.1.4 "$APPLIANCE_IP" 25 3 || fail "source still dropped after the TTL"
    echo "ok: block --ttl 3s held at XDP, then gone from the trie and the dataplane"

    # 2. Harvest verdict → timed XDP entry → dropped on the next connection → freed after TTL.
    cli harvest 198.18.1.3 "$APPLIANCE_IP" || fail "no harvest verdict"
    t=0
    until $NDRCTL block list | grep -q '^xdp 198.18.1.3/32  reason harvest'; do
        [ $t -ge 50 ] && { $NDRCTL block list; fail "harvest verdict did not reach XDP"; }
        sleep 0.1; t=$((t + 1))
    done
    cli handshake 198.18.1.3 "$APPLIANCE_IP" 25 2 && fail "harvester completed a handshake after its verdict"
    echo "ok: harvester dropped at XDP on its next connection ($($NDRCTL block list | grep '^xdp 198.18.1.3/32'))"
    # 3. A restart of control re-adopts the pinned maps: the entry is still there. An ndrctl
    #    block lost from the trie meanwhile (a fresh bpffs after a reboot) is put back.
    $NDRCTL block add 198.18.1.9/32 >/dev/null || fail "block add 198.18.1.9"
    bpftool map delete pinned "$LAB_BPFFS/ndg_block" key hex 80 00 00 00 \
        00 00 00 00 00 00 00 00 00 00 ff ff c6 12 01 09 || fail "cannot delete from the pinned trie"
    $NDRCTL block list | grep -q '^xdp 198.18.1.9/32' && fail "entry still in the trie"
    lab_control_stop TERM
    lab_control_start || fail "control did not restart"
    t=0
    until [ "$(grep -c '^ndrguard-control: ready' "$CONTROL_LOG")" = 2 ]; do
        [ $t -ge 50 ] && break
        sleep 0.1; t=$((t + 1))
    done
    grep -c 'xdp: maps under' "$CONTROL_LOG" | grep -q 2 || fail "control did not reload XDP"
    $NDRCTL block list | grep -q '^xdp 198.18.1.3/32  reason harvest' || fail "timed entry lost over a restart"
    $NDRCTL block list | grep -q '^xdp 198.18.1.9/32  reason ndrctl  expires never' ||
        fail "ndrctl block not restored to the trie on restart"
    $NDRCTL block del 198.18.1.9/32 >/dev/null
    echo "ok: control restarted and re-adopted the pinned maps (entry kept, ndrctl block restored)"
    t=0
    until ! $NDRCTL block list | grep -q '^xdp 198.18.1.3/32'; do
        [ $t -ge $(((TTL + 5) * 10)) ] && fail "harvest entry did not expire"
        sleep 0.1; t=$((t + 1))
    done
    cli handshake 198.18.1.3 "$APPLIANCE_IP" 25 3 || fail "harvester still dropped after the TTL"
    echo "ok: freed after the TTL (${TTL}s): handshake completes again"

    # 4. Steering: ssh-like traffic to another port reaches the kernel, SMTP reaches DPDK.
    if [ "$PMD" = af_xdp ]; then
        ip netns exec "$APPLIANCE_NETNS" "$LAB_PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 2222)); s.listen(4); s.settimeout(20)
c, _ = s.accept(); c.settimeout(5); c.sendall(c.recv(100))' "$APPLIANCE_IP" &
        local echo_pid=$!
        sleep 0.5
        cli echo "$CLIENT_IP" "$APPLIANCE_IP" 2222 || fail "ssh-like traffic did not reach the kernel"
        wait "$echo_pid" || fail "kernel echo server"
        cli deliver "$CLIENT_IP" "$APPLIANCE_IP" xdp-token-3 || fail "SMTP not delivered with steering"
        [ "$(xstat steer)" -gt 0 ] || fail "nothing steered"
        echo "ok: steering: port 2222 answered by the kernel, SMTP by the dataplane (steered $(xstat steer) packets)"
    fi
    $NDRCTL xdp
    # 5. Stop: control detaches what it attached; the dataplane's own attach stays.
    lab_control_stop TERM
    if [ "$PMD" = af_packet ]; then
        ip -n "$APPLIANCE_NETNS" link show "$APPLIANCE_EXT_IF" | grep -q 'xdp' && fail "program left attached after stop"
        echo "ok: control detached the program on stop"
        # 6. A foreign XDP program holds the interface: control leaves it alone, undoes its
        #    load, and serves on without XDP (the dataplane still refuses at connect).
        printf '%s\n' '#include <linux/bpf.h>' '#include <bpf/bpf_helpers.h>' \
            'SEC("xdp") int xdp_other(struct xdp_md *c) { return XDP_PASS; }' \
            'char LICENSE[] SEC("license") = "GPL";' >"$LAB_RUN_DIR/other.bpf.c"
        clang -O2 -g -target bpf -I/usr/include/"$(gcc -print-multiarch)" -c \
            "$LAB_RUN_DIR/other.bpf.c" -o "$LAB_RUN_DIR/other.bpf.o" || fail "clang"
        ip -n "$APPLIANCE_NETNS" link set dev "$APPLIANCE_EXT_IF" xdpdrv obj "$LAB_RUN_DIR/other.bpf.o" sec xdp ||
            fail "cannot attach a foreign program"
        : >"$CONTROL_LOG"
        lab_control_start || fail "control did not start beside a foreign program"
        t=0
        until grep -q '^ndrguard-control: ready' "$CONTROL_LOG"; do
            [ $t -ge 50 ] && break
            sleep 0.1; t=$((t + 1))
        done
        grep -q 'attaching XDP.*busy' "$CONTROL_LOG" || { cat "$CONTROL_LOG"; fail "no refusal logged"; }
        $NDRCTL xdp >/dev/null && fail "XDP claims to be in force"
        prog=$(ip -n "$APPLIANCE_NETNS" -d link show "$APPLIANCE_EXT_IF" | grep -o 'prog/xdp id [0-9]*' | head -1)
        ip netns exec "$APPLIANCE_NETNS" bpftool prog show id "${prog##* }" | grep -q 'name xdp_other' ||
            fail "the foreign program was replaced"
        cli deliver "$CLIENT_IP" "$APPLIANCE_IP" xdp-token-4 || fail "no delivery without XDP"
        echo "ok: a foreign XDP program is left alone; control undoes its load and serves on"
        lab_control_stop TERM
    fi
}

LAB_ID_WANTED=xd$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
# A bpffs of our own, shared by control and the dataplane's private mount namespace.
LAB_BPFFS=/run/ndrguard/bpffs-$LAB_ID_WANTED
mkdir -p "$LAB_BPFFS" && mount -t bpf bpf "$LAB_BPFFS" || fail "cannot mount bpffs"
( body )
rc=$?
umount "$LAB_BPFFS" && rmdir "$LAB_BPFFS" || rc=1
[ $rc = 0 ] || exit 1
left=$(lab_leftovers "$LAB_ID_WANTED")
[ -z "$left" ] || fail "lab left behind: $left"
echo "ok: no namespace, link, process or bpffs left behind"
