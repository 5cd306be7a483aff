#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The dataplane in the lab on PMD $1 (af_packet, af_xdp, tap): arping resolves it, ping -c 20
# gets 20 replies, a flood of malformed and foreign frames is dropped and counted by reason
# while a second ping -c 20 still gets every reply, SIGTERM stops it cleanly, and the lab
# leaves no namespace, link or process behind.
#   usage: tests/lab/test-ping.sh [huge:]PMD [COUNT]   (huge: EAL on 2 MiB hugepages)
# variants: af_packet af_xdp tap huge:af_packet
set -u
PMD=${1:?usage: test-ping.sh [huge:]af_packet|af_xdp|tap [COUNT]}
case $PMD in
huge:*)
    PMD=${PMD#huge:}
    export LAB_HUGE=1
    ;;
esac
COUNT=${2:-10000}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$HERE/lab.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }

ping20() {
    local out
    out=$(ip netns exec "$CLIENT_NETNS" ping -n -q -c 20 -i 0.2 -W 2 "$APPLIANCE_IP" 2>&1)
    echo "$out" | grep -q ' 20 received' || { echo "$out" >&2; return 1; }
}

body() {
    lab_up "${LAB_ID_WANTED}"
    lab_dataplane_start "$PMD" || fail "dataplane did not start on $PMD"

    ip netns exec "$CLIENT_NETNS" arping -q -c 3 -w 5 -I "$CLIENT_IF" "$APPLIANCE_IP" ||
        fail "arping got no reply"
    ip netns exec "$CLIENT_NETNS" ip neigh flush dev "$CLIENT_IF"
    ping20 || fail "ping -c 20 did not get 20 replies"
    echo "ok: arping and 20/20 ping replies on $PMD"

    local mac before after
    mac=$(ip netns exec "$CLIENT_NETNS" ip neigh show "$APPLIANCE_IP" dev "$CLIENT_IF" | awk '{print $3}')
    [ -n "$mac" ] || fail "no neighbour entry for $APPLIANCE_IP"
    sleep 0.5
    before=$(cat "$DATAPLANE_STATS")

    ping20 &
    local ping_pid=$!
    local flood frag_opt=
    # af_packet's fanout group reassembles fragments in the kernel before the PMD sees them.
    [ "$PMD" = af_packet ] && frag_opt=--no-fragments
    flood=$(ip netns exec "$CLIENT_NETNS" "$LAB_PY" "$HERE/malformed.py" $frag_opt \
        "$CLIENT_IF" "$mac" "$APPLIANCE_IP" "$CLIENT_IP" "$COUNT") || fail "malformed.py failed"
    wait "$ping_pid" || fail "ping -c 20 lost replies during the malformed flood"
    sleep 0.6
    after=$(cat "$DATAPLANE_STATS")

    "$LAB_PY" - "$before" "$after" "$flood" <<'PY' || fail "drop counters do not match what was sent"
import json, sys
before, after, flood = (json.loads(x) for x in sys.argv[1:4])
b, a = before["counters"], after["counters"]
missed = sum(p["imissed"] for p in after["ports"]) - sum(p["imissed"] for p in before["ports"])
ok = True
got_total = 0
for name, want in sorted(flood["expected"].items()):
    got = a[name] - b[name]
    got_total += got
    good = want - missed <= got <= want
    ok &= good
    print("  %-24s sent %6d counted %6d %s" % (name, want, got, "" if good else "MISMATCH"))
print("  sent %d, counted %d, missed by the port %d" % (flood["sent"], got_total, missed))
ok &= got_total + missed == flood["sent"] and flood["sent"] > 0
sys.exit(0 if ok else 1)
PY
    echo "ok: $COUNT malformed frames dropped and counted by reason, ping kept working"

    lab_dataplane_stop || fail "dataplane did not exit cleanly on SIGTERM"
    grep -q '^main: stopping' "$DATAPLANE_LOG" || fail "no orderly shutdown in the log"
    echo "ok: clean exit on SIGTERM"
}

LAB_ID_WANTED=tp$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
hp_before=$(cat /proc/sys/vm/nr_hugepages)
( body )
rc=$?
# Give back the hugepages this test reserved.
[ "${LAB_HUGE:-0}" = 1 ] && echo "$hp_before" >/proc/sys/vm/nr_hugepages
[ $rc -eq 0 ] || exit 1
left=$(lab_leftovers "$LAB_ID_WANTED")
[ -z "$left" ] || fail "lab left behind: $left"
echo "ok: no namespace, link or process left behind"
