#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Bounded memory: with 200 ms of delay and --queue-limit 100, a burst of 1,000 datagrams in
# 100 ms leaves exactly the first 100 queued and delivered, the other 900 counted as
# queue_dropped, and nothing else lost.
set -eu
# shellcheck source-path=SCRIPTDIR source=impair/impair-test.sh
source "$(dirname "$0")/impair/impair-test.sh"
it_setup imqueue --queue-limit 100 --dir ab --delay 200
R=$LAB_RUN_DIR
it_udp "$R/udp.json" 1000 64 10000
it_stats "$R/stats.json"
verdict=$(it_judge "$(cat <<'PY'
u, s = j
ab = s['ab']
ok = (ab['rx'] == 1000 and ab['queue_dropped'] == 900 and ab['forwarded'] == 100
      and u['unique'] == 100 and u['out_of_order'] == 0 and ab['queued'] == 0)
print(f"queue limit 100 at 200 ms delay: burst of {ab['rx']}, {ab['queue_dropped']} queue-dropped, "
      f"{ab['forwarded']} forwarded, {u['unique']} delivered in order")
sys.exit(0 if ok else 1)
PY
)" "$R/udp.json" "$R/stats.json") || it_fail "$verdict"
it_pass "$verdict"
