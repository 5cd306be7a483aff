#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# 10 % loss client → appliance over 20,000 UDP datagrams: every frame reaches the bridge, the
# measured loss is within ±3 sigma of 10 %, the bridge's own count agrees with the receiver, and
# the other direction is left alone.
set -eu
# shellcheck source-path=SCRIPTDIR source=impair/impair-test.sh
source "$(dirname "$0")/impair/impair-test.sh"
it_setup imloss --seed 7 --dir ab --loss 10
R=$LAB_RUN_DIR
it_udp "$R/udp.json" 20000 64 20000
it_stats "$R/stats.json"
verdict=$(it_judge "$(cat <<'PY'
r, s = j[0], j[1]['ab']
n = 20000
lost = n - r['unique']
ok, mean, b = binom_ok(lost, n, 0.10)
if s['rx'] != n:
    print(f"bridge saw {s['rx']} of {n} frames (loss before the bridge)"); sys.exit(1)
if s['forwarded'] != r['received']:
    print(f"bridge forwarded {s['forwarded']}, receiver got {r['received']}"); sys.exit(1)
if s['dropped'] != lost or r['duplicates'] or j[1]['ba']['dropped']:
    print(f"counters disagree: bridge {s} receiver {r}"); sys.exit(1)
print(f"loss 10%: measured {100*lost/n:.2f}% of {n} UDP frames (bound 10±{100*b/n:.2f}%), "
      f"bridge dropped {s['dropped']}, all others delivered")
sys.exit(0 if ok else 1)
PY
)" "$R/udp.json" "$R/stats.json") || it_fail "$verdict"
it_pass "$verdict"
