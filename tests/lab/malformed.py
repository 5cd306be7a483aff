#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Send a spread of malformed and foreign frames at the dataplane, then print (as JSON) how many
of each the dataplane must have counted, keyed by its counter names.

Runs in the client namespace; frames go out of one lab veth only. Bounded in count and time.
usage: malformed.py IFACE DST_MAC DST_IP SRC_IP COUNT [--bursts N] [--gap SECONDS] [--no-fragments]
"""
import argparse
import json
import socket
import sys
import time

from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw


def raw_ip(ip_pkt):
    return bytes(ip_pkt)


def with_ip_fields(b, **kw):
    """Edit an IPv4 header's bytes without scapy fixing them up again."""
    b = bytearray(b)
    if "ver_ihl" in kw:
        b[0] = kw["ver_ihl"]
    if "tot_len" in kw:
        b[2:4] = kw["tot_len"].to_bytes(2, "big")
    if "cksum" in kw:
        b[10:12] = kw["cksum"].to_bytes(2, "big")
    return bytes(b)


def build(dst_mac, src_mac, dst_ip, src_ip, fragments):
    eth = Ether(dst=dst_mac, src=src_mac)
    eth_ip = bytes(Ether(dst=dst_mac, src=src_mac, type=0x0800))
    eth_arp = bytes(Ether(dst=dst_mac, src=src_mac, type=0x0806))
    good_icmp = IP(src=src_ip, dst=dst_ip) / ICMP(type=8, id=7, seq=1) / Raw(b"x" * 32)
    gib = raw_ip(good_icmp)
    cases = []  # (counter, frame)
    # L2
    cases.append(("drop_eth_not_for_us", bytes(Ether(dst="02:00:00:00:00:99", src=src_mac) / good_icmp)))
    cases.append(("drop_eth_unknown_type", bytes(Ether(dst=dst_mac, src=src_mac, type=0x88B5) / Raw(b"\0" * 46))))
    # ARP
    cases.append(("drop_arp_truncated", eth_arp + b"\x00\x01\x08\x00\x06\x04"))
    cases.append(("drop_arp_bad", bytes(eth / ARP(hwlen=8, plen=4, op=1, psrc=src_ip, pdst=dst_ip))[:14 + 28]))
    cases.append(("drop_arp_not_for_us", bytes(eth / ARP(op=1, psrc=src_ip, pdst="198.18.1.77"))))
    # IPv4 header
    cases.append(("drop_ip_truncated", eth_ip + gib[:12]))
    cases.append(("drop_ip_truncated", eth_ip + with_ip_fields(gib, tot_len=len(gib) + 40)))
    cases.append(("drop_ip_bad_version", eth_ip + with_ip_fields(gib, ver_ihl=0x65)))
    cases.append(("drop_ip_bad_ihl", eth_ip + with_ip_fields(gib, ver_ihl=0x43)))
    cases.append(("drop_ip_bad_len", eth_ip + bytes(IP(src=src_ip, dst=dst_ip, len=12) / ICMP())))
    cases.append(("drop_ip_bad_cksum", eth_ip + with_ip_fields(gib, cksum=0x1234)))
    opt = IP(src=src_ip, dst=dst_ip, options=[b"\x01\x01\x01\x01"]) / ICMP(type=8) / Raw(b"o" * 8)
    cases.append(("drop_ip_options", eth_ip + bytes(opt)))
    if fragments:
        cases.append(("drop_ip_fragment", eth_ip + bytes(IP(src=src_ip, dst=dst_ip, flags="MF") / ICMP(type=8) / Raw(b"f" * 16))))
        cases.append(("drop_ip_fragment", eth_ip + bytes(IP(src=src_ip, dst=dst_ip, frag=3) / Raw(b"f" * 16))))
    cases.append(("drop_ip_bad_src", eth_ip + bytes(IP(src="127.0.0.1", dst=dst_ip) / ICMP(type=8))))
    cases.append(("drop_ip_not_for_us", eth_ip + bytes(IP(src=src_ip, dst="198.18.1.77") / ICMP(type=8))))
    cases.append(("drop_ip_proto", eth_ip + bytes(IP(src=src_ip, dst=dst_ip, proto=253) / Raw(b"p" * 20))))
    # ICMP
    cases.append(("drop_icmp_truncated", eth_ip + bytes(IP(src=src_ip, dst=dst_ip, proto=1) / Raw(b"\x08\x00\xf7\xff"))))
    bad_icmp = bytearray(gib)
    bad_icmp[22:24] = b"\xde\xad"
    cases.append(("drop_icmp_bad_cksum", eth_ip + bytes(bad_icmp)))
    cases.append(("drop_icmp_type", eth_ip + bytes(IP(src=src_ip, dst=dst_ip) / ICMP(type=13))))
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("iface")
    ap.add_argument("dst_mac")
    ap.add_argument("dst_ip")
    ap.add_argument("src_ip")
    ap.add_argument("count", type=int)
    ap.add_argument("--bursts", type=int, default=20)
    ap.add_argument("--gap", type=float, default=0.15)
    # DPDK's af_packet PMD joins a PACKET_FANOUT group with FLAG_DEFRAG: the kernel holds
    # fragments for reassembly and the dataplane never sees them. Leave them out there.
    ap.add_argument("--no-fragments", action="store_true")
    a = ap.parse_args()
    if not 0 < a.count <= 1_000_000 or not 0 < a.bursts <= 10_000 or not 0 <= a.gap <= 5:
        sys.exit("count, bursts or gap out of bounds")

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    src_mac = ":".join("%02x" % b for b in s.getsockname()[4][:6])
    cases = build(a.dst_mac, src_mac, a.dst_ip, a.src_ip, not a.no_fragments)
    expected = {}
    per_burst = (a.count + a.bursts - 1) // a.bursts
    sent = 0
    deadline = time.monotonic() + 120
    while sent < a.count and time.monotonic() < deadline:
        for _ in range(min(per_burst, a.count - sent)):
            name, frame = cases[sent % len(cases)]
            s.send(frame)
            expected[name] = expected.get(name, 0) + 1
            sent += 1
        time.sleep(a.gap)
    json.dump({"sent": sent, "expected": expected}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
