#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Idle SMTP connections for bench/smtp-idle-bench.sh (prints figures; asserts nothing).
  smtp_idle_client.py HOST PORT N SRC1,SRC2,... [SECONDS]
Opens N connections bound round-robin to the source addresses, reads each greeting, sends
EHLO, reads its reply to the end, then holds the connection without a word until stdin
closes. Prints one line "idle N failed F seconds S" once every connection is idle or failed
(or SECONDS, default 150, have passed), on stdout; the count of each failure kind on stderr.
Descriptors are capped per process: the work is split over processes."""
import multiprocessing as mp
import resource
import selectors
import socket
import sys
import time

INFLIGHT = 1500  # connections between connect and the EHLO reply, per process


def worker(host, port, n, srcs, secs, out):
    sel = selectors.DefaultSelector()
    state = {}  # socket -> [phase, buffer]; phase 0 greeting, 1 EHLO reply, 2 idle
    started = idle = 0
    failed = {}
    held = []
    end = time.monotonic() + secs

    def fail(s, why):
        failed[why] = failed.get(why, 0) + 1
        sel.unregister(s)
        del state[s]
        s.close()

    while (idle + sum(failed.values()) < n) and time.monotonic() < end:
        while started < n and len(state) < INFLIGHT:
            s = socket.socket()
            s.setblocking(False)
            try:
                s.bind((srcs[started % len(srcs)], 0))
            except OSError:
                s.close()
                failed["bind"] = failed.get("bind", 0) + 1
                started += 1
                continue
            s.connect_ex((host, port))
            state[s] = [0, b""]
            sel.register(s, selectors.EVENT_READ)
            started += 1
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                fail(s, "reset")
                continue
            if not data:
                fail(s, "closed")
                continue
            st = state[s]
            st[1] += data
            if not st[1].endswith(b"\r\n"):
                continue
            last = st[1].split(b"\r\n")[-2]
            if last[3:4] == b"-":
                continue  # a multi-line reply goes on
            if st[0] == 0:
                if not last.startswith(b"220 "):
                    fail(s, "greeting " + last[:3].decode("ascii", "replace"))
                    continue
                st[0], st[1] = 1, b""
                s.send(b"EHLO idle.bench.test\r\n")
            elif st[0] == 1:
                if not last.startswith(b"250 "):
                    fail(s, "ehlo " + last[:3].decode("ascii", "replace"))
                    continue
                sel.unregister(s)
                del state[s]
                held.append(s)
                idle += 1
    out.put((idle, failed))
    # Hold every idle connection until the parent ends us.
    time.sleep(3600)


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    srcs = sys.argv[4].split(",")
    secs = float(sys.argv[5]) if len(sys.argv) > 5 else 150.0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    per = max(1, min(hard - 256, 30000))
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    t0 = time.monotonic()
    out = mp.Queue()
    ps, left, k = [], n, 0
    while left > 0:
        m = min(per, left)
        rot = srcs[k % len(srcs):] + srcs[:k % len(srcs)]
        p = mp.Process(target=worker, args=(host, port, m, rot, secs, out), daemon=True)
        p.start()
        ps.append(p)
        left -= m
        k += 1
    idle, failed = 0, {}
    for _ in ps:
        i, f = out.get()
        idle += i
        for why, c in f.items():
            failed[why] = failed.get(why, 0) + c
    print("idle %d failed %d seconds %.1f" % (idle, sum(failed.values()), time.monotonic() - t0),
          flush=True)
    for why, c in sorted(failed.items()):
        print("  failed %s: %d" % (why, c), file=sys.stderr, flush=True)
    sys.stdin.read()  # until the bench closes our stdin
    for p in ps:
        p.terminate()


if __name__ == "__main__":
    sys.exit(main())
