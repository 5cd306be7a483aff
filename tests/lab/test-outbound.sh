#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The outbound path on PMD $1 (issue 11): a real Postfix in the backend namespace relays through
# ndrguard's internal listener (relayhost = [INTERNAL_IP]) to the smarthost sink in the internet
# namespace. Senders arrive BATV-signed, and a bounce to the signed address sent back inbound
# (swaks from the client namespace) is accepted and delivered, a bounce to the plain address
# refused; a host outside the internal networks cannot relay, an internal host cannot send
# as a foreign domain; a host over its rate gets 451 4.7.1 and an alarm while another goes on;
# and a backscatter storm of 10,000 NDRs injected into Postfix leaves at most the configured
# number, the rest refused and counted, while legitimate mail still goes.
# variants: af_packet
set -u
PMD=${1:-af_packet}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$HERE/lab.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
stat_of() { $NDRCTL stats | awk -v k="$1" '$1 == k {print $2}'; }
in_backend() { ip netns exec "$BACKEND_NETNS" "$@"; }
# swaks from backend-namespace address $1 to the internal listener; prints the transcript.
out_mail() {
    local src=$1; shift
    in_backend swaks --server "$INTERNAL_IP" --local-interface "$src" --timeout 20 \
        --h-Subject "outbound test" "$@" 2>&1
}
# smarthost_has PY_EXPR: some received message m satisfies the expression.
smarthost_has() {
    "$LAB_PY" - "$SMARTHOST_LOG" "$1" <<'PY'
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sys.exit(0 if any(eval(sys.argv[2], {}, {"m": m}) for m in msgs) else 1)
PY
}
wait_for() { # wait_for SECONDS CMD...
    local max=$(($1 * 5)) t=0; shift
    until "$@" >/dev/null 2>&1; do
        [ $t -ge "$max" ] && return 1
        sleep 0.2; t=$((t + 1))
    done
}
queue_empty() { in_backend postqueue -c "$POSTFIX_DIR" -p 2>/dev/null | grep -q 'Mail queue is empty'; }
# inject N THREADS: N null-sender messages (bounces to forged victims in 20 domains) handed to
# the backend Postfix over SMTP, as its own bounce storm.
inject() {
    in_backend "$LAB_PY" - "$BACKEND_IP" "$1" "$2" <<'PY'
import smtplib, sys, threading
host, n, par = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
errors = []
def worker(k):
    try:
        s = smtplib.SMTP(host, 25, timeout=60)
        s.ehlo("storm.example.com")
        for i in range(k, n, par):
            msg = ("From: MAILER-DAEMON@example.com\r\nTo: victim%d@forged%d.example\r\n"
                   "Subject: Undelivered Mail Returned to Sender\r\n\r\nbounce %d\r\n" % (i, i % 20, i))
            s.sendmail("", ["victim%d@forged%d.example" % (i, i % 20)], msg)
        s.quit()
    except Exception as e:
        errors.append(repr(e))
ts = [threading.Thread(target=worker, args=(k,)) for k in range(par)]
[t.start() for t in ts]
[t.join() for t in ts]
print("injected %d bounces, %d errors %s" % (n, len(errors), errors[:3]))
sys.exit(1 if errors else 0)
PY
}

body() {
    local rc=0 out t0 t1
    lab_up "$LAB_ID_WANTED"
    lab_internet_up || fail "internet namespace"
    lab_smarthost_start || fail "smarthost sink did not start"
    lab_backend_postfix_start || fail "postfix did not start"
    lab_dataplane_start "$PMD" --app smtp --mbufs 32767 || fail "dataplane did not start"
    LAB_OUT_HOST_RATE="5 per hour burst 5" LAB_OUT_NDR_DOMAIN="20 per hour" \
        LAB_OUT_NDR_TOTAL="100 per hour" lab_control_config
    lab_control_start || fail "control daemon did not start"
    lab_wait_synced 10 || fail "dataplane not in sync"

    # 1. Postfix relays through ndrguard; the sender arrives BATV-signed.
    in_backend "$LAB_PY" - "$BACKEND_IP" <<'PY' || fail "could not hand mail to Postfix"
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], 25, timeout=30)
s.sendmail("bounce@batv.example.com", ["friend@remote.example"],
           "From: bounce@batv.example.com\r\nTo: friend@remote.example\r\nSubject: out 1\r\n\r\nhello\r\n")
s.quit()
PY
    if wait_for 30 smarthost_has 'm["rcpt_to"] == ["friend@remote.example"]'; then
        echo "ok   Postfix relayed through the internal listener to the smarthost"
    else
        echo "FAIL nothing reached the smarthost"; tail -5 "$POSTFIX_LOG"; return 1
    fi
    local signed
    signed=$("$LAB_PY" -c 'import json,sys
for l in open(sys.argv[1]):
    m = json.loads(l)
    if m["rcpt_to"] == ["friend@remote.example"]: print(m["mail_from"])' "$SMARTHOST_LOG" | head -1)
    if [[ $signed =~ ^prvs=[0-9]{4}[0-9a-f]{6}=bounce@batv\.example\.com$ ]]; then
        echo "ok   envelope sender BATV-signed: $signed"
    else
        echo "FAIL envelope sender not signed: '$signed'"; rc=1
    fi

    # 2. A bounce to the signed address comes back inbound: accepted and delivered (the tag
    # stripped for the backend); a bounce to the plain address is refused.
    out=$(ip netns exec "$CLIENT_NETNS" swaks --server "$APPLIANCE_IP" --from '<>' --to "$signed" \
        --h-Subject "bounce of out 1" --timeout 20 2>&1)
    if echo "$out" | grep -q '^<-  250 .*queued'; then
        echo "ok   bounce to the signed sender accepted"
    else
        echo "FAIL bounce to the signed sender: $(echo "$out" | grep '^<\*\*' | head -2)"; rc=1
    fi
    if wait_for 20 bash -c "grep -rl 'bounce of out 1' '$POSTFIX_DIR/mail/batv/bounce/new/'"; then
        echo "ok   ... and delivered to bounce@batv.example.com's mailbox"
    else
        echo "FAIL the bounce did not reach the mailbox"; rc=1
    fi
    out=$(ip netns exec "$CLIENT_NETNS" swaks --server "$APPLIANCE_IP" --from '<>' \
        --to bounce@batv.example.com --timeout 20 2>&1)
    echo "$out" | grep -q '^<\*\* 550 5.7.1' && echo "ok   bounce to the unsigned address: 550 5.7.1" ||
        { echo "FAIL bounce to the unsigned address: $(echo "$out" | grep '^<' | tail -2)"; rc=1; }

    # 3. Relay permission and our senders only.
    out=$(out_mail "$OUTSIDE_HOST" --from carol@example.com --to friend@remote.example)
    echo "$out" | grep -q '^<\*\* 554 5.7.1' && echo "ok   host outside the internal networks: 554 5.7.1" ||
        { echo "FAIL outside host: $(echo "$out" | grep '^<' | tail -2)"; rc=1; }
    local h1 h2
    read -r h1 h2 _ <<<"$INTERNAL_HOSTS"
    out=$(out_mail "$h2" --from someone@forged.example --to friend@remote.example)
    echo "$out" | grep -q '^<\*\* 550 5.7.1' && echo "ok   internal host, foreign sender: 550 5.7.1" ||
        { echo "FAIL foreign sender: $(echo "$out" | grep '^<' | tail -2)"; rc=1; }

    # 4. A host over its rate (5 an hour: no refill while the test runs): 451 4.7.1 and an
    # alarm; another host goes on.
    local i ok451=0 ok250=0
    for i in $(seq 7); do
        out=$(out_mail "$h1" --from carol@example.com --to "rate$i@remote.example")
        echo "$out" | grep -q '^<\*\* 451 4.7.1' && ok451=$((ok451 + 1))
        echo "$out" | grep -q '^<-  250 .*queued' && ok250=$((ok250 + 1))
    done
    [ $ok250 = 5 ] && [ $ok451 = 2 ] && echo "ok   host $h1: 5 messages sent, then 451 4.7.1 twice" ||
        { echo "FAIL host rate: $ok250 sent, $ok451 refused with 451"; rc=1; }
    out=$(out_mail "$h2" --from bob@example.com --to other@remote.example)
    echo "$out" | grep -q '^<-  250 .*queued' && echo "ok   another internal host still sends" ||
        { echo "FAIL another host: $(echo "$out" | grep '^<' | tail -2)"; rc=1; }
    wait_for 10 grep -q "alarm: outbound host $h1 over its sending rate" "$CONTROL_LOG" &&
        echo "ok   alarm logged: $(grep -m1 "alarm: outbound host $h1" "$CONTROL_LOG")" ||
        { echo "FAIL no alarm naming $h1 in the control log"; rc=1; }
    $NDRCTL log tail -n 50 --rule out-host-rate | grep -q "\"$h1\"" &&
        echo "ok   decision records of out_host_rate name $h1" ||
        { echo "FAIL no out_host_rate decision record"; rc=1; }
    [ "$(stat_of policy_out_host_rate_reject)" = 2 ] && echo "ok   policy_out_host_rate_reject 2" ||
        { echo "FAIL policy_out_host_rate_reject $(stat_of policy_out_host_rate_reject)"; rc=1; }
    wait_for 10 smarthost_has 'm["rcpt_to"] == ["other@remote.example"]' ||
        { echo "FAIL the other host's mail did not reach the smarthost"; rc=1; }

    # The submission port, and a rule switched to observe at run time and back.
    out=$(out_mail "$h2" --port 587 --from bob@example.com --to sub@remote.example)
    echo "$out" | grep -q '^<-  250 .*queued' && echo "ok   port 587 of the internal listener relays too" ||
        { echo "FAIL port 587: $(echo "$out" | grep '^<' | tail -2)"; rc=1; }
    $NDRCTL rule out-relay observe >/dev/null && lab_wait_synced 5 || fail "ndrctl rule out-relay observe"
    out=$(out_mail "$OUTSIDE_HOST" --from carol@example.com --to observed@remote.example)
    observed() { $NDRCTL log tail -n 20 --rule out-relay | grep -q '"outcome":"observe"'; }
    echo "$out" | grep -q '^<-  250 .*queued' && wait_for 5 observed &&
        echo "ok   out-relay in observe mode: the outside host's mail goes, recorded as observe" ||
        { echo "FAIL observe mode: $(echo "$out" | grep '^<' | tail -2)"; rc=1; }
    $NDRCTL rule out-relay default >/dev/null && lab_wait_synced 5 || fail "ndrctl rule out-relay default"
    out=$(out_mail "$OUTSIDE_HOST" --from carol@example.com --to friend@remote.example)
    echo "$out" | grep -q '^<\*\* 554 5.7.1' && echo "ok   ... and enforced again: 554 5.7.1" ||
        { echo "FAIL back to enforce: $(echo "$out" | grep '^<' | tail -2)"; rc=1; }
    "$LAB_PY" - "$METRICS_URL" <<'PY' || rc=1
import sys, time, urllib.request
from prometheus_client.parser import text_string_to_metric_families
# /metrics serves the counters the control daemon last polled from the dataplane: read until
# they have caught up with 'ndrctl stats' (bounded: 10 s).
for _ in range(50):
    text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
    v = {(s.name, s.labels.get("rule"), s.labels.get("outcome")): s.value
         for f in text_string_to_metric_families(text) for s in f.samples}
    alarms = v.get(("ndrguard_outbound_alarms_total", None, None), 0)
    hr = v.get(("ndrguard_policy_decisions_total", "out_host_rate", "reject"), 0)
    ok = alarms >= 1 and hr == 2
    if ok or hr > 2:
        break
    time.sleep(0.2)
print("%s /metrics: ndrguard_outbound_alarms_total %d, out_host_rate rejects %d" %
      ("ok  " if ok else "FAIL", alarms, hr))
sys.exit(0 if ok else 1)
PY

    # 5. The backscatter storm: 10,000 NDRs to forged victims in Postfix's queue.
    local passed0 refused0 passed refused legit_ok n_ndr elapsed bound
    passed0=$(stat_of out_ndr_passed)
    refused0=$(stat_of policy_out_ndr_limit_reject)
    t0=$(date +%s)
    inject 10000 4 || rc=1
    # Legitimate mail in the middle of the storm.
    in_backend "$LAB_PY" - "$BACKEND_IP" <<'PY' || rc=1
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], 25, timeout=30)
s.sendmail("alice@example.com", ["partner@remote.example"],
           "From: alice@example.com\r\nSubject: legit during the storm\r\n\r\nhi\r\n")
s.quit()
PY
    # Every bounce gets exactly one decision at RCPT: wait until all 10,000 have one.
    storm_done() {
        [ $(($(stat_of out_ndr_passed) - passed0 + $(stat_of policy_out_ndr_limit_reject) - refused0)) -ge 10000 ]
    }
    wait_for 150 storm_done || { echo "FAIL the storm was not through in time"; rc=1; }
    t1=$(date +%s)
    wait_for 20 queue_empty || { echo "FAIL Postfix's queue is not empty:"; in_backend postqueue -c "$POSTFIX_DIR" -p 2>&1 | tail -5; rc=1; }
    elapsed=$((t1 - t0))
    passed=$(($(stat_of out_ndr_passed) - passed0))
    refused=$(($(stat_of policy_out_ndr_limit_reject) - refused0))
    n_ndr=$("$LAB_PY" -c 'import json,sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["mail_from"] == "" and json.loads(l)["rcpt_to"][0].startswith("victim")))' "$SMARTHOST_LOG")
    # 100 per hour with bursts of 100: the burst plus one per 36 s of storm.
    bound=$((100 + elapsed / 36 + 1))
    echo "     storm: $elapsed s, $passed NDRs let through, $refused refused, $n_ndr at the smarthost"
    [ "$passed" -le "$bound" ] && [ "$passed" -ge 50 ] && [ "$n_ndr" = "$passed" ] &&
        echo "ok   at most the configured number of NDRs left ($passed <= $bound)" ||
        { echo "FAIL NDRs that left: $passed counted, $n_ndr at the smarthost (bound $bound)"; rc=1; }
    [ $((passed + refused)) = 10000 ] && echo "ok   the other $refused were refused and counted" ||
        { echo "FAIL passed $passed + refused $refused != 10000"; rc=1; }
    "$LAB_PY" - "$SMARTHOST_LOG" <<'PY' || rc=1
import collections, json, sys
per = collections.Counter(json.loads(l)["rcpt_to"][0].split("@")[1] for l in open(sys.argv[1])
                          if json.loads(l)["mail_from"] == "")
worst = max(per.values()) if per else 0
print("%s at most %d NDRs to one forged domain (limit 20 per hour)" % ("ok  " if worst <= 21 else "FAIL", worst))
sys.exit(0 if worst <= 21 else 1)
PY
    grep -c 'status=bounced' "$POSTFIX_LOG" | awk '{print "     Postfix logged " $1 " refused deliveries (status=bounced)"}'
    legit_ok=1
    smarthost_has 'm["rcpt_to"] == ["partner@remote.example"] and m["mail_from"].endswith("=alice@example.com")' || legit_ok=0
    [ $legit_ok = 1 ] && echo "ok   legitimate mail sent during the storm reached the smarthost" ||
        { echo "FAIL the legitimate mail was lost in the storm"; rc=1; }

    echo "--- ndrctl rule list (outbound)"
    $NDRCTL rule list | grep -E '^(RULE|out-)' | sed 's/^/    /'
    echo "--- ndrctl stats (outbound)"
    $NDRCTL stats | grep -E '^(out_|policy_out_)' | awk '$2 != 0' | sed 's/^/    /'
    return $rc
}

LAB_ID_WANTED=ob$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
( body ) || exit 1
left=$(lab_leftovers "$LAB_ID_WANTED")
[ -z "$left" ] || fail "lab left behind: $left"
echo "ok   no namespace, link or process left behind"
