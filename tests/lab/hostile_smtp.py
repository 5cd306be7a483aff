#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""SMTP clients for tests/lab/test-hostile.sh (client namespace, Linux sockets). Each mode is
bounded in count and time and prints one JSON line of figures last.

  hostile_smtp.py loris HOST SRC_PREFIX FIRST LAST [--clients N] [--secs S] [--every S]
      N slow-loris clients: connect, read the greeting, then send "EHLO loris.example" one
      byte every S seconds and never end the line.
  hostile_smtp.py legit HOST SRC_PREFIX FIRST LAST MANIFEST [--count N] [--concurrency C]
          [--big-every K] [--big-size B] [--secs S]
      N messages to alice@example.com, one session each, pipelined; every K-th is B bytes
      (1 MiB), the rest 2-20 KB; bodies are seeded from the message number and hold lines
      that start with a dot. MANIFEST gets {id: sha256 of the body as the mailbox stores it}.
      A connection that brings no greeting within --greet-timeout is tried again, as an MTA
      would (--attempts, counted as no_greeting_retries): under a SYN flood the appliance
      answers with cookies and keeps no state, so a lost third ACK leaves a client waiting for
      a greeting that cannot come (SMTP: the server speaks first).
  hostile_smtp.py verify MAILDIR MANIFEST [--wait S]
      Waits up to S seconds for every message of MANIFEST in MAILDIR (Maildir/new), then
      compares each body's sha256.
"""
import argparse
import asyncio
import glob
import hashlib
import json
import os
import random
import signal
import sys
import time

CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_=+/"
TABLE = bytes(ord(CHARS[b % len(CHARS)]) for b in range(256))


def make_body(i, size):
    """(wire bytes, dot-stuffed and CRLF; sha256 of the LF body the Maildir will hold)."""
    rnd = random.Random(i)
    lines = []
    total = 0
    while total < size:
        line = rnd.randbytes(rnd.randint(0, 200)).translate(TABLE)
        if rnd.random() < 0.03:
            line = b"." + line  # must survive dot-stuffing
        lines.append(line)
        total += len(line) + 2
    lf = b"\n".join(lines) + b"\n"
    wire = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
    return wire, hashlib.sha256(lf).hexdigest()


async def loris_one(host, src, every, end, fig):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, 25, local_addr=(src, 0)), 15)
    except Exception:
        fig["connect_failed"] += 1
        return
    fig["connected"] += 1
    try:
        line = await asyncio.wait_for(r.readline(), 15)
        if not line.startswith(b"220"):
            fig["refused"] += 1
            return
        fig["greeted"] += 1
        cmd = b"EHLO loris.example"
        i = 0
        while time.time() < end:
            w.write(cmd[i % len(cmd):i % len(cmd) + 1])
            await w.drain()
            fig["bytes"] += 1
            i += 1
            try:
                got = await asyncio.wait_for(r.read(512), every)
                if not got:
                    fig["closed_by_appliance"] += 1
                    return
                fig["replies"] += 1
                fig["last_reply"] = got[:60].decode("latin-1").strip()
            except asyncio.TimeoutError:
                pass
        fig["alive_at_end"] += 1
    except (ConnectionError, OSError):
        fig["closed_by_appliance"] += 1
    finally:
        w.close()


async def loris(a):
    srcs = ["%s.%d" % (a.prefix, x) for x in range(a.first, a.last + 1)]
    fig = {"mode": "loris", "clients": a.clients, "connected": 0, "connect_failed": 0,
           "greeted": 0, "refused": 0, "bytes": 0, "replies": 0, "closed_by_appliance": 0,
           "alive_at_end": 0}
    end = time.time() + a.secs

    def report(*_):
        print(json.dumps(fig), flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, report)
    tasks = []
    for i in range(a.clients):
        tasks.append(asyncio.create_task(loris_one(a.host, srcs[i % len(srcs)],
                                                   a.every * (0.8 + 0.4 * random.random()), end, fig)))
        await asyncio.sleep(0.01)
    await asyncio.gather(*tasks, return_exceptions=True)
    report()


class NoGreeting(Exception):
    """The connection gave no greeting: what an MTA retries later, never a lost message."""


async def legit_session(host, src, i, tag, size, timeout, greet_timeout):
    """(error or None, DATA reply code, body digest); NoGreeting before any 220."""
    wire, digest = make_body(i, size)
    phase = ["connect"]
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, 25, local_addr=(src, 0)),
                                      greet_timeout)
    except (OSError, asyncio.TimeoutError) as e:
        raise NoGreeting("connect: %s %s" % (type(e).__name__, e))

    async def reply(t=timeout):
        lines = []
        while True:
            line = (await asyncio.wait_for(r.readline(), t)).decode("latin-1").rstrip("\r\n")
            if not line:
                raise ConnectionError("closed after %r" % lines)
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), line

    try:
        phase[0] = "greeting"
        try:
            c, line = await reply(greet_timeout)
        except (OSError, asyncio.TimeoutError) as e:
            raise NoGreeting("greeting: %s %s" % (type(e).__name__, e))
        if c != 220:
            return "greeting %r" % line, None, None
        phase[0] = "envelope"
        w.write(b"EHLO legit.example\r\nMAIL FROM:<legit@client.example>\r\n"
                b"RCPT TO:<alice@example.com>\r\nDATA\r\n")
        await w.drain()
        codes = [(await reply())[0] for _ in range(4)]
        if codes != [250, 250, 250, 354]:
            return "pipelined replies %r" % codes, None, None
        phase[0] = "data"
        w.write(b"From: legit@client.example\r\nTo: alice@example.com\r\nSubject: hostile %d\r\n"
                b"X-Test-Id: %s-%d\r\n\r\n" % (i, tag.encode(), i))
        for off in range(0, len(wire), 65536):
            w.write(wire[off:off + 65536])
            await w.drain()
        w.write(b".\r\nQUIT\r\n")
        await w.drain()
        phase[0] = "end of data"
        c, line = await reply()
        if c != 250:
            return "end of data %r" % line, c, None
        phase[0] = "quit"
        c2, _ = await reply()
        return (None if c2 == 221 else "QUIT %d" % c2), c, digest
    except NoGreeting:
        raise
    except Exception as e:  # noqa: BLE001 - a session that broke after the greeting
        return "%s: %s %s" % (phase[0], type(e).__name__, e), None, None
    finally:
        w.close()


async def legit_one(host, src, i, tag, size, timeout, greet_timeout, attempts, res):
    """An MTA's delivery: a connection that gives no greeting is tried again (attempts at
    most); anything that breaks after the greeting is a failed session."""
    last = None
    for _ in range(attempts):
        try:
            return await legit_session(host, src, i, tag, size, timeout, greet_timeout)
        except NoGreeting as e:
            res["no_greeting_retries"] += 1
            last = e
            await asyncio.sleep(1)
    return "no greeting in %d attempts (%s)" % (attempts, last), None, None


async def legit(a):
    srcs = ["%s.%d" % (a.prefix, x) for x in range(a.first, a.last + 1)]
    tag = "hostile%d" % os.getpid()
    sem = asyncio.Semaphore(a.concurrency)
    manifest = {}
    res = {"ok": 0, "data_250": 0, "failed": 0, "bytes": 0, "big": 0, "no_greeting_retries": 0}
    errors = []
    deadline = time.time() + a.secs

    async def one(i):
        size = a.big_size if a.big_every and i % a.big_every == a.big_every - 1 else \
            random.Random(-i).randint(2000, 20000)
        async with sem:
            if time.time() > deadline:
                err, code, digest = "not started: time box over", None, None
            else:
                try:
                    err, code, digest = await asyncio.wait_for(
                        legit_one(a.host, srcs[i % len(srcs)], i, tag, size, a.timeout,
                                  a.greet_timeout, a.attempts, res),
                        max(1, deadline - time.time()))
                except Exception as e:  # noqa: BLE001 - every failure is a figure
                    err, code, digest = "%s %s" % (type(e).__name__, e), None, None
        if code == 250:
            res["data_250"] += 1
            manifest["%s-%d" % (tag, i)] = digest
            res["bytes"] += size
            res["big"] += size == a.big_size
        if err is None:
            res["ok"] += 1
        else:
            res["failed"] += 1
            errors.append((i, err))

    t0 = time.time()
    await asyncio.gather(*(one(i) for i in range(a.count)))
    res["secs"] = round(time.time() - t0, 1)
    with open(a.manifest, "w") as f:
        json.dump(manifest, f)
    res.update({"mode": "legit", "count": a.count, "tag": tag,
                "errors": ["%d: %s" % e for e in sorted(errors)[:8]]})
    print(json.dumps(res))


def verify(a):
    manifest = json.load(open(a.manifest))
    end = time.time() + a.wait
    got = {}
    seen = set()
    while True:
        for path in glob.glob(os.path.join(a.maildir, "new", "*")) + glob.glob(os.path.join(a.maildir, "cur", "*")):
            if path in seen:
                continue
            seen.add(path)
            with open(path, "rb") as f:
                data = f.read()
            head, _, body = data.partition(b"\n\n")
            for h in head.split(b"\n"):
                if h.lower().startswith(b"x-test-id:"):
                    tid = h.split(b":", 1)[1].strip().decode()
                    if tid in manifest:
                        got.setdefault(tid, []).append(hashlib.sha256(body).hexdigest())
        if all(t in got for t in manifest) or time.time() >= end:
            break
        time.sleep(0.5)
    exact = sum(1 for t, h in manifest.items() if got.get(t) == [h])
    missing = [t for t in manifest if t not in got]
    corrupt = [t for t, h in manifest.items() if t in got and h not in got[t]]
    dup = [t for t in got if len(got[t]) > 1]
    print(json.dumps({"mode": "verify", "expected": len(manifest), "delivered": len(got),
                      "byte_exact": exact, "missing": len(missing), "corrupt": len(corrupt),
                      "duplicated": len(dup), "examples": (missing + corrupt + dup)[:5]}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    lo = sub.add_parser("loris")
    le = sub.add_parser("legit")
    for s in (lo, le):
        s.add_argument("host")
        s.add_argument("prefix")
        s.add_argument("first", type=int)
        s.add_argument("last", type=int)
    lo.add_argument("--clients", type=int, default=200)
    lo.add_argument("--secs", type=float, default=120)
    lo.add_argument("--every", type=float, default=3)
    le.add_argument("manifest")
    le.add_argument("--count", type=int, default=1000)
    le.add_argument("--concurrency", type=int, default=24)
    le.add_argument("--big-every", type=int, default=25)
    le.add_argument("--big-size", type=int, default=1 << 20)
    le.add_argument("--secs", type=float, default=180)
    le.add_argument("--timeout", type=float, default=60)
    le.add_argument("--greet-timeout", type=float, default=15)
    le.add_argument("--attempts", type=int, default=3)
    v = sub.add_parser("verify")
    v.add_argument("maildir")
    v.add_argument("manifest")
    v.add_argument("--wait", type=float, default=60)
    a = p.parse_args()
    if a.mode == "loris":
        if not 0 < a.clients <= 5000:
            sys.exit("clients out of bounds")
        asyncio.run(loris(a))
    elif a.mode == "legit":
        if not 0 < a.count <= 20000:
            sys.exit("count out of bounds")
        asyncio.run(legit(a))
    else:
        verify(a)


if __name__ == "__main__":
    main()
