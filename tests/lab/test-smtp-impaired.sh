#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Delivery through ndrguard over a bad network: the lab's impairment bridges on both sides of
# the appliance, clients (1 % loss, 5 % reordering, 1 % duplication, 5 ± 2 ms delay, both ways)
# and backend (the same with 2 ± 1 ms),
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
    lab_impair_backend_up --seed 7 --loss 1 --reorder 5 --dup 1 --delay 2 --jitter 1 ||
        fail "backend-side impairment bridge did not start"
    lab_backend_postfix_start || fail "postfix did not start"
    lab_dataplane_start af_packet --app smtp || fail "dataplane did not start"
    lab_control_config
    lab_control_start || fail "control daemon did not start"
    lab_wait_synced 10 || fail "dataplane not in sync"
    ip netns exec "$CLIENT_NETNS" env APPLIANCE_IP="$APPLIANCE_IP" POSTFIX_DIR="$POSTFIX_DIR" \
        "$LAB_PY" - <<'PY' || return 1
import base64, concurrent.futures, hashlib, os, random, smtplib, sys, time
sys.path.insert(0, os.environ.get("HERE", "tests/lab"))
import smtp_e2e as e

def make(tid, size, seed):
    # Lines of 76 base64 characters, some starting with a dot (dot-stuffing must hold).
    raw = random.Random(seed).randbytes(size * 3 // 4 + 3)
    text = base64.b64encode(raw).decode()[:size]
    lines = [text[i:i + 76] for i in range(0, len(text), 76)]
    lines = ["." + l if i % 37 == 0 else l for i, l in enumerate(lines)]
    body = "\n".join(lines) + "\n"
    return "Subject: %s\nX-Test-Id: %s\n\n%s" % (tid, tid, body), hashlib.sha256(body.encode()).hexdigest()

def send(job):
    tid, size, seed = job
    msg, digest = make(tid, size, seed)
    try:
        with smtplib.SMTP(e.HOST, 25, timeout=180) as c:
            c.sendmail("sender@client.example", ["alice@example.com"], msg)
        return tid, digest, None
    except Exception as ex:
        return tid, digest, repr(ex)

rnd = random.Random(1868)
sizes = [rnd.randint(1024, 100 * 1024) for _ in range(990)] + [10 * 1024 * 1024] * 10
jobs = [("impaired-%d-%d" % (os.getpid(), i), size, i) for i, size in enumerate(sizes)]
t0 = time.time()
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    results = list(pool.map(send, jobs))
errors = [(t, err) for t, _, err in results if err]
want = {t: d for t, d, _ in results}
got = e.wait_delivered(list(want), 180)
good = sum(1 for t, d in want.items() if got.get(t, (None,))[0] == d)
print("%s %d of %d messages (ten of 10 MiB) delivered byte-exact through the impaired link in %.1fs, %d send errors"
      % ("ok  " if good == len(want) and not errors else "FAIL", good, len(want), time.time() - t0, len(errors)))
for t, err in errors[:3]:
    print("     %s: %s" % (t, err))
sys.exit(0 if good == len(want) and not errors else 1)
PY
    local dropped dup reord
    lab_impair_refresh || fail "no counters from the bridge"
    dropped=$(( $(lab_impair_stat dropped ab) + $(lab_impair_stat dropped ba) ))
    dup=$(( $(lab_impair_stat duplicated ab) + $(lab_impair_stat duplicated ba) ))
    reord=$(( $(lab_impair_stat reordered ab) + $(lab_impair_stat reordered ba) ))
    [ "$dropped" -gt 0 ] && [ "$dup" -gt 0 ] && [ "$reord" -gt 0 ] ||
        fail "the bridge did not impair (dropped $dropped, duplicated $dup, reordered $reord)"
    echo "ok   the client-side bridge dropped $dropped, duplicated $dup and reordered $reord frames"
    dropped=$(( $(lab_impair_backend_stat dropped ab) + $(lab_impair_backend_stat dropped ba) ))
    dup=$(( $(lab_impair_backend_stat duplicated ab) + $(lab_impair_backend_stat duplicated ba) ))
    reord=$(( $(lab_impair_backend_stat reordered ab) + $(lab_impair_backend_stat reordered ba) ))
    [ "$dropped" -gt 0 ] && [ "$dup" -gt 0 ] && [ "$reord" -gt 0 ] ||
        fail "the backend-side bridge did not impair (dropped $dropped, duplicated $dup, reordered $reord)"
    echo "ok   the backend-side bridge dropped $dropped, duplicated $dup and reordered $reord frames"
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
