#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Client side of tests/lab/test-antispoof.sh, run in the client namespace.

  antispoof_client.py syn SRC HOST PORT N   N SYNs claiming source SRC (scapy, raw IP)
  antispoof_client.py greet SRC HOST        Linux TCP from SRC: exit 0 on a 220 greeting
  antispoof_client.py early SRC HOST        Linux TCP from SRC, EHLO before the greeting:
                                            exit 0 when the reply is 554 (early talker)
"""
import random
import socket
import sys


def syn(src, host, port, n):
    from scapy.all import IP, TCP, conf, send  # noqa: E402 (slow import, only here)

    conf.verb = 0
    pkts = [IP(src=src, dst=host) / TCP(sport=random.randint(20000, 60000), dport=int(port),
                                        flags="S", seq=random.getrandbits(32))
            for _ in range(int(n))]
    send(pkts, inter=0.01)
    print("sent %s SYNs claiming %s to %s:%s" % (n, src, host, port))
    return 0


def read_reply(s):
    got = b""
    while not got.endswith(b"\r\n"):
        d = s.recv(512)
        if not d:
            break
        got += d
    return got


def greet(src, host):
    s = socket.create_connection((host, 25), timeout=10, source_address=(src, 0))
    got = read_reply(s)
    s.sendall(b"QUIT\r\n")
    s.close()
    print("greet from %s: %r" % (src, got))
    return 0 if got.startswith(b"220 ") else 1


def early(src, host):
    s = socket.create_connection((host, 25), timeout=10, source_address=(src, 0))
    s.sendall(b"EHLO early.example\r\n")
    got = read_reply(s)
    s.close()
    print("early talker from %s: %r" % (src, got))
    return 0 if got.startswith(b"554 ") else 1


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    sys.exit({"syn": syn, "greet": greet, "early": early}[mode](*args))
