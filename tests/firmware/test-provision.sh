#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# ndrguard-provision and ndrguard-preflight against the committed fake boxes in fixtures/
# (one and two NUMA nodes, no IOMMU, a port list naming the management NIC, 1 GiB pages):
# --dry-run prints the right plan and writes nothing; a real run into a copy of a box writes
# it and a second run changes nothing; preflight reports the box's state with the fix.
#   usage: test-provision.sh NDRGUARD_CONTROL
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PROV=$TOP/firmware-config/ndrguard-provision
PREFLIGHT=$TOP/firmware-config/ndrguard-preflight
FIX=$TOP/tests/firmware/fixtures
export NDG_CONTROL=$(realpath "${1:?usage: test-provision.sh NDRGUARD_CONTROL}")
T=$(mktemp -d /tmp/ndg-prov.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
unset SSH_CONNECTION

on() { # on BOX-DIR CMD...: run with the box's sys, proc and etc
    local b=$1
    shift
    NDG_SYS=$b/sys NDG_PROC=$b/proc NDG_ETC=$b/etc "$@" 2>&1
}
# expect NAME WANT_STATUS OUTPUT_VAR_STATUS OUTPUT [grep -E patterns...; a leading ! negates]
expect() {
    local name=$1 want=$2 st=$3 out=$4 pat bad=
    shift 4
    [ "$st" = "$want" ] || bad="exit $st, want $want"
    for pat in "$@"; do
        if [ "${pat#!}" != "$pat" ]; then
            ! printf '%s\n' "$out" | grep -qE -- "${pat#!}" || bad="$bad; has /${pat#!}/"
        else
            printf '%s\n' "$out" | grep -qE -- "$pat" || bad="$bad; lacks /$pat/"
        fi
    done
    if [ -n "$bad" ]; then
        echo "FAIL $name: ${bad#; }"
        printf '%s\n' "$out" | sed 's/^/  | /'
        fails=$((fails + 1))
    else
        echo "ok   $name"
    fi
}
tree_sum() { (cd "$1" && find . -type f -o -type l | sort | xargs -d '\n' sha1sum | sha1sum); }

before=$(tree_sum "$FIX")

# --- one NUMA node ----------------------------------------------------------------------
B=$FIX/numa1
out=$(on "$B" "$PROV" nics list); st=$?
expect numa1-list 0 "$st" "$out" \
    '^0000:01:00.0 +8086:1572 +i40e +eth0 +0 +up +net_i40e +carries the default route' \
    '^0000:02:00.0 +8086:10fb +ixgbe +eth2 +0 +up +net_ixgbe +configured port' \
    '^0000:03:00.0 +8086:1533 +igb +eth3 .*net_e1000_igb' \
    '^0000:04:00.0 +1234:abcd +- +- .*unsupported'
out=$(on "$B" "$PROV" --dry-run all); st=$?
expect numa1-dry-all 0 "$st" "$out" \
    '^    \| \+NR_2M_PAGES="512"$' \
    'dataplane lcores: 1-2 \(2\); main lcore and control daemon: CPU 0; isolated: 1-2,5-6' \
    'GRUB_CMDLINE_LINUX_DEFAULT="\$GRUB_CMDLINE_LINUX_DEFAULT isolcpus=managed_irq,domain,1-2,5-6 nohz_full=1-2,5-6 rcu_nocbs=1-2,5-6"' \
    'NDG_EAL_ARGS=-l 0,1-2 --main-lcore 0 --in-memory -a 0000:01:00.1 -a 0000:02:00.0' \
    'NDG_DP_ARGS=--app smtp --addr 0:198.18.1.2/24 --addr 1:198.18.2.2/24 --gateway 1:198.18.2.1' \
    'CPUAffinity=0' \
    'would run: /usr/bin/dpdk-devbind.py --bind=vfio-pci 0000:01:00.1' \
    '\| \+pci	0000:01:00.1	vfio-pci' '\| \+pci	0000:02:00.0	vfio-pci' \
    'would set: .*/node0/hugepages/hugepages-2048kB/nr_hugepages = 512 \(now 0\)' \
    '!^(wrote|run):'
# The ssh session's interface is as untouchable as the default route's.
out=$(SSH_CONNECTION="10.9.3.4 50000 10.9.0.1 22" on "$B" "$PROV" --dry-run nics bind 0000:03:00.0); st=$?
expect numa1-ssh-iface 1 "$st" "$out" 'REFUSED: 0000:03:00.0 \(eth3\) carries the default route or your ssh session' \
    '!devbind'
out=$(on "$B" "$PROV" --dry-run nics bind 0000:09:00.0); st=$?
expect numa1-no-such-port 1 "$st" "$out" 'REFUSED: 0000:09:00.0: no such Ethernet PCI function'

# --- two NUMA nodes, ports on node 1 ----------------------------------------------------
B=$FIX/numa2
out=$(on "$B" "$PROV" --dry-run all); st=$?
expect numa2-dry-all 0 "$st" "$out" \
    '^    \| \+NR_2M_PAGES="0 1024"$' \
    'dataplane lcores: 5-6 \(2\); main lcore and control daemon: CPU 4; isolated: 5-6,13-14' \
    'rcu_nocbs=5-6,13-14 intel_iommu=on iommu=pt"' \
    'NDG_EAL_ARGS=-l 4,5-6 --main-lcore 4 --in-memory -a 0000:81:00.0 -a 0000:81:00.1' \
    'unchanged: .*/node1/hugepages/hugepages-2048kB/nr_hugepages = 1024' \
    'unchanged: 0000:81:00.1 already bound to vfio-pci' \
    '^1 +2M +1024 +1024$' '!node0/hugepages/hugepages-2048kB/nr_hugepages'

# --- no IOMMU: vfio-pci refused with the way out, unless no-IOMMU mode is accepted ------
B=$FIX/noiommu
out=$(on "$B" "$PROV" --dry-run nics bind); st=$?
expect noiommu-refused 1 "$st" "$out" 'REFUSED: no IOMMU: vfio-pci needs one' 'intel_iommu=on' '!devbind'
cp -a "$B" "$T/noiommu"
echo 'ALLOW_NOIOMMU=yes' >>"$T/noiommu/etc/ndrguard/appliance.conf"
out=$(on "$T/noiommu" "$PROV" --dry-run nics bind); st=$?
expect noiommu-allowed 0 "$st" "$out" 'enable_unsafe_noiommu_mode' \
    'would run: /usr/bin/dpdk-devbind.py --bind=vfio-pci 0000:02:00.0'

# --- the management NIC as a port; 1 GiB pages ------------------------------------------
B=$FIX/defroute
out=$(on "$B" "$PROV" --dry-run all); st=$?
expect defroute-refused 1 "$st" "$out" \
    'REFUSED: 0000:01:00.0 \(eth0\) carries the default route or your ssh session: not unbinding it' \
    '^    \| \+NR_1G_PAGES="4"$' 'rcu_nocbs=1 hugepagesz=1G hugepages=4"' \
    'would run: mount -t hugetlbfs -o pagesize=1G nodev /dev/hugepages-1G' '!devbind'

# --- quickstart --nic walks the deployment (dry run), asking only when there is a terminal --
B=$FIX/numa1
out=$(on "$B" "$TOP/firmware-config/quickstart" --nic 0000:01:00.1,0000:02:00.0 \
    --address 0:198.18.1.2/24,1:198.18.2.2/24 --gateway 1:198.18.2.1 --hostname mx.example.com \
    --domain example.com --backend 198.18.2.1 --dry-run </dev/null); st=$?
expect quickstart-nic-dry 1 "$st" "$out" 'would run: meson install -C .*build-appliance' \
    'would write .*appliance.conf: PORTS="0000:01:00.1 0000:02:00.0"' \
    'would write .*ndrguard.conf:     backend 198.18.2.1 port 25' \
    'would run: /usr/bin/dpdk-devbind.py --bind=vfio-pci 0000:02:00.0' \
    '^== Preflight' '^FAIL +port 0000:01:00.1' 'Not starting: fix what is marked' '!^== Starting'
out=$(on "$B" "$TOP/firmware-config/quickstart" --nic 0000:01:00.1 --dry-run </dev/null); st=$?
expect quickstart-nic-no-tty 1 "$st" "$out" 'give it as a flag \(no terminal to ask on\)'

after=$(tree_sum "$FIX")
if [ "$before" = "$after" ]; then echo "ok   dry-runs-wrote-nothing"; else
    echo "FAIL dry-runs-wrote-nothing: the fixture trees changed"; fails=$((fails + 1)); fi

# --- a real run into a copy: writes, then a second run changes nothing -------------------
cp -a "$FIX/numa1" "$T/numa1"
B=$T/numa1
out=$(on "$B" "$PROV" hugepages); st=$?
expect apply-hugepages 0 "$st" "$out" "^wrote: $B/etc/dpdk/dpdk.conf" \
    'set: .*/node0/hugepages/hugepages-2048kB/nr_hugepages = 512 \(asked 512\)' '^0 +2M +512 '
out=$(on "$B" "$PROV" cpus); st=$?
expect apply-cpus 0 "$st" "$out" "^wrote: $B/etc/default/grub.d/ndrguard.cfg" \
    "^wrote: $B/etc/ndrguard/appliance.env" "^wrote: $B/etc/systemd/system/ndrguard-control.service.d/cpu.conf"
grep -qx 'NR_2M_PAGES="512"' "$B/etc/dpdk/dpdk.conf" && grep -q '^# NR_1G_PAGES=2' "$B/etc/dpdk/dpdk.conf"
expect apply-dpdk-conf-kept-comments 0 $? ""
out=$(on "$B" "$PROV" hugepages; on "$B" "$PROV" cpus); st=$?
expect apply-idempotent 0 "$st" "$out" '^unchanged: .*dpdk.conf' '^unchanged: .*appliance.env' \
    '!^(wrote|set|run):'

# --- preflight on the provisioned copy ---------------------------------------------------
sed -e "s|/var/lib/ndrguard|$T/state|; s|/run/ndrguard|$T/run|" \
    "$TOP/firmware-config/etc/ndrguard.conf.sample" >"$B/etc/ndrguard/ndrguard.conf"
sed -i "/^directory snapshot/c directory snapshot $T/state/directory.snapshot" "$B/etc/ndrguard/ndrguard.conf"
echo "NDRGUARD_CONF=$B/etc/ndrguard/ndrguard.conf" >>"$B/etc/ndrguard/appliance.conf"
out=$(on "$B" "$PREFLIGHT"); st=$?
expect preflight-numa1 1 "$st" "$out" \
    '^FAIL +port 0000:01:00.1 +bound to i40e, not vfio-pci \(net_i40e\)' \
    '^  port 0000:01:00.1: ndrguard-provision nics bind 0000:01:00.1' \
    '^PASS +iommu +7 IOMMU groups' \
    '^FAIL +vfio-pci +driver not loaded' \
    '^PASS +hugepages node 0 +512 x 2M reserved' \
    '^WARN +isolated cores +lcores 1-2; not isolated: 1 2' \
    "^PASS +config +$B/etc/ndrguard/ndrguard.conf valid" \
    '^WARN +directory snapshot +no .*: until the first sync every recipient gets 450 4.1.1'
mkdir -p "$T/state" && printf 'a@example.com\n' >"$T/state/directory.snapshot"
echo 'limits { recipients many }' >>"$B/etc/ndrguard/ndrguard.conf"
out=$(on "$B" "$PREFLIGHT"); st=$?
expect preflight-bad-config 1 "$st" "$out" '^FAIL +config +.*ndrguard.conf:[0-9]+' '!directory snapshot'

B=$FIX/numa2
out=$(on "$B" "$PREFLIGHT"); st=$?
expect preflight-numa2 1 "$st" "$out" '^PASS +port 0000:81:00.1 +8086:158b on vfio-pci' \
    '^PASS +hugepages node 1 +1024 x 2M reserved \(1024 free\), 1024 wanted' \
    '^FAIL +isolated cores +no .*appliance.env' '^PASS +vfio-pci' '^FAIL +config +no '
B=$FIX/defroute
out=$(on "$B" "$PREFLIGHT"); st=$?
expect preflight-defroute 1 "$st" "$out" '^FAIL +port 0000:01:00.0 +eth0 carries the default route' \
    '^FAIL +hugepages node 0 +0 x 1G reserved, 4 wanted' '^FAIL +hugetlbfs +no hugetlbfs mount for 1G'

echo
[ $fails = 0 ] && echo "provisioning: all checks passed" || echo "provisioning: $fails failed"
[ $fails = 0 ]
