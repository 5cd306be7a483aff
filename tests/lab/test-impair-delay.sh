#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Delay per direction, seen by ping: client → appliance 50 ms ± 10 ms uniform jitter, appliance →
# client 20 ms, so RTTs are in [60, 80] ms (90 % of them: the box is shared, scheduling noise
# exists) with their mean 70 ms within ±3 sigma; then a live change (lab_impair_set, SIGHUP) to
# 5 ms both ways brings the RTT to ~10 ms. Last, 2,000 UDP datagrams through 5 ± 4 ms jitter
# arrive partly out of order, and in order with --ordered.
set -eu
# shellcheck source-path=SCRIPTDIR source=impair/impair-test.sh
source "$(dirname "$0")/impair/impair-test.sh"
it_setup imdelay --seed 3 --dir ab --delay 50 --jitter 10 --dir ba --delay 20
R=$LAB_RUN_DIR
ip netns exec "$CLIENT_NETNS" ping -n -c 100 -i 0.02 -W 2 "$APPLIANCE_IP" >"$R/ping1.txt" || true
lab_impair_set --delay 5 2>>"$IT_LOG" || it_fail "lab_impair_set refused --delay 5"
ip netns exec "$CLIENT_NETNS" ping -n -c 20 -i 0.05 -W 2 "$APPLIANCE_IP" >"$R/ping2.txt" || true
it_stats "$R/stats.json"
lab_impair_set --dir ab --delay 5 --jitter 4 2>>"$IT_LOG" || it_fail "lab_impair_set refused"
it_udp "$R/udp-jitter.json" 2000 64 5000
lab_impair_set --dir ab --delay 5 --jitter 4 --ordered 2>>"$IT_LOG" || it_fail "lab_impair_set refused"
it_udp "$R/udp-ordered.json" 2000 64 5000
for f in ping1 ping2; do
    sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' "$R/$f.txt" | python3 -c \
        'import json,sys; print(json.dumps([float(x) for x in sys.stdin]))' >"$R/$f.json"
done
verdict=$(it_judge "$(cat <<'PY'
p1, p2, s, uj, uo = j
if len(p1) != 100 or len(p2) != 20:
    print(f"lost pings: {len(p1)}/100, {len(p2)}/20"); sys.exit(1)
m1 = sum(p1) / len(p1)
sd1 = math.sqrt(sum((x - m1) ** 2 for x in p1) / (len(p1) - 1))
p90 = sorted(p1)[89]
med2 = sorted(p2)[10]
# Uniform jitter of ±10 ms: sigma 20/sqrt(12) = 5.77 ms, so the mean of 100 is 70 ± 1.73 ms
# (3 sigma); forwarding and scheduling add a little on top (+1 ms allowed), never less.
ok = (min(p1) >= 59.9 and p90 <= 81.5 and 70 - 1.73 <= m1 <= 70 + 1.73 + 1
      and 4 <= sd1 <= 7.5 and min(p2) >= 9.9 and med2 <= 11
      and s['generation'] == 1 and s['ab']['delayed'] >= 100 and s['ba']['delayed'] >= 100
      and uj['unique'] == 2000 and uj['out_of_order'] > 100
      and uo['unique'] == 2000 and uo['out_of_order'] == 0)
print(f"delay ab 50±10 ms, ba 20 ms: RTT min/avg/p90/max/sd {min(p1):.1f}/{m1:.1f}/{p90:.1f}/"
      f"{max(p1):.1f}/{sd1:.1f} ms over 100 pings (want >=60, 70±1.7, <=81.5); "
      f"after live set to 5 ms: median {med2:.1f} ms (want ~10); UDP through 5±4 ms jitter: "
      f"{uj['out_of_order']} of 2000 out of order, with --ordered {uo['out_of_order']}")
sys.exit(0 if ok else 1)
PY
)" "$R/ping1.json" "$R/ping2.json" "$R/stats.json" \
    "$R/udp-jitter.json" "$R/udp-ordered.json") || it_fail "$verdict"
it_pass "$verdict"
