#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""N concurrent pipelining SMTP sessions through ndrguard (run in the client namespace).

Each session connects from one of the client addresses, waits for the greeting, sends EHLO,
MAIL, RCPT and DATA in one write (RFC 2920), checks the four replies, sends a small message
with a unique X-Test-Id and QUIT in one write, and checks 250 and 221. Prints a summary and
exits 1 unless every session succeeded.
usage: smtp_load.py HOST N SRC_PREFIX FIRST LAST [RCPT] [TIMEOUT] [--reject]
With --reject each session is a backscatter attempt instead: EHLO, a forged sender, an unknown
RCPT and QUIT pipelined in one write, expecting 250, 250, 550, 221.
"""
import asyncio
import os
import sys
import time


async def reject_session(host, src, i, rcpt, tag):
    r, w = await asyncio.open_connection(host, 25, local_addr=(src, 0))
    try:
        line = await r.readline()
        if not line.startswith(b"220"):
            return "greeting %r" % line
        w.write(b"EHLO bot.example\r\nMAIL FROM:<victim@forged.example>\r\nRCPT TO:<%s>\r\nQUIT\r\n"
                % rcpt.encode())
        await w.drain()
        codes = []
        while len(codes) < 4:
            line = (await r.readline()).decode("latin-1")
            if not line:
                return "closed after %r" % codes
            if len(line) >= 4 and line[3] == "-":
                continue
            codes.append(int(line[:3]))
        return None if codes == [250, 250, 550, 221] else "replies %r" % codes
    finally:
        w.close()


async def session(host, src, i, rcpt, tag):
    r, w = await asyncio.open_connection(host, 25, local_addr=(src, 0))

    async def reply():
        lines = []
        while True:
            line = (await r.readline()).decode("latin-1").rstrip("\r\n")
            if not line:
                raise ConnectionError("closed after %r" % lines)
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    try:
        c, _ = await reply()
        if c != 220:
            return "greeting %d" % c
        w.write(b"EHLO load.example\r\nMAIL FROM:<load@client.example>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                % rcpt.encode())
        await w.drain()
        codes = [(await reply())[0] for _ in range(4)]
        if codes != [250, 250, 250, 354]:
            return "pipelined replies %r" % codes
        w.write(b"Subject: load %d\r\nX-Test-Id: %s-%d\r\n\r\nsession %d\r\n.\r\nQUIT\r\n" % (i, tag.encode(), i, i))
        await w.drain()
        codes = [(await reply())[0] for _ in range(2)]
        if codes != [250, 221]:
            return "final replies %r" % codes
        return None
    finally:
        w.close()


async def main():
    reject = "--reject" in sys.argv
    args = [a for a in sys.argv if a != "--reject"]
    host, n, prefix, first, last = args[1], int(args[2]), args[3], int(args[4]), int(args[5])
    rcpt = args[6] if len(args) > 6 else ("nobody%d@example.com" if reject else "alice@example.com")
    timeout = float(args[7]) if len(args) > 7 else 120
    if not 0 < n <= 20000:
        sys.exit("N out of bounds")
    tag = "load%d" % os.getpid()
    srcs = ["%s.%d" % (prefix, a) for a in range(first, last + 1)]
    t0 = time.time()
    fn = reject_session if reject else session
    tasks = [asyncio.wait_for(fn(host, srcs[i % len(srcs)], i, rcpt.replace("%d", str(i)) if "%d" in rcpt else rcpt, tag),
                              timeout) for i in range(n)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    bad = [(i, r) for i, r in enumerate(results) if r is not None]
    dt = time.time() - t0
    print("%d concurrent pipelined %s sessions: %d ok, %d failed, %.1fs (%.0f sessions/s) tag %s" % (
        n, "rejected" if reject else "delivering", n - len(bad), len(bad), dt, n / dt, tag))
    for i, r in bad[:5]:
        print("  session %d: %r" % (i, r))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    asyncio.run(main())
