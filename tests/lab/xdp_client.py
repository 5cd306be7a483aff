#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Client side of tests/lab/test-xdp.sh, run in the client namespace with Linux's own TCP.

  xdp_client.py handshake SRC HOST PORT SECONDS   exit 0 when a TCP handshake from SRC completes
                                                  within SECONDS, 1 when it does not
  xdp_client.py echo SRC HOST PORT                a line through a kernel TCP echo server
  xdp_client.py deliver SRC HOST TOKEN            one message to alice@example.com, 250 at the end
  xdp_client.py harvest SRC HOST                  guess recipients until the harvest verdict (421)
"""
import smtplib
import socket
import sys


def handshake(src, host, port, secs):
    s = socket.socket()
    s.settimeout(float(secs))
    s.bind((src, 0))
    try:
        s.connect((host, int(port)))
    except (socket.timeout, OSError) as e:
        print("no handshake from %s to %s:%s in %s s (%s)" % (src, host, port, secs, e))
        return 1
    print("handshake from %s to %s:%s" % (src, host, port))
    s.close()
    return 0


def echo(src, host, port):
    s = socket.create_connection((host, int(port)), timeout=5, source_address=(src, 0))
    s.sendall(b"ssh-like hello\n")
    got = b""
    while not got.endswith(b"\n"):
        d = s.recv(100)
        if not d:
            break
        got += d
    s.close()
    print("echo: %r" % got)
    return 0 if got == b"ssh-like hello\n" else 1


def deliver(src, host, token):
    msg = "From: <sender@client.example>\r\nTo: <alice@example.com>\r\nSubject: %s\r\n\r\n%s\r\n" % (
        token, token)
    with smtplib.SMTP(host, 25, timeout=15, source_address=(src, 0)) as c:
        c.ehlo("client.example")
        c.sendmail("sender@client.example", ["alice@example.com"], msg)
    print("delivered %s from %s" % (token, src))
    return 0


def harvest(src, host):
    c = smtplib.SMTP(host, 25, timeout=15, source_address=(src, 0))
    c.ehlo("client.example")
    c.mail("harvester@client.example")
    for i in range(60):
        code, text = c.rcpt("guess%d@example.com" % i)
        if code != 550:
            print("harvest: after %d guesses: %d %s" % (i + 1, code, text.decode()))
            try:
                c.close()
            except OSError:
                pass
            return 0 if code == 421 else 1
    print("harvest: no verdict after 60 guesses")
    return 1


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    sys.exit({"handshake": handshake, "echo": echo, "deliver": deliver, "harvest": harvest}[mode](*args))
