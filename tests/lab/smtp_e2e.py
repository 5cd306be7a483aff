#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End-to-end SMTP checks through ndrguard in the lab (run in the client namespace).

Every policy row of DESIGN.md §4 that the appliance has today, delivery byte-exact into the
backend Postfix's Maildirs, smuggling, a backend that refuses a recipient the directory has,
and a client that vanishes mid-DATA. Prints one "ok"/"FAIL" line per check; exit 1 on any
failure. Modes: main (default), early-talker, backend-down, harvest.
Environment: APPLIANCE_IP, POSTFIX_DIR (the lab's, from tests/lab/lab.sh); E2E_TLS_CA (optional):
every greeted session and every smtplib delivery starts with STARTTLS, verifying the appliance's
certificate (mx.example.com) against that CA, so the same checks run over TLS.
"""
import glob
import hashlib
import os
import random
import smtplib
import socket
import ssl
import sys
import time

HOST = os.environ["APPLIANCE_IP"]
MAILDIR = os.path.join(os.environ["POSTFIX_DIR"], "mail")
PORT = 25
failures = 0
TLS_CA = os.environ.get("E2E_TLS_CA")
TLS_NAME = "mx.example.com"
TLS_CTX = ssl.create_default_context(cafile=TLS_CA) if TLS_CA else None


def check(name, ok, detail=""):
    global failures
    print("%s %s%s" % ("ok  " if ok else "FAIL", name, "" if ok else ": " + detail))
    sys.stdout.flush()
    if not ok:
        failures += 1


class Smtp:
    def __init__(self, src=None, greet=True, timeout=15):
        self.s = socket.socket()
        self.s.settimeout(timeout)
        if src:
            self.s.bind((src, 0))
        self.s.connect((HOST, PORT))
        self.buf = b""
        if greet:
            self.greeting = self.reply()
            if TLS_CTX is not None and self.greeting[0] == 220:
                self.starttls()

    def starttls(self):
        """EHLO, STARTTLS, handshake (RFC 3207): the session goes on over TLS, pre-EHLO."""
        self.cmd("EHLO tls.client.example")
        c, text = self.cmd("STARTTLS")
        if c != 220:
            raise RuntimeError("STARTTLS refused: " + text)
        self.s = TLS_CTX.wrap_socket(self.s, server_hostname=TLS_NAME)
        self.buf = b""

    def reply(self):
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                d = self.s.recv(65536)
                if not d:
                    return (0, "connection closed: " + " | ".join(lines))
                self.buf += d
            line, self.buf = self.buf.split(b"\r\n", 1)
            line = line.decode("latin-1")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return (int(line[:3]) if line[:3].isdigit() else -1, "\n".join(lines))

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\r\n")
        return self.reply()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def expect(name, got, code, enh=None):
    c, text = got
    ok = c == code and (enh is None or enh in text)
    check(name, ok, "got %r, want %d %s" % (text, code, enh or ""))


def smtp_connect(timeout=60):
    """An smtplib client, over STARTTLS when E2E_TLS_CA is set."""
    c = smtplib.SMTP(HOST, PORT, timeout=timeout)
    if TLS_CTX is not None:
        c.ehlo("client.example")
        c._host = TLS_NAME  # the name starttls() checks the certificate against
        c.starttls(context=TLS_CTX)
    return c


def session(src=None):
    s = Smtp(src)
    s.cmd("EHLO client.example")
    return s


def delivered():
    """Delivered messages: {X-Test-Id: (body sha256, path)}."""
    out = {}
    for path in glob.glob(os.path.join(MAILDIR, "*", "*", "new", "*")) + glob.glob(
            os.path.join(MAILDIR, "*", "new", "*")):
        with open(path, "rb") as f:
            data = f.read()
        head, _, body = data.partition(b"\n\n")
        for h in head.split(b"\n"):
            if h.lower().startswith(b"x-test-id:"):
                out[h.split(b":", 1)[1].strip().decode()] = (hashlib.sha256(body).hexdigest(), path)
    return out


def wait_delivered(ids, secs=60):
    end = time.time() + secs
    while time.time() < end:
        d = delivered()
        if all(i in d for i in ids):
            return d
        time.sleep(0.2)
    return delivered()


def make_message(test_id, size, rnd):
    lines = []
    total = 0
    while total < size:
        n = rnd.randint(1, 200)
        line = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz .,;:-_") for _ in range(n))
        if rnd.random() < 0.05:
            line = "." + line  # must survive dot-stuffing
        lines.append(line)
        total += len(line) + 1
    body = "\n".join(lines) + "\n"
    msg = "From: sender@client.example\nTo: rcpt\nSubject: %s\nX-Test-Id: %s\n\n%s" % (
        test_id, test_id, body)
    return msg, hashlib.sha256(body.encode()).hexdigest()


def main_checks():
    s = Smtp()
    expect("greeting", (s.greeting[0], s.greeting[1]), 220, "ESMTP")
    c, text = s.cmd("EHLO client.example")
    check("ehlo extensions", c == 250 and all(x in text for x in
          ("PIPELINING", "SIZE", "ENHANCEDSTATUSCODES", "8BITMIME")), text)
    expect("MAIL bad syntax 501 5.1.7", s.cmd("MAIL FROM:<a b@c>"), 501, "5.1.7")
    expect("MAIL bad parameter 555 5.5.4", s.cmd("MAIL FROM:<a@client.example> FOO=BAR"), 555, "5.5.4")
    expect("MAIL SIZE over limit 552 5.3.4", s.cmd("MAIL FROM:<a@client.example> SIZE=999999999999"), 552, "5.3.4")
    expect("MAIL ok", s.cmd("MAIL FROM:<sender@client.example>"), 250)
    expect("RCPT bad syntax 501 5.1.3", s.cmd("RCPT TO:<alice@>"), 501, "5.1.3")
    expect("RCPT bypass % 550 5.7.1", s.cmd("RCPT TO:<alice%elsewhere.net@example.com>"), 550, "5.7.1")
    expect("RCPT bypass ! 550 5.7.1", s.cmd("RCPT TO:<elsewhere.net!alice@example.com>"), 550, "5.7.1")
    expect("RCPT source route 550 5.7.1", s.cmd("RCPT TO:<@relay.example:alice@example.com>"), 550, "5.7.1")
    expect("RCPT relay denied 554 5.7.1", s.cmd("RCPT TO:<someone@relay-target.example>"), 554, "5.7.1")
    s.close()
    # A new session now and then: ten errors in one close it (421 4.7.0, as it should).
    s = session()
    s.cmd("MAIL FROM:<sender@client.example>")
    expect("RCPT unknown 550 5.1.1", s.cmd("RCPT TO:<nobody@example.com>"), 550, "5.1.1")
    expect("RCPT postmaster accepted", s.cmd("RCPT TO:<postmaster@example.com>"), 250)
    expect("RCPT backend refuses what the directory has: backend's 550",
           s.cmd("RCPT TO:<ghost@example.com>"), 550, "virtual mailbox table")
    expect("RSET", s.cmd("RSET"), 250)
    expect("MAIL again", s.cmd("MAIL FROM:<sender@client.example>"), 250)
    expect("DATA without recipients 554 5.5.1", s.cmd("DATA"), 554, "5.5.1")
    s.cmd("RSET")
    expect("null sender MAIL", s.cmd("MAIL FROM:<>"), 250)
    expect("null sender, first recipient", s.cmd("RCPT TO:<alice@example.com>"), 250)
    expect("null sender, second recipient 550 5.7.1", s.cmd("RCPT TO:<bob@example.com>"), 550, "5.7.1")
    s.close()
    s = session()
    s.cmd("MAIL FROM:<>")
    expect("bounce without BATV tag 550 5.7.1", s.cmd("RCPT TO:<bounce@batv.example.com>"), 550, "5.7.1")
    expect("bounce to never-bounce address 550 5.7.1", s.cmd("RCPT TO:<noreply@example.com>"), 550, "5.7.1")
    s.close()
    s = session()
    s.cmd("MAIL FROM:<sender@client.example>")
    codes = [s.cmd("RCPT TO:<r%d@catchall.example.com>" % i)[0] for i in range(100)]
    check("100 recipients accepted (catch-all)", codes == [250] * 100, str(sorted(set(codes))))
    expect("101st recipient 452 4.5.3", s.cmd("RCPT TO:<r100@catchall.example.com>"), 452, "4.5.3")
    s.cmd("RSET")
    expect("QUIT", s.cmd("QUIT"), 221)
    s.close()

    # Bare LF in DATA (reject mode): refused, and the backend gets nothing of it.
    s = session()
    s.cmd("MAIL FROM:<sender@client.example>")
    s.cmd("RCPT TO:<alice@example.com>")
    expect("DATA 354", s.cmd("DATA"), 354)
    s.s.sendall(b"X-Test-Id: bare-lf\r\nSubject: bare\r\n\r\nline one\nline two\r\n.\r\n")
    expect("bare LF in DATA 550 5.6.11", s.reply(), 550, "5.6.11")
    s.cmd("QUIT")
    s.close()

    # Smuggling: "\n.\n" then a second transaction inside the first one's data.
    s = session()
    s.cmd("MAIL FROM:<sender@client.example>")
    s.cmd("RCPT TO:<alice@example.com>")
    s.cmd("DATA")
    s.s.sendall(b"X-Test-Id: smuggle-outer\r\nSubject: outer\r\n\r\nbody\n.\nMAIL FROM:<evil@client.example>\r\n"
                b"RCPT TO:<bob@example.com>\r\nDATA\r\nX-Test-Id: smuggled\r\n\r\nsmuggled\r\n.\r\n")
    c, text = s.reply()
    check("smuggling attempt refused", c == 550 and "5.6.11" in text, text)
    s.close()

    # Pipelined delivery byte-exact: mostly 1-100 KiB, two of 10 MiB, through smtplib.
    rnd = random.Random(5321)
    want = {}
    sizes = [rnd.randint(1024, 100 * 1024) for _ in range(40)] + [10 * 1024 * 1024] * 2
    t0 = time.time()
    for i, size in enumerate(sizes):
        tid = "deliver-%d-%d" % (os.getpid(), i)
        msg, digest = make_message(tid, size, rnd)
        want[tid] = digest
        with smtp_connect() as c:
            c.sendmail("sender@client.example", [rnd.choice(["alice", "bob", "carol"]) + "@example.com"], msg)
    got = wait_delivered(list(want))
    good = sum(1 for t, d in want.items() if got.get(t, (None,))[0] == d)
    check("%d messages (two of 10 MiB) delivered byte-exact in %.1fs" % (len(want), time.time() - t0),
          good == len(want), "%d of %d match" % (good, len(want)))
    check("bare-LF and smuggled messages never reached the backend",
          not any(t in got for t in ("bare-lf", "smuggle-outer", "smuggled")),
          str([t for t in ("bare-lf", "smuggle-outer", "smuggled") if t in got]))

    # Message over the SIZE limit while streaming (limit 12M in the lab).
    s = session()
    s.cmd("MAIL FROM:<sender@client.example>")
    s.cmd("RCPT TO:<alice@example.com>")
    s.cmd("DATA")
    chunk = (b"y" * 998 + b"\r\n") * 1024
    s.s.sendall(b"X-Test-Id: too-big\r\n\r\n")
    for _ in range(13):
        s.s.sendall(chunk)
    s.s.sendall(b".\r\n")
    expect("message over SIZE while streaming 552 5.3.4", s.reply(), 552, "5.3.4")
    s.close()

    # A client that vanishes mid-DATA: the backend transaction is aborted.
    s = session()
    s.cmd("MAIL FROM:<sender@client.example>")
    s.cmd("RCPT TO:<alice@example.com>")
    s.cmd("DATA")
    s.s.sendall(b"X-Test-Id: vanished\r\nSubject: half\r\n\r\n" + b"z" * 50000 + b"\r\n")
    time.sleep(0.3)
    s.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()
    time.sleep(3)
    check("client gone mid-DATA: no partial message delivered", "vanished" not in delivered())

    # Concurrency per source over the limit (10 in the lab): the 11th gets 421 4.7.0.
    conns = [Smtp(src="198.18.1.4") for _ in range(10)]
    check("10 connections from one source greeted", all(c.greeting[0] == 220 for c in conns),
          str([c.greeting for c in conns if c.greeting[0] != 220]))
    extra = Smtp(src="198.18.1.4")
    expect("11th connection from one source 421 4.7.0", extra.greeting, 421, "4.7.0")
    for c in conns + [extra]:
        c.close()


def early_talker():
    s = Smtp(greet=False)
    s.s.sendall(b"EHLO early.example\r\n")
    expect("early talker 554 5.5.1", s.reply(), 554, "5.5.1")
    s.close()
    s = Smtp()
    expect("patient client greeted after the delay", s.greeting, 220)
    s.close()


def backend_down():
    s = session()
    s.cmd("MAIL FROM:<sender@client.example>")
    expect("backend down: 451 4.4.1", s.cmd("RCPT TO:<alice@example.com>"), 451, "4.4.1")
    s.close()


# The smuggling family of CVE-2023-51764: each sequence, then what would be a second message.
SMUGGLE = [b"\n.\n", b"\n.\r\n", b"\r.\n", b"\r.\r", b"\r\n.\n", b"\r\n.\r", b"\r\n\0"]


def smuggle(mode):
    """Every sequence: rejected (reject mode) or delivered as one message (normalize mode);
    never a second message at the backend."""
    ids = []
    for k, seq in enumerate(SMUGGLE):
        s = session()
        s.cmd("MAIL FROM:<sender@client.example>")
        s.cmd("RCPT TO:<alice@example.com>")
        s.cmd("DATA")
        outer = "smuggle-%s-%d-%d" % (mode, os.getpid(), k)
        ids.append(outer)
        s.s.sendall(b"X-Test-Id: " + outer.encode() + b"\r\n\r\nbody" + seq +
                    b"MAIL FROM:<evil@client.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n"
                    b"X-Test-Id: " + outer.encode() + b"-inner\r\n\r\nsmuggled\r\n.\r\n")
        c, text = s.reply()
        if mode == "reject":
            check("smuggling %r refused 550 5.6.11" % seq, c == 550 and "5.6.11" in text, text)
        else:
            check("smuggling %r normalised and accepted as one message" % seq, c == 250, text)
        s.close()
    time.sleep(2)
    got = delivered()
    inner = [i for i in ids if i + "-inner" in got]
    check("no smuggled second message reached the backend (%s mode)" % mode, not inner, str(inner))
    if mode == "reject":
        check("no refused message reached the backend", not [i for i in ids if i in got])
    else:
        outer_ok = [i for i in ids if i in got]
        check("each normalised message delivered once", len(outer_ok) == len(ids),
              "%d of %d" % (len(outer_ok), len(ids)))


def backend_slow():
    s = session()
    s.cmd("MAIL FROM:<sender@client.example>")
    t0 = time.time()
    c, text = s.cmd("RCPT TO:<someone@slow.example.com>")
    check("backend silent past 'timeout backend' (3s): 421 4.4.2 after %.1fs" % (time.time() - t0),
          c == 421 and "4.4.2" in text and 2.5 < time.time() - t0 < 15, text)
    s.close()


def blocked():
    s = Smtp(src="198.18.1.6")
    expect("blocklisted source refused at connect 554 5.7.1", s.greeting, 554, "5.7.1")
    s.close()
    s = Smtp(src="198.18.1.7")
    expect("a neighbour of the blocked source is greeted", s.greeting, 220)
    s.close()


def unblocked():
    s = Smtp(src="198.18.1.6")
    expect("source greeted again after ndrctl block del", s.greeting, 220)
    s.close()


def dir_guard(want):
    s = session(src="198.18.1.8")
    s.cmd("MAIL FROM:<sender@client.example>")
    if want == "held":
        expect("directory guard raised: unknown recipient 450 4.1.1",
               s.cmd("RCPT TO:<nobody@example.com>"), 450, "4.1.1")
    else:
        expect("directory guard cleared: unknown recipient 550 5.1.1 again",
               s.cmd("RCPT TO:<nobody@example.com>"), 550, "5.1.1")
    expect("a real recipient is still accepted (%s)" % want, s.cmd("RCPT TO:<alice@example.com>"), 250)
    s.close()


def harvest():
    s = session(src="198.18.1.3")
    s.cmd("MAIL FROM:<harvester@client.example>")
    last = (0, "")
    t0 = time.time()
    delays = []
    for i in range(60):
        t = time.time()
        last = s.cmd("RCPT TO:<guess%d@example.com>" % i)
        delays.append(time.time() - t)
        if last[0] != 550:
            break
    expect("harvest: tarpit then 421 4.7.0", last, 421, "4.7.0")
    check("harvest: later replies were delayed (tarpit)", max(delays) >= 0.15,
          "max delay %.3fs after %d guesses in %.1fs" % (max(delays), len(delays), time.time() - t0))
    s.close()


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "main"
    {"main": main_checks, "early-talker": early_talker, "backend-down": backend_down,
     "harvest": harvest, "smuggle-reject": lambda: smuggle("reject"),
     "smuggle-normalize": lambda: smuggle("normalize"), "backend-slow": backend_slow,
     "blocked": blocked, "unblocked": unblocked,
     "guard-held": lambda: dir_guard("held"), "guard-cleared": lambda: dir_guard("cleared")}[mode]()
    sys.exit(1 if failures else 0)
