#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Rate limit: a TCP transfer through a 20 Mbit/s shaper (both ways) gets a goodput between 80 %
# and 100 % of it; then a 21 Mbit/s UDP stream into a 10 Mbit/s shaper (live change) comes out at
# 10 Mbit/s ± 5 % of frame bits, and what the shaper could not queue is counted as rate_dropped.
set -eu
# shellcheck source-path=SCRIPTDIR source=impair/impair-test.sh
source "$(dirname "$0")/impair/impair-test.sh"
it_setup imrate --seed 5 --rate 20M
R=$LAB_RUN_DIR
it_tcp "$R/tcp.json" $((5 * 1024 * 1024))
it_stats "$R/stats1.json"
lab_impair_set --dir ab --rate 10M --rate-queue 50 2>>"$IT_LOG" || it_fail "lab_impair_set refused"
# 1000-byte datagrams: 1042-byte frames, 2500/s = 20.8 Mbit/s offered for 2 s.
it_udp "$R/udp.json" 5000 1000 2500
it_stats "$R/stats2.json"
verdict=$(it_judge "$(cat <<'PY'
t, ts, u, s1, s2 = j
if t['sha256'] != ts['sha256'] or t['bytes'] != ts['bytes']:
    print(f"TCP transfer corrupted: {t} vs {ts}"); sys.exit(1)
tcp_ok = 0.80 * 20e6 <= t['goodput_bps'] <= 1.0 * 20e6
frame = 1000 + 42
udp_bps = (u['received'] - 1) * frame * 8 / u['seconds'] if u['seconds'] else 0
ab2 = s2['ab']
dropped = ab2['rate_dropped'] - s1['ab']['rate_dropped']
udp_ok = abs(udp_bps - 10e6) <= 0.05 * 10e6 and dropped > 0 and u['unique'] + dropped == 5000
print(f"rate 20M: TCP goodput {t['goodput_bps']/1e6:.2f} Mbit/s for {t['bytes']>>20} MiB "
      f"(want 16-20); rate 10M: UDP {udp_bps/1e6:.2f} Mbit/s of frames "
      f"(want 9.5-10.5), {dropped} of 5000 rate-dropped, {u['unique']} delivered")
sys.exit(0 if tcp_ok and udp_ok else 1)
PY
)" "$R/tcp.json" "$R/tcp.json.send" "$R/udp.json" "$R/stats1.json" "$R/stats2.json") ||
    it_fail "$verdict"
it_pass "$verdict"
