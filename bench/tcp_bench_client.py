#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Load generator for bench/tcp-bench.sh (prints figures; asserts nothing).
  conn HOST PORT SECONDS PROCS            connect + 1-byte echo + close, as fast as possible
  rr HOST PORT SECONDS CONNS              request/response (64 bytes) on CONNS connections
  idle HOST PORT N SRC1,SRC2,...          open N connections and hold them until stdin closes"""
import multiprocessing as mp
import os
import resource
import selectors
import socket
import sys
import time


def conn_worker(host, port, secs, q):
    n = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        s = socket.create_connection((host, port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # no TIME-WAIT here
        s.sendall(b"x")
        s.recv(1)
        s.close()
        n += 1
    q.put(n)


def rr_worker(host, port, secs, conns, q):
    sel = selectors.DefaultSelector()
    msg = b"m" * 64
    for _ in range(conns):
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        s.send(msg)
        sel.register(s, selectors.EVENT_READ, [0])
    n = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        for key, _ in sel.select(0.2):
            st = key.data
            st[0] += len(key.fileobj.recv(4096))
            while st[0] >= 64:
                st[0] -= 64
                n += 1
                key.fileobj.send(msg)
    q.put(n)


def main():
    mode = sys.argv[1]
    host, port = sys.argv[2], int(sys.argv[3])
    if mode in ("conn", "rr"):
        secs, k = float(sys.argv[4]), int(sys.argv[5])
        q = mp.Queue()
        if mode == "conn":
            ps = [mp.Process(target=conn_worker, args=(host, port, secs, q)) for _ in range(k)]
        else:
            ps = [mp.Process(target=rr_worker, args=(host, port, secs, max(1, k // 2), q)) for _ in range(2)]
        [p.start() for p in ps]
        total = sum(q.get() for _ in ps)
        [p.join() for p in ps]
        print("%.0f" % (total / secs))
        return 0
    n, srcs = int(sys.argv[4]), sys.argv[5].split(",")
    # Descriptors per process are capped (hard RLIMIT_NOFILE): split over processes.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    per = max(1, hard - 256)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    t0 = time.monotonic()
    ps, left, k = [], n, 0
    ready = mp.Queue()
    while left > 0:
        m = min(per, left)
        p = mp.Process(target=idle_worker, args=(host, port, m, srcs[k % len(srcs):] + srcs[:k % len(srcs)], ready))
        p.start()
        ps.append(p)
        left -= m
        k += 1
    for _ in ps:
        ready.get()
    print("opened %d in %.1f s" % (n, time.monotonic() - t0), flush=True)
    sys.stdin.read()
    for p in ps:
        p.terminate()
    return 0


def idle_worker(host, port, n, srcs, ready):
    socks = []
    for i in range(n):
        s = socket.socket()
        s.bind((srcs[i % len(srcs)], 0))
        s.setblocking(False)
        s.connect_ex((host, port))
        socks.append(s)
        if i % 2000 == 1999:
            time.sleep(0.05)  # let handshakes finish; the SYN queue is bounded
    ready.put(n)
    time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
