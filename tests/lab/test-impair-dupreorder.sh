#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# 5 % duplication and 10 % reordering (gap 3) client → appliance over 10,000 UDP datagrams: the
# receiver sees every datagram, counts exactly the duplicates the bridge made, sees the held
# frames arrive out of order, and both rates are within ±3 sigma of what was asked.
set -eu
# shellcheck source-path=SCRIPTDIR source=impair/impair-test.sh
source "$(dirname "$0")/impair/impair-test.sh"
it_setup imdupro --seed 11 --dir ab --dup 5 --reorder 10 --reorder-gap 3
R=$LAB_RUN_DIR
it_udp "$R/udp.json" 10000 64 10000
it_stats "$R/stats.json"
verdict=$(it_judge "$(cat <<'PY'
r, s = j[0], j[1]['ab']
n = 10000
if r['unique'] != n or s['rx'] != n:
    print(f"lost frames: receiver has {r['unique']}, bridge saw {s['rx']} of {n}"); sys.exit(1)
if r['duplicates'] != s['duplicated']:
    print(f"receiver saw {r['duplicates']} duplicates, bridge made {s['duplicated']}"); sys.exit(1)
dup_ok, _, dup_b = binom_ok(s['duplicated'], n, 0.05)
copies = n + s['duplicated']
ro_ok, _, ro_b = binom_ok(s['reordered'], copies, 0.10)
# A held frame arrives after the 3 that overtook it, unless it was the later copy of a duplicate.
ooo_ok = 0.8 * s['reordered'] <= r['out_of_order'] <= s['reordered']
print(f"dup 5%: {100*s['duplicated']/n:.2f}% (bound ±{100*dup_b/n:.2f}), "
      f"reorder 10%: {100*s['reordered']/copies:.2f}% of {copies} copies "
      f"(bound ±{100*ro_b/copies:.2f}), "
      f"receiver: {r['duplicates']} duplicates, {r['out_of_order']} out of order")
sys.exit(0 if dup_ok and ro_ok and ooo_ok else 1)
PY
)" "$R/udp.json" "$R/stats.json") || it_fail "$verdict"
it_pass "$verdict"
