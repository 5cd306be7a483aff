#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# ndrguard-control drives a real ndrguard-dataplane in the lab: configuration and directory
# pushed and in force, ndrctl dir add reaching the dataplane, the dataplane serving on while
# the daemon is killed, a restarted daemon finding everything in sync (no push), a restarted
# dataplane getting everything again, a reload pushing the new configuration, and a 100,000
# address directory pushed (time printed).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lab.sh
. "$HERE/lab.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
stat_of() { $NDRCTL stats | awk -v k="$1" '$1 == k {print $2}'; }

body() {
    lab_up "$LAB_ID_WANTED"
    lab_dataplane_start af_packet --app smtp || fail "dataplane did not start"
    lab_control_config
    lab_control_start || fail "control daemon did not start"
    lab_wait_synced 10 || { $NDRCTL status; fail "dataplane not in sync"; }
    [ "$(stat_of directory_loaded_addresses)" = 8 ] || fail "dataplane holds $(stat_of directory_loaded_addresses) addresses, want 8"
    [ "$(stat_of config_loaded)" = 1 ] || fail "dataplane has no configuration"
    echo "ok: configuration and 8 addresses in force in the dataplane"

    # Prometheus exposition, parsed by the reference parser.
    sleep 1.5
    "$LAB_PY" - "$METRICS_URL" <<'PY' || fail "metrics"
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
fams = {f.name: f for f in text_string_to_metric_families(text)}
def val(name, **labels):
    for f in fams.values():
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise SystemExit("missing %s %s" % (name, labels))
assert val("ndrguard_dataplane_connected") == 1
assert val("ndrguard_directory_addresses") == 8
assert val("ndrguard_dataplane_directory_loaded_addresses") == 8
assert val("ndrguard_directory_guard_alarm") == 0
assert val("ndrguard_dataplane_rx_packets_total") >= 0
assert val("ndrguard_policy_decisions_total", rule="unknown_user", outcome="reject") == 0
assert val("ndrguard_port_ipackets_total", port="0") >= 0
print("ok: /metrics parses (%d families), directory and dataplane figures as expected" % len(fams))
PY

    $NDRCTL dir add dave@example.com >/dev/null || fail "dir add"
    lab_wait_synced 5 || fail "not in sync after dir add"
    [ "$(stat_of directory_loaded_addresses)" = 9 ] || fail "dir add did not reach the dataplane"
    echo "ok: ndrctl dir add reaches the dataplane"

    lab_control_stop KILL
    ip netns exec "$CLIENT_NETNS" ping -n -q -c 5 -i 0.2 -W 2 "$APPLIANCE_IP" | grep -q ' 5 received' ||
        fail "dataplane stopped answering without its control daemon"
    grep -q 'control daemon gone; serving with what is in force' "$DATAPLANE_LOG" ||
        fail "dataplane did not notice the daemon leaving"
    : >"$CONTROL_LOG"
    lab_control_start || fail "control daemon did not restart"
    lab_wait_synced 10 || fail "not in sync after the daemon restart"
    grep -q 'config in sync, directory in sync' "$CONTROL_LOG" || fail "restarted daemon pushed again"
    grep -q 'pushed to the dataplane' "$CONTROL_LOG" && fail "restarted daemon pushed again"
    [ "$(stat_of directory_loaded_addresses)" = 9 ] || fail "directory lost over the daemon restart"
    echo "ok: daemon killed and restarted: dataplane kept serving, nothing pushed again"

    lab_dataplane_stop || fail "dataplane stop"
    lab_dataplane_start af_packet --app smtp || fail "dataplane did not restart"
    lab_wait_synced 10 || fail "restarted dataplane not brought in sync"
    [ "$(stat_of directory_loaded_addresses)" = 9 ] || fail "restarted dataplane lacks the directory"
    echo "ok: restarted dataplane gets configuration and directory again"

    sed -i "s/^domain catchall.example.com/domain other.example.com/" "$CONTROL_CONF"
    : >"$CONTROL_LOG"
    $NDRCTL reload >/dev/null || fail "reload"
    lab_wait_synced 5 || fail "not in sync after reload"
    grep -q 'configuration pushed to the dataplane' "$CONTROL_LOG" || fail "reload pushed nothing"
    $NDRCTL domains | grep -q '^other.example.com' || fail "reload did not take"
    echo "ok: reload pushes the new configuration"

    "$LAB_PY" -c 'import sys
for i in range(100000): print("user%d@example.com" % i)' >"$LAB_RUN_DIR/recipients"
    local t0 t1
    t0=$(date +%s.%N)
    $NDRCTL dir sync >/dev/null || fail "dir sync of 100,000"
    lab_wait_synced 30 || fail "100,000 addresses not in sync"
    t1=$(date +%s.%N)
    [ "$(stat_of directory_loaded_addresses)" = 100001 ] || fail "dataplane holds $(stat_of directory_loaded_addresses), want 100001"
    echo "ok: 100,001 addresses synced and pushed in $("$LAB_PY" -c "print(round($t1 - $t0, 2))") s"
}

LAB_ID_WANTED=ct$$$RANDOM
LAB_ID_WANTED=${LAB_ID_WANTED:0:10}
( body ) || exit 1
left=$(lab_leftovers "$LAB_ID_WANTED")
[ -z "$left" ] || fail "lab left behind: $left"
echo "ok: no namespace, link or process left behind"
