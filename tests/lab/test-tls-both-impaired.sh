#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Delivery with TLS on both sides over a bad network (issue 12: "the delivery suites pass with
# TLS on both sides, under impairment"): the lab's impairment bridges on both sides of the
# appliance, client side 1 % loss, 5 % reordering, 1 % duplication, 5 ± 2 ms delay, backend
# side the same with 2 ± 1 ms. Clients are Python smtplib with starttls() verifying the
# appliance's certificate; the backend is the lab's Postfix with STARTTLS, reached under
# 'tls encrypt verify' (no plaintext fallback possible). 300 messages of 1-100 KiB and two of
# 8 MiB, each checked byte-exact in Postfix's Maildir, each with Postfix's "with ESMTPS"
# Received line; then the appliance's delivery suite (smtp_e2e.py main) with every session over
# STARTTLS through the same links. The bridges' counters must show they really impaired
# traffic; no TLS slot of either side is left in use at the end.
# variants: af_packet
set -u
PMD=${1:-af_packet}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$HERE/lab.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
stat() { $NDRCTL stats | awk -v k="$1" '$1 == k {print $2}'; }

# make_certs DIR: a CA, the appliance's certificate (mx.example.com) and the backend's
# (backend.example.com).
make_certs() {
    local d=$1 n
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=ndrguard lab CA $LAB_ID" -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null || return 1
    for n in mx.example.com backend.example.com; do
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/$n.key" 2>/dev/null &&
            openssl req -new -key "$d/$n.key" -subj "/CN=$n" -out "$d/$n.csr" 2>/dev/null &&
            openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
                -days 2 -extfile <(printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$n") \
                -out "$d/$n.crt" 2>/dev/null || return 1
    done
}

body() {
    lab_up "$LAB_ID_WANTED"
    TLS_DIR=$LAB_RUN_DIR/tls
    make_certs "$TLS_DIR" || fail "certificates"
    chmod -R a+rX "$TLS_DIR"
    lab_impair_up --seed 16 --loss 1 --reorder 5 --dup 1 --delay 5 --jitter 2 ||
        fail "impairment bridge did not start"
    lab_impair_backend_up --seed 17 --loss 1 --reorder 5 --dup 1 --delay 2 --jitter 1 ||
        fail "backend-side impairment bridge did not start"
    lab_backend_postfix_start || fail "postfix did not start"
    postconf -c "$POSTFIX_DIR" -e smtpd_tls_security_level=may \
        "smtpd_tls_cert_file=$TLS_DIR/backend.example.com.crt" \
        "smtpd_tls_key_file=$TLS_DIR/backend.example.com.key" smtpd_tls_loglevel=1 \
        smtpd_tls_received_header=yes || fail "postfix TLS settings"
    ip netns exec "$BACKEND_NETNS" postfix -c "$POSTFIX_DIR" reload >/dev/null 2>&1 ||
        fail "postfix reload"
    sleep 1
    lab_dataplane_start "$PMD" --app smtp || fail "dataplane did not start"
    lab_control_config
    sed -i -E "s|^( *backend $BACKEND_IP port 25).*|\1 tls encrypt verify ca $TLS_DIR/ca.crt name backend.example.com|" \
        "$CONTROL_CONF"
    cat >>"$CONTROL_CONF" <<CONF
tls certificate $TLS_DIR/mx.example.com.crt key $TLS_DIR/mx.example.com.key
tls source-rate 1000
tls source-burst 1000
CONF
    lab_control_start || fail "control daemon did not start"
    lab_wait_synced 10 || fail "dataplane not in sync"
    ip netns exec "$CLIENT_NETNS" env APPLIANCE_IP="$APPLIANCE_IP" POSTFIX_DIR="$POSTFIX_DIR" \
        TLS_CA="$TLS_DIR/ca.crt" "$LAB_PY" - <<'PY' || return 1
import base64, concurrent.futures, hashlib, os, random, smtplib, ssl, sys, time
sys.path.insert(0, os.environ.get("HERE", "tests/lab"))
import smtp_e2e as e

ctx = ssl.create_default_context(cafile=os.environ["TLS_CA"])

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
        with smtplib.SMTP(e.HOST, 25, timeout=120) as c:
            c.ehlo("client.example")
            # server_hostname: the certificate must be mx.example.com's.
            c._host = "mx.example.com"
            c.starttls(context=ctx)
            c.ehlo("client.example")
            c.sendmail("sender@client.example", ["alice@example.com"], msg)
        return tid, digest, None
    except Exception as ex:
        return tid, digest, repr(ex)

rnd = random.Random(2612)
sizes = [rnd.randint(1024, 100 * 1024) for _ in range(300)] + [8 * 1024 * 1024] * 2
jobs = [("tlsimp-%d-%d" % (os.getpid(), i), size, i) for i, size in enumerate(sizes)]
t0 = time.time()
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    results = list(pool.map(send, jobs))
errors = [(t, err) for t, _, err in results if err]
want = {t: d for t, d, _ in results}
got = e.wait_delivered(list(want), 120)
good = sum(1 for t, d in want.items() if got.get(t, (None,))[0] == d)
esmtps = 0
for t in want:
    if t in got:
        head = open(got[t][1], "rb").read().partition(b"\n\n")[0]
        esmtps += b"by backend.example.com (Postfix) with ESMTPS" in head
ok = good == len(want) and not errors and esmtps == len(want)
print("%s %d of %d messages (two of 8 MiB) delivered byte-exact with TLS on both sides through the impaired links in %.1fs, %d with Postfix's ESMTPS Received line, %d send errors"
      % ("ok  " if ok else "FAIL", good, len(want), time.time() - t0, esmtps, len(errors)))
for t, err in errors[:3]:
    print("     %s: %s" % (t, err))
sys.exit(0 if ok else 1)
PY
    local rc=0 dropped dup reord n hs before
    # The appliance's delivery suite (every policy row, byte-exact delivery up to 10 MiB,
    # smuggling, SIZE while streaming, a client gone mid-DATA, concurrency) over TLS.
    before=$(stat tls_handshakes)
    ip netns exec "$CLIENT_NETNS" env APPLIANCE_IP="$APPLIANCE_IP" POSTFIX_DIR="$POSTFIX_DIR" \
        E2E_TLS_CA="$TLS_DIR/ca.crt" "$LAB_PY" "$HERE/smtp_e2e.py" main || rc=1
    n=$(stat tls_handshakes)
    [ "$((n - before))" -ge 50 ] && echo "ok   smtp_e2e main ran over TLS ($((n - before)) client-side handshakes)" ||
        { echo "FAIL smtp_e2e main: only $((n - before)) TLS handshakes"; rc=1; }
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
    n=$(stat tls_handshakes); hs=$(stat backend_tls_handshakes)
    if [ "$n" -ge 352 ] && [ "$hs" -ge 340 ] && [ "$(stat backend_tls_fallback_plaintext)" = 0 ]; then
        echo "ok   $n client-side and $hs backend-side TLS handshakes, no plaintext fallback"
    else
        echo "FAIL handshakes: client side $n, backend side $hs, fallbacks $(stat backend_tls_fallback_plaintext)"; rc=1
    fi
    local t=0
    while { [ "$(stat tls_sessions_active)" != 0 ] || [ "$(stat backend_tls_sessions_active)" != 0 ]; } &&
        [ $t -lt 150 ]; do sleep 0.1; t=$((t + 1)); done
    if [ "$(stat tls_sessions_active)" = 0 ] && [ "$(stat backend_tls_sessions_active)" = 0 ] &&
        [ "$(stat backend_tls_slots_free)" = "$(stat backend_tls_slots)" ] &&
        [ "$(stat tls_slots_free)" = "$(stat tls_slots)" ]; then
        echo "ok   no TLS slot left in use on either side"
    else
        echo "FAIL TLS slots in use: client side $(stat tls_sessions_active), backend side $(stat backend_tls_sessions_active)"; rc=1
    fi
    echo "--- dataplane TCP recovery and TLS counters"
    $NDRCTL stats | grep -E '^(tcp_(rto|fast_rxmt|dup|ooo|rxmt)|tls_handshake|backend_tls_handshake)' |
        awk '$2 != 0' | sed 's/^/    /'
    return $rc
}

LAB_ID_WANTED=ti$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
export HERE
( body ) || exit 1
left=$(lab_leftovers "$LAB_ID_WANTED")
[ -z "$left" ] || fail "lab left behind: $left"
echo "ok   no namespace, link or process left behind"
