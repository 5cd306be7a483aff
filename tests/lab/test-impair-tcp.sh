#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Linux TCP through the worst the TCP suite will ask for, both directions at once: 5 % loss,
# 10 % reordering and 1 % duplication. 20 MiB must arrive byte-exact (sha256) and the bridge must
# have applied each impairment at its rate (±3 sigma) to the frames it saw.
set -eu
# shellcheck source-path=SCRIPTDIR source=impair/impair-test.sh
source "$(dirname "$0")/impair/impair-test.sh"
it_setup imtcp --seed 17 --loss 5 --reorder 10 --dup 1
R=$LAB_RUN_DIR
it_tcp "$R/tcp.json" $((20 * 1024 * 1024)) 17
it_stats "$R/stats.json"
verdict=$(it_judge "$(cat <<'PY'
t, ts, s = j
if t['sha256'] != ts['sha256'] or t['bytes'] != ts['bytes']:
    print(f"transfer not byte-exact: got {t['bytes']} bytes {t['sha256'][:12]}, "
          f"sent {ts['bytes']} {ts['sha256'][:12]}"); sys.exit(1)
ab = s['ab']
ok_l, _, bl = binom_ok(ab['dropped'], ab['rx'], 0.05)
kept = ab['rx'] - ab['dropped']
ok_d, _, bd = binom_ok(ab['duplicated'], kept, 0.01)
ok_r, _, br = binom_ok(ab['reordered'], kept + ab['duplicated'], 0.10)
print(f"20 MiB byte-exact in {ts['seconds']:.1f} s ({t['goodput_bps']/1e6:.1f} Mbit/s) through "
      f"loss/reorder/dup 5/10/1%: data frames {ab['rx']}, "
      f"dropped {100*ab['dropped']/ab['rx']:.2f}%, "
      f"reordered {100*ab['reordered']/(kept+ab['duplicated']):.2f}%, duplicated "
      f"{100*ab['duplicated']/kept:.2f}%; acks {s['ba']['rx']}, dropped {s['ba']['dropped']}")
sys.exit(0 if ok_l and ok_d and ok_r else 1)
PY
)" "$R/tcp.json" "$R/tcp.json.send" "$R/stats.json") || it_fail "$verdict"
it_pass "$verdict"
