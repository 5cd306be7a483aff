#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# STARTTLS toward the backend (RFC 3207, client side) end to end on PMD $1: a throw-away CA and
# a certificate for backend.example.com (openssl CLI, in the lab's run dir), the lab's Postfix
# with TLS on, ndrguard in front. Plaintext clients (swaks); per-backend policy by reload:
# - default (may): delivered, Postfix logs the TLS connection from the appliance and its
#   Received header says "with ESMTPS"; the decision record carries backend_tls;
# - a fake backend that sends two replies right behind its 220 to STARTTLS: they are dropped
#   unread (response injection), MAIL and RCPT get their answers from inside TLS;
# - encrypt + verify with the right CA and name: delivered over TLS;
# - encrypt + verify with a wrong name: 451 4.7.5, nothing delivered, a cert failure counted;
# - none: delivered in plaintext ("with ESMTP");
# - default against a Postfix limited to TLS 1.2: TLS 1.2 with an ECDHE cipher;
# - may with min-version 1.3 against a Postfix limited to TLS 1.2: the handshake fails, the
#   message goes in plaintext (fallback); encrypt with the same: 451 4.7.5;
# - Postfix without STARTTLS: encrypt refuses with 451 4.7.4 and Postfix sees no message.
# At the end every backend TLS slot is back in the pool.
# variants: af_packet
set -u
PMD=${1:-af_packet}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$HERE/lab.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
stat() { $NDRCTL stats | awk -v k="$1" '$1 == k {print $2}'; }
cli() { ip netns exec "$CLIENT_NETNS" "$@"; }
delivered() { # delivered TAG: the delivered message carrying X-Test-Id TAG
    local t=0 f
    while [ $t -lt 100 ]; do
        f=$(grep -rl --exclude-dir=tmp "X-Test-Id: $1" "$POSTFIX_DIR/mail" 2>/dev/null | head -n 1)
        [ -n "$f" ] && { cat "$f"; return 0; }
        sleep 0.1; t=$((t + 1))
    done
    return 1
}
# send TAG: one message from a plaintext client; prints swaks' transcript.
send() {
    cli swaks --server "$APPLIANCE_IP" --to alice@example.com --from tester@client.example \
        --add-header "X-Test-Id: $1" --timeout 20 2>&1
}
# backend_tls CLAUSE: the lab's backends get 'tls CLAUSE' ("" : no clause), then reload.
backend_tls() {
    sed -i -E "s|^( *backend $BACKEND_IP port 25)( .*)?$|\1${1:+ tls $1}|" "$CONTROL_CONF"
    $NDRCTL reload >/dev/null && lab_wait_synced 5
}
# postfix_tls KEY=VALUE...: change the backend Postfix's main.cf and reload it.
postfix_tls() {
    postconf -c "$POSTFIX_DIR" -e "$@" &&
        ip netns exec "$BACKEND_NETNS" postfix -c "$POSTFIX_DIR" reload >/dev/null 2>&1 &&
        sleep 1
}

make_certs() {
    local d=$1 n
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=ndrguard backend CA $LAB_ID" -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null || return 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=some other CA" -keyout "$d/other.key" -out "$d/other.crt" 2>/dev/null || return 1
    n=backend.example.com
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/backend.key" 2>/dev/null &&
        openssl req -new -key "$d/backend.key" -subj "/CN=$n" -out "$d/backend.csr" 2>/dev/null &&
        openssl x509 -req -in "$d/backend.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
            -days 2 -extfile <(printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$n") \
            -out "$d/backend.crt" 2>/dev/null
}

body() {
    lab_up "$LAB_ID_WANTED"
    TLS_DIR=$LAB_RUN_DIR/tls
    make_certs "$TLS_DIR" || fail "certificates"
    chmod -R a+rX "$TLS_DIR"
    lab_backend_postfix_start || fail "postfix did not start"
    postfix_tls smtpd_tls_security_level=may "smtpd_tls_cert_file=$TLS_DIR/backend.crt" \
        "smtpd_tls_key_file=$TLS_DIR/backend.key" smtpd_tls_loglevel=1 \
        smtpd_tls_received_header=yes || fail "postfix TLS settings"
    lab_dataplane_start "$PMD" --app smtp || fail "dataplane did not start"
    lab_control_config
    # A fake backend (below) that injects replies in plaintext right after its 220.
    printf 'domain inject.example.com {\n    backend %s port 2528 tls encrypt\n}\n' "$BACKEND_IP" \
        >>"$CONTROL_CONF"
    echo @inject.example.com >>"$LAB_RUN_DIR/recipients"
    lab_control_start || fail "control daemon did not start"
    lab_wait_synced 10 || fail "dataplane not in sync"
    local rc=0 out msg tag before after

    # Default policy (may): the backend offers STARTTLS, the hop runs over TLS.
    tag=may$$
    out=$(send "$tag")
    msg=$(delivered "$tag") || { echo "FAIL default policy: not delivered:"; echo "$out" | tail -n 5; rc=1; }
    if echo "$msg" | grep -A5 '^Received: from mx.example.com' | grep -q 'with ESMTPS' &&
        echo "$msg" | grep -A3 '^Received: from mx.example.com' | grep -q '(using TLSv1.3'; then
        echo "ok   default policy: delivered, the backend's Received line says $(echo "$msg" |
            grep -A3 '^Received: from mx.example.com' | grep -o '(using TLSv1.3 with cipher [^ ]*')"
    else
        echo "FAIL default policy: no TLS in the backend's Received line:"; echo "$msg" | head -n 12; rc=1
    fi
    if grep -q "Anonymous TLS connection established from .*\[$APPLIANCE_INT_IP\]" "$POSTFIX_LOG"; then
        echo "ok   postfix: $(grep -o "Anonymous TLS connection established from .*\[$APPLIANCE_INT_IP\]: TLSv1.3.*" "$POSTFIX_LOG" | head -n 1 | cut -c1-110)"
    else
        echo "FAIL postfix logged no TLS connection from the appliance"; rc=1
    fi
    if grep "\"rcpt\":\"alice@example.com\"" "$LAB_RUN_DIR/decisions.log" | grep -q '"backend_tls":"TLSv1.3"'; then
        echo "ok   the decision record carries \"backend_tls\":\"TLSv1.3\""
    else
        echo "FAIL no backend_tls in the decision record:"; tail -n 2 "$LAB_RUN_DIR/decisions.log"; rc=1
    fi
    [ "$(stat backend_tls_handshakes_tls1_3)" -ge 1 ] || { echo "FAIL backend TLS 1.3 handshake not counted"; rc=1; }

    # STARTTLS response injection (the client-side twin of CVE-2011-0411): the backend's 220
    # comes with two more replies in the same segment, ahead of the handshake. They must be
    # dropped unread, not taken as the answers to MAIL and RCPT.
    local inject='250 2.1.0 injected\r\n250 2.1.5 injected\r\n'
    ip netns exec "$BACKEND_NETNS" timeout 60 "$LAB_PY" - "$BACKEND_IP" 2528 "$TLS_DIR/backend.crt" \
        "$TLS_DIR/backend.key" "$inject" "$LAB_RUN_DIR/inject.log" <<'PY' &
import socket, ssl, sys
ip, port, cert, key, inject, out = sys.argv[1:7]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, int(port)))
s.listen(4)
s.settimeout(50)
open(out + ".ready", "w").close()
c, _ = s.accept()
c.settimeout(20)
log = []
c.sendall(b"220 fake.backend ESMTP\r\n")
f = c.makefile("rb")
log.append(f.readline().decode().strip())
c.sendall(b"250-fake.backend\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
log.append(f.readline().decode().strip())
c.sendall(b"220 2.0.0 go ahead\r\n" + inject.encode().decode("unicode_escape").encode())
t = ctx.wrap_socket(c, server_side=True)
log.append("-- TLS " + t.version())
f = t.makefile("rb")
while True:
    line = f.readline()
    if not line:
        break
    log.append(line.decode().strip())
    u = line.upper()
    if u.startswith(b"EHLO"):
        t.sendall(b"250-fake.backend\r\n250 PIPELINING\r\n")
    elif u.startswith(b"MAIL"):
        t.sendall(b"250 2.1.0 sender ok inside TLS\r\n")
    elif u.startswith(b"RCPT"):
        t.sendall(b"250 2.1.5 recipient ok inside TLS\r\n")
    elif u.startswith(b"DATA"):
        t.sendall(b"354 go on\r\n")
        while True:
            l = f.readline()
            if not l or l == b".\r\n":
                break
        t.sendall(b"250 2.0.0 queued inside TLS\r\n")
    elif u.startswith(b"QUIT"):
        t.sendall(b"221 2.0.0 bye\r\n")
        break
    else:
        t.sendall(b"502 5.5.2 no\r\n")
open(out, "w").write("\n".join(log) + "\n")
PY
    local fake=$!
    for _ in $(seq 50); do [ -e "$LAB_RUN_DIR/inject.log.ready" ] && break; sleep 0.1; done
    before=$(stat backend_tls_plaintext_discarded_bytes)
    out=$(cli swaks --server "$APPLIANCE_IP" --to someone@inject.example.com --from tester@client.example \
        --timeout 20 2>&1)
    wait "$fake"
    after=$(stat backend_tls_plaintext_discarded_bytes)
    if echo "$out" | grep -q '<- *250 2.1.5 recipient ok inside TLS' &&
        echo "$out" | grep -q '<- *250 2.0.0 queued inside TLS' && ! echo "$out" | grep -q injected &&
        [ "$((after - before))" -eq 40 ] && grep -q '^-- TLS TLSv1.3' "$LAB_RUN_DIR/inject.log" &&
        [ "$(grep -c '^RCPT TO' "$LAB_RUN_DIR/inject.log")" = 1 ]; then
        echo "ok   replies injected after the backend's 220 dropped unread ($((after - before)) bytes counted); MAIL and RCPT answered inside TLS"
    else
        echo "FAIL response injection (discarded $before -> $after):"; echo "$out" | grep -E '^<' | tail -n 8
        sed 's/^/     | /' "$LAB_RUN_DIR/inject.log" 2>/dev/null; rc=1
    fi

    # encrypt + verify against the right CA and name.
    backend_tls "encrypt verify ca $TLS_DIR/ca.crt name backend.example.com" || fail "reload (verify)"
    tag=verify$$
    out=$(send "$tag")
    if echo "$out" | grep -q '^<- *250 .*queued' && msg=$(delivered "$tag") &&
        echo "$msg" | grep -A5 '^Received: from mx.example.com' | grep -q 'with ESMTPS'; then
        echo "ok   encrypt + verify (right CA and name): delivered over TLS"
    else
        echo "FAIL encrypt + verify:"; echo "$out" | tail -n 6; rc=1
    fi

    # ... with a wrong name, or a CA that did not sign it: refused, never sent in plaintext.
    local what clause
    for what in name ca; do
        if [ $what = name ]; then
            clause="encrypt verify ca $TLS_DIR/ca.crt name mx.other.example"
        else
            clause="encrypt verify ca $TLS_DIR/other.crt name backend.example.com"
        fi
        backend_tls "$clause" || fail "reload (wrong $what)"
        tag=wrong$what$$
        before=$(stat backend_tls_handshake_failures_certificate)
        out=$(send "$tag")
        after=$(stat backend_tls_handshake_failures_certificate)
        if echo "$out" | grep -q '<\*\* *451 4\.7\.5' && ! delivered "$tag" >/dev/null &&
            [ "$after" -gt "$before" ]; then
            echo "ok   encrypt + verify with a wrong $what: $(echo "$out" | grep -m1 -o '451 4\.7\.5.*'), not delivered (cert failures $before -> $after)"
        else
            echo "FAIL encrypt + verify, wrong $what (cert failures $before -> $after):"; echo "$out" | tail -n 6; rc=1
        fi
    done

    # none: plaintext even though STARTTLS is offered.
    backend_tls "none" || fail "reload (none)"
    tag=none$$
    send "$tag" >/dev/null
    msg=$(delivered "$tag") || { echo "FAIL none: not delivered"; rc=1; }
    if echo "$msg" | grep -A5 '^Received: from mx.example.com' | grep -q 'with ESMTP id'; then
        echo "ok   none: delivered in plaintext (the backend's Received line says \"with ESMTP\")"
    else
        echo "FAIL none: the backend's Received line:"; echo "$msg" | head -n 8; rc=1
    fi

    # A handshake that fails: Postfix speaks TLS 1.2 at most, the policy wants 1.3.
    postfix_tls 'smtpd_tls_protocols=>=TLSv1.2,<=TLSv1.2' 'smtpd_tls_mandatory_protocols=>=TLSv1.2,<=TLSv1.2' ||
        fail "postfix TLS 1.2 only"
    backend_tls "" || fail "reload (default, TLS 1.2 backend)"
    tag=tls12$$
    before=$(stat backend_tls_handshakes_tls1_2)
    send "$tag" >/dev/null
    after=$(stat backend_tls_handshakes_tls1_2)
    msg=$(delivered "$tag") || { echo "FAIL TLS 1.2 backend: not delivered"; rc=1; }
    if [ "$after" -gt "$before" ] &&
        echo "$msg" | grep -A5 '^Received: from mx.example.com' | grep -q '(using TLSv1.2 with cipher ECDHE-'; then
        echo "ok   a backend speaking TLS 1.2 at most: delivered over $(echo "$msg" |
            grep -A5 '^Received: from mx.example.com' | grep -o 'TLSv1.2 with cipher [^ ]*')"
    else
        echo "FAIL TLS 1.2 backend ($before -> $after):"; echo "$msg" | head -n 8; rc=1
    fi
    backend_tls "may min-version 1.3" || fail "reload (may 1.3)"
    tag=fallback$$
    before=$(stat backend_tls_fallback_plaintext)
    send "$tag" >/dev/null
    after=$(stat backend_tls_fallback_plaintext)
    msg=$(delivered "$tag") || { echo "FAIL may with a failing handshake: not delivered"; rc=1; }
    if [ "$after" -gt "$before" ] &&
        echo "$msg" | grep -A5 '^Received: from mx.example.com' | grep -q 'with ESMTP id'; then
        echo "ok   may, handshake failed (protocol): retried and delivered in plaintext (fallbacks $before -> $after)"
    else
        echo "FAIL may fallback ($before -> $after)"; echo "$msg" | head -n 6; rc=1
    fi
    backend_tls "encrypt min-version 1.3" || fail "reload (encrypt 1.3)"
    tag=enc13$$
    before=$(stat backend_tls_handshake_failures_protocol)
    out=$(send "$tag")
    after=$(stat backend_tls_handshake_failures_protocol)
    if echo "$out" | grep -q '<\*\* *451 4\.7\.5' && ! delivered "$tag" >/dev/null &&
        [ "$after" -gt "$before" ]; then
        echo "ok   encrypt, handshake failed (protocol): 451 4.7.5, not delivered (protocol failures $before -> $after)"
    else
        echo "FAIL encrypt with a failing handshake ($before -> $after):"; echo "$out" | tail -n 6; rc=1
    fi

    # The backend offers no STARTTLS: encrypt refuses, and Postfix never sees the message.
    postfix_tls smtpd_tls_security_level=none || fail "postfix TLS off"
    backend_tls "encrypt" || fail "reload (encrypt)"
    tag=noffer$$
    before=$(stat backend_tls_required_not_offered)
    out=$(send "$tag")
    after=$(stat backend_tls_required_not_offered)
    if echo "$out" | grep -q '<\*\* *451 4\.7\.4' && ! delivered "$tag" >/dev/null &&
        ! grep -q "$tag" "$POSTFIX_LOG" && [ "$after" -gt "$before" ] &&
        grep "\"rcpt\":\"alice@example.com\"" "$LAB_RUN_DIR/decisions.log" | tail -n 1 | grep -q '"reply":"451 4.7.4"'; then
        echo "ok   encrypt against a backend without STARTTLS: $(echo "$out" | grep -m1 -o '451 4\.7\.4.*'), nothing delivered"
    else
        echo "FAIL encrypt without STARTTLS ($before -> $after):"; echo "$out" | tail -n 6; rc=1
    fi
    backend_tls "" || fail "reload (default)"
    tag=plain$$
    send "$tag" >/dev/null
    delivered "$tag" >/dev/null && echo "ok   default policy against a backend without STARTTLS: delivered in plaintext" ||
        { echo "FAIL default policy without STARTTLS: not delivered"; rc=1; }

    # No leak: every backend TLS slot back in the pool.
    local t=0
    while [ "$(stat backend_tls_sessions_active)" != 0 ] && [ $t -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
    if [ "$(stat backend_tls_sessions_active)" = 0 ] &&
        [ "$(stat backend_tls_slots_free)" = "$(stat backend_tls_slots)" ]; then
        echo "ok   no backend TLS slot leaked: $(stat backend_tls_slots_free) of $(stat backend_tls_slots) free"
    else
        echo "FAIL backend TLS slots: active $(stat backend_tls_sessions_active), free $(stat backend_tls_slots_free) of $(stat backend_tls_slots)"; rc=1
    fi
    kill -0 "$DATAPLANE_PID" || { echo "FAIL the dataplane died"; rc=1; }

    # Prometheus: the backend TLS families with bounded labels.
    sleep 1.2
    "$LAB_PY" - "$METRICS_URL" <<'PY' || rc=1
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
s = {(x.name, tuple(sorted(x.labels.items()))): x.value for f in text_string_to_metric_families(text) for x in f.samples}
hs = s.get(("ndrguard_dataplane_backend_tls_handshakes_total", ()), 0)
v13 = s.get(("ndrguard_backend_tls_handshakes_by_version_total", (("version", "TLSv1.3"),)), 0)
cert = s.get(("ndrguard_backend_tls_handshake_failures_total", (("reason", "certificate"),)), 0)
proto = s.get(("ndrguard_backend_tls_handshake_failures_total", (("reason", "protocol"),)), 0)
active = s.get(("ndrguard_dataplane_backend_tls_sessions_active", ()), -1)
ok = hs >= 2 and v13 >= 2 and cert >= 2 and proto >= 2 and active == 0
print("%s /metrics: %d backend handshakes (%d TLSv1.3), failures: %d certificate, %d protocol; %d in TLS now"
      % ("ok  " if ok else "FAIL", hs, v13, cert, proto, active))
sys.exit(0 if ok else 1)
PY
    echo "--- ndrctl stats (backend_tls)"
    $NDRCTL stats | grep '^backend_tls_' | awk '$2 != 0' | sed 's/^/    /'
    return $rc
}

LAB_ID_WANTED=tb$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
( body ) || exit 1
left=$(lab_leftovers "$LAB_ID_WANTED")
[ -z "$left" ] || fail "lab left behind: $left"
echo "ok   no namespace, link or process left behind"
