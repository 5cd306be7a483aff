#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Concurrent echo client for the lab: opens N connections (at most P at once), sends each a
random payload of 0..MAX bytes, half-closes, reads everything back and checks it byte for
byte and that the server closed. Non-blocking sockets on one selector, so 1000 connections
cost one Python thread. Prints one summary line; exit 0 when every connection was exact."""
import argparse
import os
import random
import selectors
import socket
import struct
import sys
import time


class Conn:
    __slots__ = ("sock", "data", "sent", "got", "eof", "id")

    def __init__(self, i, sock, data):
        self.id, self.sock, self.data, self.sent, self.got, self.eof = i, sock, data, 0, bytearray(), False


def tcp_info(s):
    """The Linux side of a stuck connection: local port, state, backoff, rto, unacked, lost."""
    try:
        b = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        st, ca, rx, probes, backoff = struct.unpack_from("5B", b, 0)
        rto, ato, smss, rmss, unacked, sacked, lost, retrans = struct.unpack_from("8I", b, 8)
        lds, las, ldr, lar = struct.unpack_from("4I", b, 48)
        return "lport %d state %d ca %d retransmits %d probes %d backoff %d rto %dus unacked %d " \
               "lost %d last_data_recv %dms last_ack_recv %dms" % (
                   s.getsockname()[1], st, ca, rx, probes, backoff, rto, unacked, lost, ldr, lar)
    except OSError as e:
        return repr(e)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("-n", "--conns", type=int, default=100)
    ap.add_argument("-p", "--parallel", type=int, default=0, help="open at once (default all)")
    ap.add_argument("-m", "--max-size", type=int, default=65536)
    ap.add_argument("-M", "--min-size", type=int, default=0)
    ap.add_argument("-t", "--timeout", type=float, default=120)
    ap.add_argument("-s", "--seed", type=int, default=None)
    ap.add_argument("-b", "--bind", action="append", default=[], help="source address (repeatable)")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rnd = random.Random(seed)
    par = a.parallel or a.conns
    sel = selectors.DefaultSelector()
    pool = os.urandom(1 << 20)
    started = done = bad = 0
    total = 0
    errors = []
    deadline = time.monotonic() + a.timeout
    live = {}

    def start_one():
        nonlocal started, total
        i = started
        started += 1
        size = rnd.randint(min(a.min_size, a.max_size), a.max_size)
        off = rnd.randint(0, len(pool) - 1)
        data = (pool[off:] + pool[:off])[:size] if size <= len(pool) else os.urandom(size)
        total += size
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if os.environ.get("TCP_PEER_CC"):  # congestion control of the Linux peer
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, os.environ["TCP_PEER_CC"].encode())
        if a.bind:
            s.bind((a.bind[i % len(a.bind)], 0))
        s.setblocking(False)
        s.connect_ex((a.host, a.port))
        c = Conn(i, s, data)
        live[s.fileno()] = c
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)

    def finish(c, err=None):
        nonlocal done, bad
        sel.unregister(c.sock)
        del live[c.sock.fileno()]
        c.sock.close()
        done += 1
        if err is None and bytes(c.got) != c.data:
            err = "sent %d bytes, got %d back%s" % (len(c.data), len(c.got),
                                                     "" if len(c.got) != len(c.data) else " (different)")
        if err is not None:
            bad += 1
            if len(errors) < 5:
                errors.append("conn %d: %s" % (c.id, err))

    while started < min(par, a.conns):
        start_one()
    while live and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=0.5):
            c = key.data
            try:
                if ev & selectors.EVENT_WRITE:
                    if c.sent < len(c.data):
                        c.sent += c.sock.send(c.data[c.sent:c.sent + 262144])
                    if c.sent == len(c.data):
                        c.sock.shutdown(socket.SHUT_WR)
                        sel.modify(c.sock, selectors.EVENT_READ, c)
                if ev & selectors.EVENT_READ:
                    b = c.sock.recv(262144)
                    if not b:
                        finish(c)
                        if started < a.conns:
                            start_one()
                        continue
                    c.got += b
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                finish(c, repr(e))
                if started < a.conns:
                    start_one()
    for c in list(live.values()):
        finish(c, "timeout after %d/%d bytes back (sent %d; %s)" % (len(c.got), len(c.data), c.sent,
                                                                    tcp_info(c.sock)))
    print("echo-client: %d connections, %d bytes, %d failed, seed %d%s" %
          (done, total, bad, seed, ("; " + "; ".join(errors)) if errors else ""))
    return 0 if bad == 0 and done == a.conns else 1


if __name__ == "__main__":
    sys.exit(main())
