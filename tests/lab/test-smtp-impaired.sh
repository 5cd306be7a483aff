#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Delivery through ndrguard over a bad network: the lab's impairment bridge between the clients
# and the appliance (1 % loss, 5 % reordering, 1 % duplication, 5 ms ± 2 ms delay, both ways),
# 200 messages of 1-100 KiB and one of 10 MiB from Python smtplib, each checked byte-exact in
# the backend Postfix's Maildir. The bridge's counters must show it really impaired traffic.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$HERE/lab.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

body() {
    lab_up "$LAB_ID_WANTED"
    lab_impair_up --seed 6 --loss 1 --reorder 5 --dup 1 --delay 5 --jitter 2 ||
        fail "impairment bridge did not start"
    lab_backend_postfix_start || fail "postfix did not start"
    lab_dataplane_start af_packet --app smtp || fail "dataplane did not start"
    lab_control_config
    lab_control_start || fail "control daemon did not start"
    lab_wait_synced 10 || fail "dataplane not in sync"
    ip netns exec "$CLIENT_NETNS" env APPLIANCE_IP="$APPLIANCE_IP" POSTFIX_DIR="$POSTFIX_DIR" \
        "$LAB_PY" - <<'PY' || return 1
import os, random, smtplib, sys, time
sys.path.insert(0, os.environ.get("HERE", "tests/lab"))
import smtp_e2e as e
rnd = random.Random(1868)
want = {}
t0 = time.time()
sizes = [rnd.randint(1024, 100 * 1024) for _ in range(200)] + [10 * 1024 * 1024]
for i, size in enumerate(sizes):
    tid = "impaired-%d-%d" % (os.getpid(), i)
    msg, digest = e.make_message(tid, size, rnd) if size < 200000 else e.make_message(tid, 1024, rnd)
    if size >= 200000:
        body = ("0123456789abcdef" * 62 + "\n") * (size // 993)
        msg = "Subject: big\nX-Test-Id: %s\n\n%s" % (tid, body)
        import hashlib
        digest = hashlib.sha256(body.encode()).hexdigest()
    want[tid] = digest
    with smtplib.SMTP(e.HOST, 25, timeout=120) as c:
        c.sendmail("sender@client.example", ["alice@example.com"], msg)
got = e.wait_delivered(list(want), 120)
good = sum(1 for t, d in want.items() if got.get(t, (None,))[0] == d)
print("%s %d of %d messages (one of 10 MiB) delivered byte-exact through the impaired link in %.1fs"
      % ("ok  " if good == len(want) else "FAIL", good, len(want), time.time() - t0))
sys.exit(0 if good == len(want) else 1)
PY
    local dropped dup reord
    lab_impair_refresh || fail "no counters from the bridge"
    dropped=$(( $(lab_impair_stat dropped ab) + $(lab_impair_stat dropped ba) ))
    dup=$(( $(lab_impair_stat duplicated ab) + $(lab_impair_stat duplicated ba) ))
    reord=$(( $(lab_impair_stat reordered ab) + $(lab_impair_stat reordered ba) ))
    [ "$dropped" -gt 0 ] && [ "$dup" -gt 0 ] && [ "$reord" -gt 0 ] ||
        fail "the bridge did not impair (dropped $dropped, duplicated $dup, reordered $reord)"
    echo "ok   the bridge dropped $dropped, duplicated $dup and reordered $reord frames"
    echo "--- dataplane TCP recovery counters"
    $NDRCTL stats | grep -E '^tcp_(rto|fast_rxmt|dup|ooo|seg_out|rxmt)' | awk '$2 != 0' | sed 's/^/    /'
}

LAB_ID_WANTED=si$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
export HERE
( body ) || exit 1
left=$(lab_leftovers "$LAB_ID_WANTED")
[ -z "$left" ] || fail "lab left behind: $left"
echo "ok   no namespace, link or process left behind"
