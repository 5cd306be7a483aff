#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
#
# Writes the fake sysfs/procfs/etc trees under tests/firmware/fixtures/ that the provisioning
# tests run against: the parts of a gateway box's /sys and /proc that ndrguard-provision and
# ndrguard-preflight read. The trees are committed; rerun this after changing a box below.
# Empty directories carry a '.keep' file so git keeps them.
import os, shutil, sys

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

def put(root, path, text=""):
    p = os.path.join(root, path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text if text.endswith("\n") or text == "" else text + "\n")

def keep(root, path):
    put(root, os.path.join(path, ".keep"))

def cpulist(cpus):
    cpus, out, i = sorted(cpus), [], 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        out.append(str(cpus[i]) if i == j else "%d-%d" % (cpus[i], cpus[j]))
        i = j + 1
    return ",".join(out)

def route_hex(a):
    return "".join("%02X" % int(x) for x in reversed(a.split(".")))

def box(name, nodes, cores_per_node, smt, nics, iommu=True, isolated="", huge=None,
        routes=(), appliance=""):
    """nodes x cores_per_node physical cores; smt threads each (sibling = cpu + ncores)."""
    root = os.path.join(TOP, name)
    shutil.rmtree(root, ignore_errors=True)
    ncores = nodes * cores_per_node
    ncpus = ncores * smt
    put(root, "sys/devices/system/cpu/online", "0-%d" % (ncpus - 1))
    put(root, "sys/devices/system/cpu/isolated", isolated)
    for node in range(nodes):
        cpus = []
        for core in range(node * cores_per_node, (node + 1) * cores_per_node):
            cpus += [core + t * ncores for t in range(smt)]
        put(root, "sys/devices/system/node/node%d/cpulist" % node, cpulist(cpus))
        for kb in (2048, 1048576):
            h = "sys/devices/system/node/node%d/hugepages/hugepages-%dkB/" % (node, kb)
            n = (huge or {}).get((node, kb), 0)
            put(root, h + "nr_hugepages", str(n))
            put(root, h + "free_hugepages", str(n))
        for core in range(node * cores_per_node, (node + 1) * cores_per_node):
            sib = [core + t * ncores for t in range(smt)]
            for c in sib:
                t = "sys/devices/system/cpu/cpu%d/topology/" % c
                put(root, t + "core_id", str(core % cores_per_node))
                put(root, t + "physical_package_id", str(node))
                put(root, t + "thread_siblings_list", cpulist(sib))
    for kb in (2048, 1048576):
        put(root, "sys/kernel/mm/hugepages/hugepages-%dkB/nr_hugepages" % kb,
            str(sum(v for (n, k), v in (huge or {}).items() if k == kb)))
    drivers = set()
    for pci, vd, drv, net, node, state in nics:
        d = "sys/bus/pci/devices/%s/" % pci
        put(root, d + "class", "0x020000")
        put(root, d + "vendor", "0x" + vd.split(":")[0])
        put(root, d + "device", "0x" + vd.split(":")[1])
        put(root, d + "numa_node", str(node))
        put(root, d + "modalias", "pci:v0000%sd0000%ssv00008086sd00000000bc02sc00i00"
            % tuple(x.upper() for x in vd.split(":")))
        if drv:
            drivers.add(drv)
            os.symlink("../../drivers/" + drv, os.path.join(root, d + "driver"))
        if net:
            keep(root, d + "net/" + net)
            put(root, "sys/class/net/%s/operstate" % net, state)
    for drv in sorted(drivers):
        keep(root, "sys/bus/pci/drivers/" + drv)
    if iommu:
        for g in range(len(nics) + 2):
            keep(root, "sys/kernel/iommu_groups/%d" % g)
    else:
        keep(root, "sys/kernel/iommu_groups")
    put(root, "sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "N")
    lines = ["Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"]
    for iface, dest, gw, mask in routes:
        lines.append("%s\t%s\t%s\t0003\t0\t0\t0\t%s\t0\t0\t0" %
                     (iface, route_hex(dest), route_hex(gw), route_hex(mask)))
    put(root, "proc/net/route", "\n".join(lines))
    put(root, "proc/meminfo", "MemTotal:       65536000 kB\nHugepagesize:       2048 kB")
    put(root, "proc/mounts", "sysfs /sys sysfs rw 0 0\nhugetlbfs /dev/hugepages hugetlbfs "
        "rw,relatime,pagesize=2M 0 0")
    put(root, "proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel")
    put(root, "etc/ndrguard/appliance.conf", appliance)
    put(root, "etc/dpdk/dpdk.conf", "# Debian's dpdk.conf, shortened\n# NR_2M_PAGES=64\n"
        "# NR_1G_PAGES=2")
    put(root, "etc/dpdk/interfaces", "# <bus>\t<id>\t\t<driver>")

def main():
    shutil.rmtree(TOP, ignore_errors=True)
    mgmt = [("eth0", "0.0.0.0", "192.0.2.1", "0.0.0.0"),
            ("eth0", "192.0.2.0", "0.0.0.0", "255.255.255.0"),
            ("eth3", "10.9.0.0", "0.0.0.0", "255.255.0.0")]
    # One socket, 4 cores x 2 threads, an i40e pair (eth0 is management) and an ixgbe port.
    one = [("0000:01:00.0", "8086:1572", "i40e", "eth0", 0, "up"),
           ("0000:01:00.1", "8086:1572", "i40e", "eth1", 0, "down"),
           ("0000:02:00.0", "8086:10fb", "ixgbe", "eth2", 0, "up"),
           ("0000:03:00.0", "8086:1533", "igb", "eth3", 0, "up"),
           ("0000:04:00.0", "1234:abcd", "", "", 0, "")]
    box("numa1", 1, 4, 2, one, routes=mgmt,
        appliance='PORTS="0000:01:00.1 0000:02:00.0"\nHUGEPAGE_MB=1024\nDATAPLANE_CORE_COUNT=2\n'
        'ADDRESSES="0:198.18.1.2/24 1:198.18.2.2/24"\nGATEWAYS="1:198.18.2.1"')
    # Two sockets, 4 cores x 2 threads each; the ports sit on node 1.
    two = [("0000:01:00.0", "8086:1572", "i40e", "eth0", 0, "up"),
           ("0000:81:00.0", "8086:158b", "i40e", "eth4", 1, "up"),
           ("0000:81:00.1", "8086:158b", "vfio-pci", "", 1, "")]
    box("numa2", 2, 4, 2, two, routes=mgmt, isolated="5-6,13-14",
        huge={(1, 2048): 1024},
        appliance='PORTS="0000:81:00.0 0000:81:00.1"\nHUGEPAGE_MB=2048\nDATAPLANE_CORE_COUNT=2\n'
        'IOMMU=yes')
    # No IOMMU at all.
    box("noiommu", 1, 2, 1, one[:3], iommu=False, routes=mgmt,
        appliance='PORTS="0000:02:00.0"\nHUGEPAGE_MB=512')
    # 1 GiB pages, and the port list names the management NIC.
    box("defroute", 1, 4, 1, one[:3], routes=mgmt,
        appliance='PORTS="0000:01:00.0"\nHUGEPAGE_SIZE=1G\nHUGEPAGE_MB=4096')
    return 0

sys.exit(main())
