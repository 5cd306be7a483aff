# SPDX-License-Identifier: BSD-3-Clause
#
# Shared by ndrguard-provision and ndrguard-preflight: where the box's facts are read from
# (sysfs, procfs and /etc can be redirected to fixture trees for tests), the appliance
# settings (/etc/ndrguard/appliance.conf) and the topology, NIC and hugepage readers.
# Sourced, never run. Everything here only reads; writers live in ndrguard-provision.

NDG_SYS=${NDG_SYS:-/sys}
NDG_PROC=${NDG_PROC:-/proc}
NDG_ETC=${NDG_ETC:-/etc}
NDG_PMD_DIR=${NDG_PMD_DIR:-$(ls -d /usr/lib/*-linux-gnu/dpdk/pmds-* 2>/dev/null | tail -n 1)}
NDG_DEVBIND=${NDG_DEVBIND:-/usr/bin/dpdk-devbind.py}

prov_die() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
    exit 2
}

# Expand a kernel cpulist ("0-3,8,10-11") into one number per line.
prov_cpulist_expand() {
    local part a b
    local IFS=,
    for part in $1; do
        [ -n "$part" ] || continue
        case $part in
        *-*)
            a=${part%-*} b=${part#*-}
            seq "$a" "$b"
            ;;
        *) echo "$part" ;;
        esac
    done
}

# Join numbers (one per line on stdin) into a compact cpulist.
prov_cpulist_join() {
    sort -n -u | awk '
        NR == 1 { s = $1; p = $1; next }
        $1 == p + 1 { p = $1; next }
        { out = out (out == "" ? "" : ",") (s == p ? s : s "-" p); s = $1; p = $1 }
        END { if (NR) print out (out == "" ? "" : ",") (s == p ? s : s "-" p) }'
}

prov_read() { # prov_read FILE [DEFAULT]
    if [ -r "$1" ]; then
        head -n 1 "$1" 2>/dev/null
    else
        printf '%s\n' "${2:-}"
    fi
}

# Appliance settings with their defaults; the file is KEY=VALUE shell syntax.
prov_conf_load() {
    PORTS= DRIVER=vfio-pci HUGEPAGE_SIZE=2M HUGEPAGE_MB=1024 DATAPLANE_CORES=auto
    DATAPLANE_CORE_COUNT=1 CONTROL_CPU=auto NDRGUARD_CONF=$NDG_ETC/ndrguard/ndrguard.conf
    SNAPSHOT=/var/lib/ndrguard/directory.snapshot ALLOW_NOIOMMU=no IOMMU=no
    ADDRESSES= GATEWAYS=
    APPLIANCE_CONF=${APPLIANCE_CONF:-$NDG_ETC/ndrguard/appliance.conf}
    if [ -r "$APPLIANCE_CONF" ]; then
        # shellcheck disable=SC1090
        . "$APPLIANCE_CONF" || prov_die "$APPLIANCE_CONF: not valid shell syntax"
    fi
}

# --- topology ---------------------------------------------------------------------------

prov_cpus_online() {
    prov_cpulist_expand "$(prov_read "$NDG_SYS/devices/system/cpu/online" 0)"
}

prov_cpu_node() { # CPU -> NUMA node (0 when the box has no node directories)
    local n
    for n in "$NDG_SYS"/devices/system/node/node[0-9]*; do
        [ -d "$n" ] || continue
        if prov_cpulist_expand "$(prov_read "$n/cpulist")" | grep -qx "$1"; then
            echo "${n##*node}"
            return
        fi
    done
    echo 0
}

prov_nodes() {
    local n
    for n in "$NDG_SYS"/devices/system/node/node[0-9]*; do
        [ -d "$n" ] && echo "${n##*node}"
    done | sort -n
    [ -d "$NDG_SYS/devices/system/node/node0" ] || echo 0
}

# One line per online CPU: "cpu node package core siblings" (siblings as a cpulist).
prov_topology() {
    local c t
    for c in $(prov_cpus_online); do
        t=$NDG_SYS/devices/system/cpu/cpu$c/topology
        printf '%s %s %s %s %s\n' "$c" "$(prov_cpu_node "$c")" \
            "$(prov_read "$t/physical_package_id" 0)" "$(prov_read "$t/core_id" "$c")" \
            "$(prov_read "$t/thread_siblings_list" "$c")"
    done
}

prov_isolated() { prov_cpulist_expand "$(prov_read "$NDG_SYS/devices/system/cpu/isolated")"; }

# --- NICs -------------------------------------------------------------------------------

# "vendor:device pmd" for every PCI id some installed DPDK net PMD claims.
prov_pmd_ids() {
    [ -n "$NDG_PMD_DIR" ] && [ -d "$NDG_PMD_DIR" ] || return 0
    local cache=/tmp/ndrguard-pmd-ids.$(id -u)
    if [ ! -s "$cache" ] || [ "$NDG_PMD_DIR" -nt "$cache" ]; then
        /usr/bin/python3 - "$NDG_PMD_DIR" >"$cache.tmp" <<'PYEOF' || return 0
import glob, json, subprocess, sys
for so in sorted(glob.glob(sys.argv[1] + "/librte_net_*.so*")):
    try:
        out = subprocess.run(["dpdk-pmdinfo.py", so], capture_output=True, text=True,
                             timeout=30).stdout
        pmds = json.loads(out) if out.strip() else []
    except (OSError, ValueError, subprocess.SubprocessError):
        continue
    for pmd in pmds:
        for pid in pmd.get("pci_ids", []):
            print("%s:%s %s" % (pid["vendor"].lower(), pid["device"].lower(), pmd["name"]))
PYEOF
        mv "$cache.tmp" "$cache"
    fi
    cat "$cache"
}

# One line per Ethernet PCI function:
# "pci vendor:device driver netdev node operstate pmd" ('-' for unknown fields).
prov_nics() {
    local d pci class ven dev drv net node state pmd ids
    ids=$(prov_pmd_ids)
    for d in "$NDG_SYS"/bus/pci/devices/*; do
        [ -e "$d/class" ] || continue
        class=$(prov_read "$d/class")
        case $class in 0x0200*) ;; *) continue ;; esac
        pci=${d##*/}
        ven=$(prov_read "$d/vendor") dev=$(prov_read "$d/device")
        ven=${ven#0x} dev=${dev#0x}
        drv=-
        [ -L "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
        # virtio puts its netdev one level down (virtioN/net).
        net=$(ls "$d"/net "$d"/virtio*/net 2>/dev/null | grep -v ':$' | grep . | head -n 1)
        [ -n "$net" ] || net=-
        node=$(prov_read "$d/numa_node" -1)
        [ "$node" -ge 0 ] 2>/dev/null || node=0
        state=-
        [ "$net" != - ] && state=$(prov_read "$NDG_SYS/class/net/$net/operstate" unknown)
        pmd=$(printf '%s\n' "$ids" | awk -v id="$ven:$dev" '$1 == id { print $2; exit }')
        printf '%s %s:%s %s %s %s %s %s\n' "$pci" "$ven" "$dev" "$drv" "$net" "$node" \
            "$state" "${pmd:--}"
    done
}

# Interfaces that must never be taken from the kernel: the one with the default route and
# the one the admin's ssh session arrives on (route lookup of the ssh client's address).
prov_protected_ifaces() {
    awk 'NR > 1 && $2 == "00000000" && $8 == "00000000" { print $1 }' \
        "$NDG_PROC/net/route" 2>/dev/null
    local client=${SSH_CONNECTION:-}
    client=${client%% *}
    [ -n "$client" ] || return 0
    /usr/bin/python3 - "$NDG_PROC/net/route" "$client" <<'PYEOF' 2>/dev/null || true
import ipaddress, socket, struct, sys
ip = int(ipaddress.IPv4Address(sys.argv[2]))
best = None
with open(sys.argv[1]) as f:
    next(f)
    for line in f:
        fl = line.split()
        dest = struct.unpack("<I", bytes.fromhex(fl[1]))[0]
        mask = struct.unpack("<I", bytes.fromhex(fl[7]))[0]
        if ip & mask == dest and (best is None or mask > best[0]):
            best = (mask, fl[0])
if best:
    print(best[1])
PYEOF
}

prov_iommu_groups() {
    ls "$NDG_SYS/kernel/iommu_groups" 2>/dev/null | wc -l
}

prov_noiommu_mode() {
    prov_read "$NDG_SYS/module/vfio/parameters/enable_unsafe_noiommu_mode" N
}

# --- hugepages --------------------------------------------------------------------------

prov_page_kb() { # 2M -> 2048, 1G -> 1048576
    case $1 in
    2M | 2m) echo 2048 ;;
    1G | 1g) echo 1048576 ;;
    *) prov_die "hugepage size $1: use 2M or 1G" ;;
    esac
}

prov_huge_node_file() { # NODE KB FILE
    local d=$NDG_SYS/devices/system/node/node$1/hugepages/hugepages-$2kB
    [ -d "$d" ] || d=$NDG_SYS/kernel/mm/hugepages/hugepages-$2kB
    echo "$d/$3"
}

prov_hugetlbfs_mounted() { # KB -> mount point, if any
    local default_kb
    default_kb=$(awk '/^Hugepagesize:/ { print $2 }' "$NDG_PROC/meminfo" 2>/dev/null)
    awk -v want="$1" -v def="${default_kb:-2048}" '
        $3 == "hugetlbfs" {
            kb = def
            if (match($4, /pagesize=[0-9]+[KMG]/)) {
                v = substr($4, RSTART + 9, RLENGTH - 9)
                u = substr(v, length(v)); n = substr(v, 1, length(v) - 1)
                kb = (u == "G") ? n * 1048576 : (u == "M") ? n * 1024 : n
            }
            if (kb == want) { print $2; exit }
        }' "$NDG_PROC/mounts" 2>/dev/null
}
