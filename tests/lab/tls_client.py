#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""STARTTLS checks against the appliance (run in the client namespace), for test-tls.sh.

usage: tls_client.py HOST CA_FILE COMMAND [ARGS]
  smtplib RCPT TAG          deliver one message with smtplib starttls(), certificate verified
  inject                    "STARTTLS\\r\\nRSET\\r\\n" in one segment: the RSET must never be
                            answered, and the session is back to the pre-EHLO state in TLS
  garbage                   plain SMTP where the ClientHello belongs: the server closes
  truncated                 half a ClientHello, then silence: closed by the handshake timeout
  hold FPR_FILE RCPT TAG    open a TLS session, write the server certificate's SHA-256 to
                            FPR_FILE, wait for FPR_FILE.go, then deliver a message on it
  fingerprint               one TLS session: print the server certificate's SHA-256
  ratelimit N               N STARTTLS in a row from one address: print the 454 count
  exhaust N                 hold N TLS sessions (the whole pool): one more STARTTLS gets 454
                            4.7.0 and its session goes on in plaintext; a slot is free again
                            once one of the N ends
  load N SRC_PREFIX FIRST LAST STATS_CMD
                            N concurrent TLS sessions, all open at once; STATS_CMD (a shell
                            command) is run while they are and its output printed
"""
import asyncio
import hashlib
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import time

HOST = sys.argv[1]
CA = sys.argv[2]


def ctx_verified():
    c = ssl.create_default_context(cafile=CA)
    c.check_hostname = True
    return c


def read_reply(f):
    """One SMTP reply (possibly multi-line) from a file object: (code, text)."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            return 0, "".join(lines)
        line = line.decode("latin-1")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return int(line[:3]), "".join(lines)


def plain_until_starttls(sock):
    f = sock.makefile("rb")
    code, _ = read_reply(f)
    assert code == 220, "greeting %d" % code
    sock.sendall(b"EHLO client.example\r\n")
    code, text = read_reply(f)
    assert code == 250 and "STARTTLS" in text, "EHLO: %r" % text
    return f


def cmd_smtplib(rcpt, tag):
    with smtplib.SMTP(HOST, 25, local_hostname="client.example", timeout=20) as s:
        s._host = "mx.example.com"  # the name the certificate is checked against
        s.ehlo()
        if not s.has_extn("starttls"):
            print("FAIL smtplib: STARTTLS not offered")
            return 1
        s.starttls(context=ctx_verified())
        s.ehlo()
        if s.has_extn("starttls"):
            print("FAIL smtplib: STARTTLS offered again inside TLS")
            return 1
        ver, cipher = s.sock.version(), s.sock.cipher()[0]
        msg = "From: <tester@client.example>\r\nTo: <%s>\r\nSubject: tls\r\nX-Test-Id: %s\r\n\r\nover TLS\r\n" % (rcpt, tag)
        s.sendmail("tester@client.example", [rcpt], msg)
    print("ok   smtplib starttls() delivered to %s over %s %s, certificate verified" % (rcpt, ver, cipher))
    return 0


def cmd_inject():
    sock = socket.create_connection((HOST, 25), timeout=5)
    f = plain_until_starttls(sock)
    # One segment: the command and the injected one behind it (CVE-2011-0411).
    sock.sendall(b"STARTTLS\r\nRSET\r\n")
    code, text = read_reply(f)
    if code != 220:
        print("FAIL inject: STARTTLS got %r" % text)
        return 1
    # Nothing else may come in plaintext: the RSET reply would be here.
    sock.settimeout(1.0)
    try:
        extra = sock.recv(100, socket.MSG_PEEK)
    except socket.timeout:
        extra = b""
    if extra:
        print("FAIL inject: plaintext after the 220: %r" % extra)
        return 1
    sock.settimeout(5)
    tls = ctx_verified().wrap_socket(sock, server_hostname="mx.example.com")
    # Nor inside TLS: the first bytes there must answer our own commands only.
    tls.settimeout(1.0)
    try:
        early = tls.recv(100)
    except (socket.timeout, ssl.SSLWantReadError):
        early = b""
    if early:
        print("FAIL inject: the injected RSET was answered: %r" % early)
        return 1
    tls.settimeout(5)
    tf = tls.makefile("rb")
    # RFC 3207 §4.2: back to the state after the greeting.
    tls.sendall(b"MAIL FROM:<a@client.example>\r\n")
    code, text = read_reply(tf)
    if code != 503:
        print("FAIL inject: MAIL before EHLO inside TLS got %r (session not reset)" % text)
        return 1
    tls.sendall(b"EHLO client.example\r\n")
    code, text = read_reply(tf)
    if code != 250 or "STARTTLS" in text:
        print("FAIL inject: EHLO inside TLS got %r" % text)
        return 1
    tls.sendall(b"STARTTLS\r\n")
    code, text = read_reply(tf)
    if code != 503:
        print("FAIL inject: STARTTLS inside TLS got %r" % text)
        return 1
    tls.sendall(b"QUIT\r\n")
    code, _ = read_reply(tf)
    print("ok   injection: the pipelined RSET was dropped unanswered, TLS session starts pre-EHLO (503 to MAIL), no second STARTTLS")
    return 0 if code == 221 else 1


def client_hello():
    """The bytes of a real ClientHello, from an in-memory TLS client."""
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    o = c.wrap_bio(inc, out, server_hostname="mx.example.com")
    try:
        o.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def closed_within(sock, seconds):
    """True when the server closes (EOF or reset) within <seconds>; how long it took."""
    t0 = time.time()
    sock.settimeout(seconds)
    try:
        while True:
            d = sock.recv(4096)
            if not d:
                return True, time.time() - t0
    except socket.timeout:
        return False, time.time() - t0
    except ConnectionResetError:
        return True, time.time() - t0


def starttls_raw():
    sock = socket.create_connection((HOST, 25), timeout=5)
    f = plain_until_starttls(sock)
    sock.sendall(b"STARTTLS\r\n")
    code, _ = read_reply(f)
    assert code == 220
    return sock


def cmd_garbage():
    sock = starttls_raw()
    sock.sendall(b"MAIL FROM:<x@y>\r\nRCPT TO:<alice@example.com>\r\n")
    closed, took = closed_within(sock, 5)
    print("%s garbage instead of a ClientHello: connection closed after %.2f s" % ("ok  " if closed else "FAIL", took))
    return 0 if closed else 1


def cmd_truncated(timeout):
    hello = client_hello()
    sock = starttls_raw()
    sock.sendall(hello[: len(hello) // 2])
    closed, took = closed_within(sock, timeout + 5)
    ok = closed and took >= timeout * 0.8
    print("%s truncated ClientHello, then silence: closed after %.2f s (handshake timeout %.0f s)" % ("ok  " if ok else "FAIL", took, timeout))
    return 0 if ok else 1


def fingerprint_of(tls):
    return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def cmd_fingerprint():
    sock = starttls_raw()
    tls = ctx_verified().wrap_socket(sock, server_hostname="mx.example.com")
    print(fingerprint_of(tls))
    tls.close()
    return 0


def cmd_hold(fpr_file, rcpt, tag):
    sock = starttls_raw()
    tls = ctx_verified().wrap_socket(sock, server_hostname="mx.example.com")
    tf = tls.makefile("rb")
    tls.sendall(b"EHLO client.example\r\n")
    read_reply(tf)
    with open(fpr_file + ".tmp", "w") as f:
        f.write(fingerprint_of(tls) + "\n")
    os.rename(fpr_file + ".tmp", fpr_file)
    end = time.time() + 60
    while not os.path.exists(fpr_file + ".go"):
        if time.time() > end:
            print("FAIL hold: never told to go on")
            return 1
        time.sleep(0.1)
    steps = [b"MAIL FROM:<tester@client.example>\r\n", b"RCPT TO:<%s>\r\n" % rcpt.encode(), b"DATA\r\n",
             b"Subject: held\r\nX-Test-Id: %s\r\n\r\nsent after a certificate reload\r\n.\r\n" % tag.encode(),
             b"QUIT\r\n"]
    want = [250, 250, 354, 250, 221]
    for s, w in zip(steps, want):
        tls.sendall(s)
        code, text = read_reply(tf)
        if code != w:
            print("FAIL hold: %r got %r" % (s[:20], text))
            return 1
    print("ok   the TLS session opened before the reload delivered after it")
    return 0


def cmd_ratelimit(n):
    refused = 0
    for _ in range(n):
        sock = socket.create_connection((HOST, 25), timeout=5)
        f = plain_until_starttls(sock)
        sock.sendall(b"STARTTLS\r\n")
        code, text = read_reply(f)
        if code == 454 and "4.7.0" in text:
            refused += 1
        elif code != 220:
            print("FAIL ratelimit: %r" % text)
        sock.close()
    print(refused)
    return 0


def cmd_exhaust(n):
    held = []
    for _ in range(n):
        tls = ctx_verified().wrap_socket(starttls_raw(), server_hostname="mx.example.com")
        tls.sendall(b"EHLO client.example\r\n")
        read_reply(tls.makefile("rb"))
        held.append(tls)
    sock = socket.create_connection((HOST, 25), timeout=5)
    f = plain_until_starttls(sock)
    sock.sendall(b"STARTTLS\r\n")
    code, text = read_reply(f)
    sock.sendall(b"MAIL FROM:<a@client.example>\r\n")
    code2, _ = read_reply(f)
    sock.close()
    held.pop().close()
    time.sleep(0.5)
    tls = ctx_verified().wrap_socket(starttls_raw(), server_hostname="mx.example.com")
    again = tls.version()
    tls.close()
    for h in held:
        h.close()
    ok = code == 454 and "4.7.0" in text and code2 == 250 and again
    print("%s pool of %d exhausted: %r, the session went on in plaintext (MAIL %d); a freed slot served %s" %
          ("ok  " if ok else "FAIL", n, text.strip(), code2, again))
    return 0 if ok else 1


def cmd_membudget(limit):
    """Hold TLS sessions one after another until the appliance refuses one (its OpenSSL
    memory budget spent) or <limit> are open; then free them and check TLS works again."""
    held, why = [], None
    while len(held) < limit:
        try:
            sock = starttls_raw()
        except Exception as e:  # 454 or a closed connection: refused before the handshake
            why = "STARTTLS: %r" % e
            break
        try:
            tls = ctx_verified().wrap_socket(sock, server_hostname="mx.example.com")
            tls.sendall(b"EHLO client.example\r\n")
            code, _ = read_reply(tls.makefile("rb"))
            if code != 250:
                raise RuntimeError("EHLO in TLS: %d" % code)
            held.append(tls)
        except Exception as e:
            why = "handshake: %r" % e
            sock.close()
            break
    n = len(held)
    for h in held:
        h.close()
    time.sleep(1.0)
    try:
        tls = ctx_verified().wrap_socket(starttls_raw(), server_hostname="mx.example.com")
        again = tls.version()
        tls.close()
    except Exception as e:
        again = None
        why = "%s; after freeing: %r" % (why, e)
    ok = 0 < n < limit and why is not None and again is not None
    print("%s memory budget: %d TLS sessions held, the next refused (%s); after freeing them a new one got %s" %
          ("ok  " if ok else "FAIL", n, why, again))
    return 0 if ok else 1


async def load_one(host, src, i, opened, release, ctx):
    r, w = await asyncio.open_connection(host, 25, local_addr=(src, 0))
    try:
        async def reply():
            while True:
                line = (await r.readline()).decode("latin-1")
                if not line:
                    return 0
                if len(line) < 4 or line[3] != "-":
                    return int(line[:3])
        if await reply() != 220:
            return "greeting"
        w.write(b"EHLO load%d.example\r\n" % i)
        await w.drain()
        if await reply() != 250:
            return "ehlo"
        w.write(b"STARTTLS\r\n")
        await w.drain()
        code = await reply()
        if code != 220:
            return "starttls %d" % code
        await w.start_tls(ctx, server_hostname="mx.example.com")
        w.write(b"EHLO load%d.example\r\n" % i)
        await w.drain()
        if await reply() != 250:
            return "ehlo in tls"
        opened.append(i)
        await release.wait()
        w.write(b"NOOP\r\nQUIT\r\n")
        await w.drain()
        if await reply() != 250 or await reply() != 221:
            return "noop/quit"
        return None
    finally:
        w.close()


async def load(n, prefix, first, last, stats_cmd):
    ctx = ctx_verified()
    opened, release = [], asyncio.Event()
    srcs = ["%s.%d" % (prefix, a) for a in range(first, last + 1)]
    tasks = [asyncio.create_task(asyncio.wait_for(load_one(HOST, srcs[i % len(srcs)], i, opened, release, ctx), 120))
             for i in range(n)]
    t0 = time.time()
    while len(opened) < n and time.time() - t0 < 100 and not all(t.done() for t in tasks):
        await asyncio.sleep(0.2)
    took = time.time() - t0
    peak = len(opened)
    out = subprocess.run(stats_cmd, shell=True, capture_output=True, text=True).stdout
    release.set()
    res = await asyncio.gather(*tasks, return_exceptions=True)
    bad = [r for r in res if r is not None]
    print("%d of %d TLS sessions open at once after %.1f s (%.0f handshakes/s from the client); %d failed%s" %
          (peak, n, took, peak / took if took else 0, len(bad), (": %r" % bad[:3]) if bad else ""))
    print(out.strip())
    return 0 if peak == n and not bad else 1


def main():
    cmd = sys.argv[3]
    a = sys.argv[4:]
    if cmd == "smtplib":
        return cmd_smtplib(a[0], a[1])
    if cmd == "inject":
        return cmd_inject()
    if cmd == "garbage":
        return cmd_garbage()
    if cmd == "truncated":
        return cmd_truncated(float(a[0]))
    if cmd == "fingerprint":
        return cmd_fingerprint()
    if cmd == "hold":
        return cmd_hold(a[0], a[1], a[2])
    if cmd == "ratelimit":
        return cmd_ratelimit(int(a[0]))
    if cmd == "exhaust":
        return cmd_exhaust(int(a[0]))
    if cmd == "membudget":
        return cmd_membudget(int(a[0]))
    if cmd == "load":
        return asyncio.run(load(int(a[0]), a[1], int(a[2]), int(a[3]), a[4]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
