#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Traffic ends for the impairment tests: run one side in each lab namespace.

  udp-send  --to IP:PORT --count N [--size B] [--pps R]       numbered datagrams, paced
  udp-recv  --bind IP:PORT [--idle S] [--timeout S] [--ready F] JSON: received, unique,
            duplicates, out_of_order, rate, digest of the arrival order
  tcp-send  --to IP:PORT --bytes N [--seed S]                   JSON: sha256 of what was sent
  tcp-recv  --bind IP:PORT [--timeout S] [--ready F]            JSON: bytes, sha256, goodput

Every mode is bounded in time (--timeout) so a test can never hang on a lost peer.
"""
import argparse
import hashlib
import json
import os
import random
import select
import socket
import struct
import sys
import time

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)
HDR = struct.Struct("!Q")


def addr(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


def ready(path):
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("ready\n")
        os.rename(path + ".tmp", path)


def udp_send(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20)
    s.connect(addr(a.to))
    pad = b"\0" * max(0, a.size - HDR.size)
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    for i in range(a.count):
        # Pace against the schedule, not per packet: sleep only when ahead of it.
        due = t0 + i / a.pps
        now = time.monotonic()
        if due > now + 0.001:
            time.sleep(due - now)
        if now > deadline:
            print(json.dumps({"sent": i, "error": "timeout"}))
            return 1
        s.send(HDR.pack(i) + pad)
    print(json.dumps({"sent": a.count, "seconds": round(time.monotonic() - t0, 3)}))
    return 0


def udp_recv(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
    s.bind(addr(a.bind))
    ready(a.ready)
    seen = set()
    order = hashlib.sha256()
    received = dups = ooo = nbytes = 0
    hi = -1
    t_first = t_last = None
    t_end = time.monotonic() + a.timeout
    while True:
        now = time.monotonic()
        if now >= t_end:
            break
        wait = t_end - now
        if t_last is not None:
            wait = min(wait, t_last + a.idle - now)
            if wait <= 0:
                break
        r, _, _ = select.select([s], [], [], wait)
        if not r:
            continue
        data = s.recv(65536)
        t_last = time.monotonic()
        if t_first is None:
            t_first = t_last
        if len(data) < HDR.size:
            continue
        (seq,) = HDR.unpack_from(data)
        received += 1
        nbytes += len(data)
        order.update(HDR.pack(seq))
        if seq in seen:
            dups += 1
            continue
        seen.add(seq)
        if seq < hi:
            ooo += 1
        else:
            hi = seq
    span = (t_last - t_first) if t_first is not None and t_last > t_first else 0
    print(json.dumps({
        "received": received, "unique": len(seen), "duplicates": dups, "out_of_order": ooo,
        "bytes": nbytes, "seconds": round(span, 4),
        "order_digest": order.hexdigest(),
        "set_digest": hashlib.sha256(b"".join(HDR.pack(x) for x in sorted(seen))).hexdigest(),
    }))
    return 0


def tcp_send(a):
    data = random.Random(a.seed).randbytes(a.bytes)
    s = socket.create_connection(addr(a.to), timeout=a.timeout)
    t0 = time.monotonic()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    # Wait for the receiver's close so the transfer is complete end to end.
    while s.recv(4096):
        pass
    s.close()
    print(json.dumps({"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                      "seconds": round(time.monotonic() - t0, 3)}))
    return 0


def tcp_recv(a):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(addr(a.bind))
    ls.listen(1)
    ls.settimeout(a.timeout)
    ready(a.ready)
    c, _ = ls.accept()
    c.settimeout(a.timeout)
    h = hashlib.sha256()
    n = 0
    t_first = t_last = None
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        t_last = time.monotonic()
        if t_first is None:
            t_first = t_last
        n += len(b)
        h.update(b)
    c.close()
    span = (t_last - t_first) if t_first is not None else 0
    print(json.dumps({"bytes": n, "sha256": h.hexdigest(), "seconds": round(span, 4),
                      "goodput_bps": round(n * 8 / span) if span > 0 else 0}))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["udp-send", "udp-recv", "tcp-send", "tcp-recv"])
    p.add_argument("--to")
    p.add_argument("--bind")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--size", type=int, default=100)
    p.add_argument("--pps", type=float, default=10000)
    p.add_argument("--bytes", type=int, default=1 << 20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--idle", type=float, default=1.0)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--ready")
    a = p.parse_args()
    try:
        return {"udp-send": udp_send, "udp-recv": udp_recv,
                "tcp-send": tcp_send, "tcp-recv": tcp_recv}[a.mode](a)
    except (OSError, ValueError) as e:
        print(json.dumps({"error": str(e)}))
        return 1


if __name__ == "__main__":
    sys.exit(main())
