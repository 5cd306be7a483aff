#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# A short throughput run of the whole appliance in the lab (figures, not a test): N concurrent
# pipelining clients from 16 addresses, first backscatter attempts rejected at RCPT (550 5.1.1,
# no backend involved), then deliveries into smtp-sink. Prints sessions/s of each and the
# dataplane's counters. The client is Python asyncio in one namespace and the PMD is
# af_packet on veth, so this measures the lab, not the dataplane's ceiling (that is the
# memif benchmark's job, bench/ issue).
#   usage: bench/lab-throughput.sh [N] [PMD]    (as root; default 2000 af_packet)
set -u
N=${1:-2000}
PMD=${2:-af_packet}
TOP=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/lab/lab.sh
. "$TOP/tests/lab/lab.sh"
lab_up "bt$$"
lab_backend_sink_start 2526 || exit 1
LAB_IDLE_US=0 lab_dataplane_start "$PMD" --app smtp --mbufs 65535 || exit 1
lab_control_config
sed -i "s/    backend $BACKEND_IP port 25\$/    backend $BACKEND_IP port 2526/" "$CONTROL_CONF"
sed -i 's/connections-per-ip .*/connections-per-ip 1000/' "$CONTROL_CONF"
sed -i 's/^harvest budget .*/harvest budget 1000000 per 1m/' "$CONTROL_CONF"
lab_control_start || exit 1
lab_wait_synced 10 || exit 1
for mode in --reject ""; do
    for round in 1 2; do
        ip netns exec "$CLIENT_NETNS" "$LAB_PY" "$TOP/tests/lab/smtp_load.py" "$APPLIANCE_IP" "$N" \
            "$LAB_EXT_NET" 5 20 $mode
    done
done
$NDRCTL stats | awk '$2 != 0' | grep -E '^(smtp_sessions|smtp_messages|policy_unknown|policy_directory|tcp_conn_opened|proxy_)'
