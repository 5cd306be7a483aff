#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The installed appliance: `meson install` into a scratch root lays out binaries, man pages,
# sample configuration, units, sysusers.d/tmpfiles.d and the state directory; every unit
# passes `systemd-analyze verify`; the control daemon's exposure score stays <= 2.5. systemd
# is not PID 1 on this box, so the units' own commands then run directly, with the units'
# credentials (setpriv: user, group, capability bounding set, no-new-privs, umask): the
# dataplane in the lab, the control daemon as the unprivileged ndrguard user (created by
# `ndrguard-provision user`), mail flows, a control restart leaves the dataplane and a live
# SMTP session up, and stopping both ends cleanly.
# variants: af_packet
set -eu
. "$(dirname "$0")/lab.sh"

PMD=${1:-af_packet}
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

R=$(mktemp -d /tmp/ndg-units.XXXXXX)
chmod 0755 "$R"
trap 'rm -rf "$R"' EXIT

# --- install layout ---------------------------------------------------------------------
DESTDIR=$R/root meson install -C "$LAB_BUILD" --no-rebuild --quiet >"$R/install.log" 2>&1 ||
    { cat "$R/install.log"; echo "FAIL meson install"; exit 1; }
P=$R/root/usr/local
UNITS=$P/lib/systemd/system
missing=
for f in sbin/ndrguard-dataplane sbin/ndrguard-control bin/ndrctl sbin/ndrguard-provision \
    sbin/ndrguard-preflight share/ndrguard/provision.sh share/man/man8/ndrctl.8 \
    share/man/man5/ndrguard.conf.5 share/man/man8/ndrguard-provision.8 \
    share/man/man8/ndrguard-preflight.8 lib/sysusers.d/ndrguard.conf lib/tmpfiles.d/ndrguard.conf \
    lib/systemd/system/ndrguard.target lib/systemd/system/ndrguard-dataplane.service \
    lib/systemd/system/ndrguard-control.service lib/systemd/system/ndrguard-hugepages.service; do
    [ -e "$P/$f" ] || missing="$missing $f"
done
for f in etc/ndrguard/ndrguard.conf.sample etc/ndrguard/appliance.conf.sample var/lib/ndrguard; do
    [ -e "$R/root/$f" ] || missing="$missing /$f"
done
[ -z "$missing" ] && ok "install layout" || bad "install layout: missing$missing"
out=$("$P/sbin/ndrguard-provision" --dry-run nics list 2>&1) && [[ $out == PCI* ]] &&
    ok "installed provision finds its library" || bad "installed provision: $out"

# --- systemd-analyze ------------------------------------------------------------------------
# verify checks that ExecStart binaries exist: point the units at the scratch root.
mkdir -p "$R/verify"
for u in "$UNITS"/*; do
    sed "s|/usr/local/sbin/|$P/sbin/|g" "$u" >"$R/verify/${u##*/}"
done
if out=$(systemd-analyze verify --man=no "$R"/verify/* 2>&1); then
    ok "systemd-analyze verify (4 units)"
else
    bad "systemd-analyze verify: $out"
fi
for u in ndrguard-control ndrguard-dataplane; do
    score=$(systemd-analyze security --offline=true --no-pager "$UNITS/$u.service" 2>/dev/null |
        sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    echo "     $u.service exposure $score"
    eval "score_${u#ndrguard-}=\$score"
done
awk -v s="${score_control:-99}" 'BEGIN { exit !(s <= 2.5) }' &&
    ok "control exposure ${score_control} <= 2.5" || bad "control exposure ${score_control:-?} > 2.5"
# Binding: the dataplane must not depend on the control daemon; the target stops both.
u=$UNITS/ndrguard-dataplane.service
if grep -E '^(Requires|BindsTo|Requisite|PartOf)=.*ndrguard-control' "$u" >/dev/null; then
    bad "dataplane unit depends on the control daemon"
elif grep -qx 'PartOf=ndrguard.target' "$u" && grep -qx 'PartOf=ndrguard.target' "$UNITS/ndrguard-control.service" &&
    grep -q '^Requires=ndrguard-hugepages.service' "$u"; then
    ok "unit binding (PartOf target, dataplane independent of control)"
else
    bad "unit binding"
fi

# --- the system user, for real ----------------------------------------------------------
out=$("$P/sbin/ndrguard-provision" user 2>&1) || { bad "provision user: $out"; }
getent passwd ndrguard >/dev/null && ok "system user ndrguard" || bad "no user ndrguard: $out"
out2=$("$P/sbin/ndrguard-provision" user 2>&1)
[[ $out2 == *"unchanged: system user ndrguard exists"* ]] && ok "provision user idempotent" ||
    bad "provision user second run: $out2"

# --- the real hugepage step on this machine (its /etc writes go to a scratch copy) -------
HP=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
hp_before=$(cat "$HP")
hp_want=$((hp_before + 32))
mkdir -p "$R/hetc/dpdk" "$R/hetc/ndrguard"
cp /etc/dpdk/dpdk.conf "$R/hetc/dpdk/"
echo "HUGEPAGE_MB=$((hp_want * 2))" >"$R/hetc/ndrguard/appliance.conf"
out=$(NDG_ETC=$R/hetc "$P/sbin/ndrguard-provision" hugepages 2>&1)
hp_got=$(awk '/^HugePages_Total:/ { print $2 }' /proc/meminfo)
if [ "$hp_got" = "$hp_want" ] && grep -qx "NR_2M_PAGES=\"$hp_want\"" "$R/hetc/dpdk/dpdk.conf" &&
    [[ $out == *"hugetlbfs"* ]]; then
    ok "hugepages for real: $hp_before -> $hp_got pages of 2 MiB, persisted in dpdk.conf"
else
    bad "hugepages for real: HugePages_Total $hp_got, want $hp_want:"; printf '%s\n' "$out" | sed 's/^/  | /'
fi
out=$(NDG_ETC=$R/hetc "$P/sbin/ndrguard-provision" hugepages 2>&1)
[[ $out != *"set: "* && $out != *"wrote: "* ]] && ok "hugepages step idempotent" ||
    bad "hugepages second run changed something: $out"
echo "$hp_before" >"$HP"

# --- the units' commands, with the units' credentials -----------------------------------
unit_value() { sed -n "s/^$2=//p" "$UNITS/$1.service" | tr '\n' ' ' | sed 's/ $//'; }
caps=$(unit_value ndrguard-dataplane CapabilityBoundingSet | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
dp_exec=$(unit_value ndrguard-dataplane ExecStart)
ctl_pre=$(unit_value ndrguard-control ExecStartPre)
ctl_exec=$(unit_value ndrguard-control ExecStart)
[ "$(unit_value ndrguard-control User)" = ndrguard ] || bad "control unit User is not ndrguard"

lab_up "un$$$RANDOM" >/dev/null 2>&1
trap 'lab_down; rm -rf "$R"' EXIT
RUN=$R/run STATE=$R/state
install -d -m 0770 -o root -g ndrguard "$RUN"
install -d -m 0750 -o ndrguard -g ndrguard "$STATE" "$R/log"
install -d -m 0750 -o root -g ndrguard "$R/etc"
lab_backend_sink_start 25 >/dev/null 2>&1 || bad "smtp-sink did not start"

# The dataplane: the unit's ExecStart, its EAL/dataplane variables filled for the lab ports.
NDG_EAL_ARGS="-l 0,1 --no-pci --file-prefix=$LAB_ID --no-huge --no-shconf -m 512 --log-level=lib.eal:warning $(lab_eal_args "$PMD")"
NDG_DP_ARGS="--app smtp -a 0:$APPLIANCE_IP/24 -a 1:$APPLIANCE_INT_IP/24 -s $RUN/stats.json -i 200 --idle-sleep-us 100"
cmd=$(eval "echo $dp_exec" | sed "s|/usr/local/sbin/|$P/sbin/|; s|/run/ndrguard/|$RUN/|g")
# shellcheck disable=SC2086
# LimitMEMLOCK=infinity is set by systemd before it drops capabilities: here too.
ulimit -l unlimited 2>/dev/null || true
ip netns exec "$APPLIANCE_NETNS" setpriv --regid ndrguard --clear-groups \
    --bounding-set "-all,$caps" --inh-caps "-all,$caps" --ambient-caps "-all,$caps" \
    sh -c 'umask 0027; exec "$@"' sh $cmd >"$R/dataplane.log" 2>&1 &
DP_PID=$!
for _ in $(seq 100); do [ -S "$RUN/dataplane.sock" ] && break; sleep 0.1; done
if [ -S "$RUN/dataplane.sock" ]; then
    ok "dataplane from its unit's command, caps ${caps//+/}: socket $(stat -c '%U:%G %a' "$RUN/dataplane.sock")"
else
    bad "dataplane did not start:"; sed 's/^/  | /' "$R/dataplane.log"
fi

# The control daemon: the unit's configuration path and user, our lab configuration.
CONTROL_CONF=$R/etc/ndrguard.conf
cat >"$CONTROL_CONF" <<CONF
hostname mx.example.com
dataplane socket $RUN/dataplane.sock
control socket $RUN/control.sock
directory file $R/etc/recipients
directory snapshot $STATE/directory.snapshot
decision log $R/log/decisions.log
metrics listen off
domain example.com {
    backend $BACKEND_IP port 25
}
CONF
printf 'alice@example.com\nbob@example.com\n' >"$R/etc/recipients"
chgrp ndrguard "$CONTROL_CONF" "$R/etc/recipients" && chmod 0640 "$CONTROL_CONF" "$R/etc/recipients"
as_ndrguard() {
    setpriv --reuid ndrguard --regid ndrguard --init-groups --no-new-privs \
        --bounding-set -all --inh-caps -all sh -c 'umask 0027; exec "$@"' sh "$@"
}
unit_cmd() { eval "echo $1" | sed "s|/usr/local/sbin/|$P/sbin/|; s|/etc/ndrguard/ndrguard.conf|$CONTROL_CONF|"; }
# shellcheck disable=SC2046
out=$(as_ndrguard $(unit_cmd "$ctl_pre") 2>&1) && ok "ExecStartPre as ndrguard: $out" ||
    bad "ExecStartPre: $out"
ctl_start() {
    # shellcheck disable=SC2046
    setpriv --reuid ndrguard --regid ndrguard --init-groups --no-new-privs --bounding-set -all \
        --inh-caps -all sh -c 'umask 0027; exec "$@"' sh $(unit_cmd "$ctl_exec") >>"$R/control.log" 2>&1 &
    CTL_PID=$!
    NDRCTL="$LAB_BUILD/control/ndrctl -s $RUN/control.sock"
    for _ in $(seq 100); do [ -S "$RUN/control.sock" ] && break; sleep 0.1; done
    lab_wait_synced 10
}
if ctl_start; then
    ok "control daemon as $(ps -o user= -p "$CTL_PID") (no capabilities: $(grep CapEff /proc/$CTL_PID/status | awk '{print $2}')) synced the dataplane"
else
    bad "control daemon did not sync:"; sed 's/^/  | /' "$R/control.log"; $NDRCTL status || true
fi

# Mail flows; then a session stays up across a control restart.
ip netns exec "$CLIENT_NETNS" "$LAB_PY" - "$APPLIANCE_IP" "$R/ctl-restart" >"$R/smtp.out" 2>&1 <<'PYEOF' &
import os, smtplib, sys, time
ip, flag = sys.argv[1], sys.argv[2]
s = smtplib.SMTP(ip, 25, timeout=20)
s.ehlo("client.test")
s.sendmail("sender@client.test", ["alice@example.com"], b"Subject: units\r\n\r\nhello\r\n")
code, _ = s.rcpt("nobody@example.com") if s.mail("x@client.test")[0] == 250 else (0, b"")
s.rset()
print("unknown", code)
open(flag, "w").close()                 # tell the shell: restart the control daemon now
for _ in range(200):
    if not os.path.exists(flag):
        break
    time.sleep(0.05)
print("noop-after-restart", s.noop()[0])
s.sendmail("sender@client.test", ["bob@example.com"], b"Subject: after\r\n\r\nagain\r\n")
print("sent-after-restart")
s.quit()
PYEOF
PY_PID=$!
for _ in $(seq 200); do [ -e "$R/ctl-restart" ] && break; sleep 0.05; done
dp_before=$DP_PID
kill -TERM "$CTL_PID"; wait "$CTL_PID" 2>/dev/null || true
ctl_start || bad "control daemon did not come back"
rm -f "$R/ctl-restart"
wait $PY_PID || true
sed 's/^/     | /' "$R/smtp.out"
grep -qx 'unknown 550' "$R/smtp.out" || { sed 's/^/  dp| /' "$R/dataplane.log"; cat "$RUN/stats.json"; }
grep -qx 'unknown 550' "$R/smtp.out" && ok "unknown recipient 550 through the unit-started pair" ||
    bad "unknown recipient not 550"
grep -qx 'noop-after-restart 250' "$R/smtp.out" && grep -qx 'sent-after-restart' "$R/smtp.out" &&
    ok "an SMTP session opened before the control restart goes on after it" ||
    bad "the session did not survive the control restart"
kill -0 "$dp_before" 2>/dev/null && ok "dataplane survived the control restart (pid $dp_before)" ||
    bad "dataplane died with the control daemon"
delivered=$(ls "$SINK_DIR" 2>/dev/null | wc -l)
[ "$delivered" -ge 2 ] && ok "mail delivered before and after the restart ($delivered in the sink)" ||
    bad "delivered $delivered messages, want 2"

# Stopping the appliance: both daemons end on SIGTERM, the dataplane with status 0.
kill -TERM "$CTL_PID" "$DP_PID"
st=0
wait "$DP_PID" || st=$?
wait "$CTL_PID" 2>/dev/null || true
[ $st = 0 ] && ok "dataplane stopped cleanly" || bad "dataplane exit status $st"
sleep 0.2
if left=$(pgrep -f "$R/" | tr '\n' ' ') && [ -n "$left" ]; then
    bad "processes left behind: $left"
    kill $left 2>/dev/null
else
    ok "no process of the scratch root left"
fi
lab_down >/dev/null 2>&1

echo
[ $fails = 0 ] && echo "PASS: units ($PMD)" || echo "FAIL: units: $fails checks failed"
[ $fails = 0 ]
