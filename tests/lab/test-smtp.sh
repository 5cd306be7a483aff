#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The appliance end to end on PMD $1: ndrguard-dataplane with the SMTP proxy, ndrguard-control
# with the lab configuration, a real Postfix behind it, and tests/lab/smtp_e2e.py in the client
# namespace: every policy row the appliance has, byte-exact delivery, smuggling, a backend that
# refuses, a client that vanishes mid-DATA, the early talker, the harvest tarpit and a backend
# that is down. Ends by checking the lab left nothing behind.
# variants: af_packet af_xdp
set -u
PMD=${1:-af_packet}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$HERE/lab.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
e2e() { ip netns exec "$CLIENT_NETNS" env APPLIANCE_IP="$APPLIANCE_IP" POSTFIX_DIR="$POSTFIX_DIR" \
    "$LAB_PY" "$HERE/smtp_e2e.py" "$@"; }

body() {
    lab_up "$LAB_ID_WANTED"
    lab_backend_postfix_start || fail "postfix did not start"
    lab_dataplane_start "$PMD" --app smtp || fail "dataplane did not start"
    lab_control_config
    lab_control_start || fail "control daemon did not start"
    lab_wait_synced 10 || fail "dataplane not in sync"
    local rc=0
    e2e main || rc=1

    # Early talker: a greeting delay, then back to none.
    sed -i 's/greeting-delay .*/greeting-delay 1s/' "$CONTROL_CONF"
    $NDRCTL reload >/dev/null && lab_wait_synced 5 || fail "reload with a greeting delay"
    e2e early-talker || rc=1
    sed -i 's/greeting-delay .*/greeting-delay 0s/' "$CONTROL_CONF"
    $NDRCTL reload >/dev/null && lab_wait_synced 5 || fail "reload without a greeting delay"

    e2e harvest || rc=1

    lab_backend_postfix_stop
    sleep 0.5
    e2e backend-down || rc=1

    echo "--- ndrctl stats (non-zero)"
    $NDRCTL stats | awk '$2 != 0' | grep -E '^(smtp_|policy_|proxy_|tcp_conn)' | sed 's/^/    /'
    return $rc
}

LAB_ID_WANTED=sm$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
( body ) || exit 1
left=$(lab_leftovers "$LAB_ID_WANTED")
[ -z "$left" ] || fail "lab left behind: $left"
echo "ok   no namespace, link or process left behind"
