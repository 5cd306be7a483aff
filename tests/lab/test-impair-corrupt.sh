#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# 1 % bit corruption both ways: an 8 MiB TCP transfer arrives byte-exact (sha256), the bridge
# corrupted 1 % ± 3 sigma of the frames, and the receiving kernels caught every corrupted frame
# by checksum (IPv4 header or TCP), so Linux TCP recovered them by retransmission.
set -eu
# shellcheck source-path=SCRIPTDIR source=impair/impair-test.sh
source "$(dirname "$0")/impair/impair-test.sh"
it_setup imcorr --seed 13 --corrupt 1
R=$LAB_RUN_DIR
it_snmp "$APPLIANCE_NETNS" "$R/app0.json"
it_snmp "$CLIENT_NETNS" "$R/cli0.json"
it_tcp "$R/tcp.json" $((8 * 1024 * 1024))
it_stats "$R/stats.json"
it_snmp "$APPLIANCE_NETNS" "$R/app1.json"
it_snmp "$CLIENT_NETNS" "$R/cli1.json"
verdict=$(it_judge "$(cat <<'PY'
t, ts, s, a0, c0, a1, c1 = j
if t['sha256'] != ts['sha256'] or t['bytes'] != ts['bytes']:
    print(f"transfer not byte-exact: got {t['bytes']} bytes {t['sha256'][:12]}, "
          f"sent {ts['bytes']} {ts['sha256'][:12]}"); sys.exit(1)
def caught(b, a):
    keys = ('Ip.InHdrErrors', 'Tcp.InCsumErrors', 'Udp.InCsumErrors')
    return sum(a[k] - b[k] for k in keys)
ab, ba = s['ab'], s['ba']
ok_ab, _, b_ab = binom_ok(ab['corrupted'], ab['rx'], 0.01)
ok_ba, _, b_ba = binom_ok(ba['corrupted'], ba['rx'], 0.01)
got_app, got_cli = caught(a0, a1), caught(c0, c1)
ok = (ok_ab and ok_ba and ab['corrupted'] > 0
      and got_app == ab['corrupted'] and got_cli == ba['corrupted'])
print(f"corrupt 1%: 8 MiB TCP byte-exact; bridge corrupted {ab['corrupted']}/{ab['rx']} data "
      f"(want {ab['rx']*0.01:.0f}±{b_ab:.0f}) and {ba['corrupted']}/{ba['rx']} ack frames; "
      f"checksum drops seen by appliance {got_app}, by client {got_cli}")
sys.exit(0 if ok else 1)
PY
)" "$R/tcp.json" "$R/tcp.json.send" "$R/stats.json" "$R/app0.json" "$R/cli0.json" "$R/app1.json" \
    "$R/cli1.json") || it_fail "$verdict"
it_pass "$verdict"
