#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# STARTTLS over a bad network: the lab's impairment bridge between the clients and the
# appliance (1 % loss, 5 % reordering, 1 % duplication, 5 ± 2 ms delay, both ways), 150
# messages of 1-200 KiB and two of 5 MiB from Python smtplib with starttls() (certificate
# verified), each checked byte-exact in the backend Postfix's Maildir and carrying the
# dataplane's ESMTPS Received line. TLS records then arrive cut, late, twice and out of order,
# and the DATA stream is throttled to the backend's send space: nothing may be lost or altered.
# variants: af_packet
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$HERE/lab.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

body() {
    lab_up "$LAB_ID_WANTED"
    lab_impair_up --seed 16 --loss 1 --reorder 5 --dup 1 --delay 5 --jitter 2 ||
        fail "impairment bridge did not start"
    lab_backend_postfix_start || fail "postfix did not start"
    lab_dataplane_start af_packet --app smtp || fail "dataplane did not start"
    lab_control_config
    lab_tls_certs || fail "certificates"
    echo "tls source-rate 0" >>"$CONTROL_CONF" # one client address sends them all
    lab_control_start || fail "control daemon did not start"
    lab_wait_synced 10 || fail "dataplane not in sync"
    ip netns exec "$CLIENT_NETNS" env APPLIANCE_IP="$APPLIANCE_IP" POSTFIX_DIR="$POSTFIX_DIR" \
        TLS_CA="$TLS_CA" "$LAB_PY" - <<'PY' || return 1
import base64, concurrent.futures, hashlib, os, random, smtplib, ssl, sys, time
sys.path.insert(0, os.environ.get("HERE", "tests/lab"))
import smtp_e2e as e

ctx = ssl.create_default_context(cafile=os.environ["TLS_CA"])

def make(tid, size, seed):
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
        with smtplib.SMTP(e.HOST, 25, local_hostname="client.example", timeout=180) as c:
            c._host = "mx.example.com"
            c.starttls(context=ctx)
            c.sendmail("sender@client.example", ["alice@example.com"], msg)
        return tid, digest, None
    except Exception as ex:
        return tid, digest, repr(ex)

rnd = random.Random(3207)
sizes = [rnd.randint(1024, 200 * 1024) for _ in range(150)] + [5 * 1024 * 1024] * 2
jobs = [("tlsimp-%d-%d" % (os.getpid(), i), size, i) for i, size in enumerate(sizes)]
t0 = time.time()
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    results = list(pool.map(send, jobs))
errors = [(t, err) for t, _, err in results if err]
want = {t: d for t, d, _ in results}
got = e.wait_delivered(list(want), 180)
good = sum(1 for t, d in want.items() if got.get(t, (None,))[0] == d)
tls = sum(1 for t in want if t in got and b"with ESMTPS" in open(got[t][1], "rb").read().partition(b"\n\n")[0])
ok = good == len(want) and tls == len(want) and not errors
print("%s %d of %d messages (two of 5 MiB) delivered byte-exact over STARTTLS through the impaired link in %.1fs, %d with the ESMTPS Received line, %d send errors"
      % ("ok  " if ok else "FAIL", good, len(want), time.time() - t0, tls, len(errors)))
for t, err in errors[:3]:
    print("     %s: %s" % (t, err))
sys.exit(0 if ok else 1)
PY
    local dropped dup reord
    lab_impair_refresh || fail "no counters from the bridge"
    dropped=$(( $(lab_impair_stat dropped ab) + $(lab_impair_stat dropped ba) ))
    dup=$(( $(lab_impair_stat duplicated ab) + $(lab_impair_stat duplicated ba) ))
    reord=$(( $(lab_impair_stat reordered ab) + $(lab_impair_stat reordered ba) ))
    [ "$dropped" -gt 0 ] && [ "$dup" -gt 0 ] && [ "$reord" -gt 0 ] ||
        fail "the bridge did not impair (dropped $dropped, duplicated $dup, reordered $reord)"
    echo "ok   the bridge dropped $dropped, duplicated $dup and reordered $reord frames"
    local s
    s=$($NDRCTL stats)
    echo "$s" | awk '$1 == "tls_handshakes" && $2 >= 152 {f = 1} END {exit !f}' &&
        echo "$s" | awk '$1 == "tls_record_errors" && $2 == 0 {f = 1} END {exit !f}' &&
        echo "$s" | awk '$1 == "tls_sessions_active" && $2 == 0 {f = 1} END {exit !f}' &&
        echo "ok   $(echo "$s" | awk '$1 == "tls_handshakes" {print $2}') handshakes, no record error, no session left in TLS" ||
        { echo "FAIL TLS counters:"; echo "$s" | grep '^tls_'; return 1; }
}

LAB_ID_WANTED=ti$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
export HERE
( body ) || exit 1
left=$(lab_leftovers "$LAB_ID_WANTED")
[ -z "$left" ] || fail "lab left behind: $left"
echo "ok   no namespace, link or process left behind"
