#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Hostile TCP peers for tests/lab/test-hostile.sh, over packet sockets (run in the client
namespace; every address must be inside 198.18.0.0/15). Each mode is bounded in count and in
time and prints one JSON line of figures last.

  hostile.py trickle IFACE DMAC SRC DST [--count N] [--secs S] [--hold S] [--budget B] [--rate R]
      One SMTP session from SRC (an address of this namespace whose kernel RSTs are suppressed)
      that runs over the harvest budget with unknown recipients until a RCPT is held by the
      tarpit (no reply), then sends up to N in-order 1-byte segments (go-back-N on stalls).
  hostile.py noack IFACE DMAC DST SRC... [--conns N] [--secs S]
      N completed handshakes from the SRC addresses (kernel RSTs suppressed) that never
      acknowledge a byte of ours; every other one sends QUIT first (the appliance closes and
      is left with an orphan that cannot flush).
  hostile.py spoof IFACE DMAC DST SRC... [--count N] [--rate R]
      N packets per SRC toward DST:25 with source addresses that belong inside (SYN, ACK, RST
      and data in turn); counts what the appliance answers to the forged addresses.
"""
import argparse
import atexit
import ctypes
import json
import random
import signal
import socket
import struct
import subprocess
import sys
import time

ETH_P_IP = 0x0800
SO_ATTACH_FILTER = 26
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
LAB_NET = (0xC6120000, 0xFFFE0000)  # 198.18.0.0/15


def in_lab(a):
    return (struct.unpack("!I", socket.inet_aton(a))[0] & LAB_NET[1]) == LAB_NET[0]


def csum_sum(b):
    if len(b) & 1:
        b += b"\0"
    return sum(struct.unpack("!%dH" % (len(b) // 2), b))


def fold(s):
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def seq_lt(a, b):
    return ((a - b) & 0xffffffff) >= 0x80000000


def bpf_program(iface, expr):
    """Classic BPF from tcpdump -ddd: (sock_fprog bytes, buffer to keep alive)."""
    out = subprocess.run(["tcpdump", "-i", iface, "-ddd", expr], capture_output=True,
                         text=True, check=True).stdout.split("\n")
    n = int(out[0])
    ins = b"".join(struct.pack("HBBI", *map(int, line.split())) for line in out[1:1 + n])
    buf = ctypes.create_string_buffer(ins, len(ins))
    return struct.pack("HL", n, ctypes.addressof(buf)), buf


class Raw:
    def __init__(self, iface, dmac, expr=None):
        self.tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.tx.bind((iface, 0))
        self.tx.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        smac = self.tx.getsockname()[4]
        self.eth = bytes.fromhex(dmac.replace(":", "")) + smac + b"\x08\x00"
        self.rx = None
        self.tx_fail = 0
        if expr:
            self.rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            prog, self._keep = bpf_program(iface, expr)
            self.rx.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, prog)
            self.rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            self.rx.bind((iface, ETH_P_IP))
            self.rx.setblocking(False)

    def frame(self, src, dst, sport, dport, seq, ack, flags, win=65535, payload=b"", opts=b""):
        s, d = socket.inet_aton(src), socket.inet_aton(dst)
        assert in_lab(src) and in_lab(dst)
        off = (20 + len(opts)) // 4
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                          off << 4, flags, win, 0, 0) + opts + payload
        c = fold(csum_sum(s + d + struct.pack("!BBH", 0, 6, len(tcp)) + tcp))
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.getrandbits(16), 0x4000,
                         64, 6, 0, s, d)
        ip = ip[:10] + struct.pack("!H", fold(csum_sum(ip))) + ip[12:]
        return self.eth + ip + tcp

    def send(self, frame):
        for _ in range(50):
            try:
                self.tx.send(frame)
                return True
            except (BlockingIOError, OSError):
                time.sleep(0.001)
        self.tx_fail += 1
        return False

    def tcp(self, *a, **kw):
        return self.send(self.frame(*a, **kw))

    def recv(self, timeout):
        """Parsed TCP segments that arrived within <timeout> seconds (at least one poll)."""
        out = []
        end = time.time() + timeout
        while True:
            try:
                f = self.rx.recv(65535)
            except BlockingIOError:
                if out or time.time() >= end:
                    return out
                time.sleep(0.002)
                continue
            ip = f[14:]
            if len(ip) < 40 or ip[9] != 6:
                continue
            ihl = (ip[0] & 15) * 4
            tot = struct.unpack("!H", ip[2:4])[0]
            t = ip[ihl:tot]
            sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", t[:16])
            out.append({"src": socket.inet_ntoa(ip[12:16]), "dst": socket.inet_ntoa(ip[16:20]),
                        "sport": sport, "dport": dport, "seq": seq, "ack": ack, "flags": flags,
                        "win": win, "data": t[(off >> 4) * 4:]})
            if len(out) >= 4096:
                return out


class Conn:
    """The client side of one connection, driven by hand: no retransmission of our own data
    except where a mode does it, acknowledgment of received data only when <acking>."""

    MSS = b"\x02\x04\x05\xb4"  # MSS 1460, no window scaling: windows stay in 16 bits

    def __init__(self, raw, src, dst, sport, dport=25, acking=True):
        self.raw, self.src, self.dst, self.sport, self.dport = raw, src, dst, sport, dport
        self.iss = random.getrandbits(32)
        self.snd_nxt = self.snd_una = (self.iss + 1) & 0xffffffff
        self.rcv_nxt = None
        self.wnd = 0
        self.acking = acking
        self.inbuf = b""
        self.rst = False
        self.fin = False
        self.rx_segs = 0
        self.rx_rexmit = 0
        self.max_seq = None

    def send(self, flags, seq=None, payload=b"", opts=b""):
        return self.raw.tcp(self.src, self.dst, self.sport, self.dport,
                            self.snd_nxt if seq is None else seq,
                            self.rcv_nxt or 0, flags | (ACK if self.rcv_nxt is not None else 0),
                            payload=payload, opts=opts)

    def syn(self):
        self.raw.tcp(self.src, self.dst, self.sport, self.dport, self.iss, 0, SYN, opts=self.MSS)

    def input(self, sg):
        self.rx_segs += 1
        if sg["flags"] & RST:
            self.rst = True
            return
        if sg["flags"] & SYN:
            if self.rcv_nxt is None and sg["ack"] == (self.iss + 1) & 0xffffffff:
                self.rcv_nxt = (sg["seq"] + 1) & 0xffffffff
                self.max_seq = self.rcv_nxt
            self.wnd = sg["win"]
            if self.rcv_nxt is not None:
                self.send(0)  # (re)complete the handshake
            return
        if self.rcv_nxt is None:
            return
        if sg["flags"] & ACK and not seq_lt(sg["ack"], self.snd_una):
            self.snd_una = sg["ack"]
            self.wnd = sg["win"]
        n = len(sg["data"]) + (1 if sg["flags"] & FIN else 0)
        if n == 0:
            return
        end = (sg["seq"] + n) & 0xffffffff
        if self.max_seq is not None and not seq_lt(self.max_seq, end):
            self.rx_rexmit += 1  # nothing new: a retransmission
        elif self.max_seq is None or seq_lt(self.max_seq, end):
            self.max_seq = end
        if not self.acking:
            return
        if sg["seq"] == self.rcv_nxt or (seq_lt(sg["seq"], self.rcv_nxt) and seq_lt(self.rcv_nxt, end)):
            skip = (self.rcv_nxt - sg["seq"]) & 0xffffffff
            self.inbuf += sg["data"][skip:]
            if sg["flags"] & FIN:
                self.fin = True
            self.rcv_nxt = end
        self.send(0)


class Mux:
    def __init__(self, raw):
        self.raw, self.conns = raw, {}

    def add(self, c):
        self.conns[(c.src, c.sport)] = c
        return c

    def poll(self, timeout):
        segs = self.raw.recv(timeout)
        for sg in segs:
            c = self.conns.get((sg["dst"], sg["dport"]))
            if c is not None and sg["sport"] == c.dport:
                c.input(sg)
        return len(segs)


def reply(mux, c, secs):
    """Next complete SMTP reply (code, text) within <secs>, or None."""
    end = time.time() + secs
    while time.time() < end:
        while b"\r\n" in c.inbuf:
            line, c.inbuf = c.inbuf.split(b"\r\n", 1)
            if len(line) >= 4 and line[3:4] == b"-":
                continue
            return int(line[:3]), line.decode("latin-1")
        if c.rst or c.fin:
            return None
        mux.poll(0.05)
    return None


def say(mux, c, text):
    data = text.encode()
    c.send(PSH, payload=data)
    c.snd_nxt = (c.snd_nxt + len(data)) & 0xffffffff
    # Our commands are short and the lab's loss is low: resend until acknowledged.
    end = time.time() + 5
    while seq_lt(c.snd_una, c.snd_nxt) and time.time() < end:
        mux.poll(0.2)
        if seq_lt(c.snd_una, c.snd_nxt):
            c.send(PSH, seq=(c.snd_nxt - len(data)) & 0xffffffff, payload=data)


def handshake(mux, c, secs=5):
    end = time.time() + secs
    while time.time() < end and c.rcv_nxt is None and not c.rst:
        c.syn()
        t = time.time() + 1
        while time.time() < t and c.rcv_nxt is None and not c.rst:
            mux.poll(0.05)
    return c.rcv_nxt is not None


FIG = {}


def report():
    """The figures as one JSON line, also when ended by SIGTERM."""
    if FIG and not FIG.get("_printed"):
        FIG["_printed"] = True
        print(json.dumps({k: v for k, v in FIG.items() if k != "_printed"}))
        sys.stdout.flush()


def mode_trickle(a):
    raw = Raw(a.iface, a.dmac, "tcp and src host %s and dst host %s" % (a.dst, a.src))
    mux = Mux(raw)
    c = mux.add(Conn(raw, a.src, a.dst, random.randint(20000, 60000)))
    fig = FIG
    fig.update({"mode": "trickle", "src": a.src, "established": False, "rejected_rcpts": 0,
                "held": False, "segments_new": 0, "segments_sent": 0, "go_back": 0,
                "acked_bytes": 0, "secs": 0.0, "end": "terminated"})
    t0 = time.time()

    def done(why):
        fig["end"] = why
        fig["secs"] = round(time.time() - t0, 1)
        report()
        sys.exit(0)

    if not handshake(mux, c):
        done("no handshake")
    fig["established"] = True
    r = reply(mux, c, 10)
    if not r or r[0] != 220:
        done("greeting %r" % (r,))
    say(mux, c, "EHLO trickle.example\r\n")
    if (reply(mux, c, 10) or (0,))[0] != 250:
        done("EHLO refused")
    say(mux, c, "MAIL FROM:<trickle@client.example>\r\n")
    if (reply(mux, c, 10) or (0,))[0] != 250:
        done("MAIL refused")
    # Unknown recipients one at a time until one gets no answer: the tarpit holds it.
    for i in range(a.budget * 3):
        say(mux, c, "RCPT TO:<nobody-trickle-%d@example.com>\r\n" % i)
        r = reply(mux, c, 3)
        if r is None:
            fig["held"] = True
            break
        if r[0] != 550:
            done("RCPT %d answered %r" % (i, r))
        fig["rejected_rcpts"] += 1
    if not fig["held"]:
        done("never tarpitted")
    print("trickle: held after %d rejected recipients, trickling" % fig["rejected_rcpts"], file=sys.stderr)
    # 1-byte in-order segments, as fast as the window lets, bounded in count and time.
    base = c.snd_nxt
    nxt = base
    high = base
    last_una, last_progress = c.snd_una, time.time()
    end = t0 + a.secs
    t1 = time.time()
    while fig["segments_new"] < a.count and time.time() < end:
        ahead = t1 + fig["segments_sent"] / a.rate - time.time()
        if ahead > 0:
            mux.poll(ahead)  # a bounded rate: the box has two cores for everyone
        limit = (c.snd_una + min(c.wnd, a.flight)) & 0xffffffff
        burst = 0
        while burst < 64 and seq_lt(nxt, limit) and fig["segments_new"] < a.count:
            c.send(PSH, seq=nxt, payload=b"x")
            fig["segments_sent"] += 1
            if not seq_lt(nxt, high):
                fig["segments_new"] += 1
                high = (nxt + 1) & 0xffffffff
                if fig["segments_new"] % 5000 == 0:
                    print("trickled %d" % fig["segments_new"], file=sys.stderr, flush=True)
            nxt = (nxt + 1) & 0xffffffff
            burst += 1
        mux.poll(0 if burst else 0.02)
        if c.rst or c.fin:
            done("connection closed by the appliance")
        fig["acked_bytes"] = (c.snd_una - base) & 0xffffffff
        fig["secs"] = round(time.time() - t0, 1)
        if c.snd_una != last_una:
            last_una, last_progress = c.snd_una, time.time()
        elif seq_lt(c.snd_una, nxt) and time.time() - last_progress > 0.5:
            nxt = c.snd_una  # go back N: what was not acknowledged is sent again
            fig["go_back"] += 1
            last_progress = time.time()
    fig["acked_bytes"] = (c.snd_una - base) & 0xffffffff
    fig["tx_fail"] = raw.tx_fail
    # Keep the session (and whatever it pins) until the hold time is over.
    hold_end = t0 + a.hold
    while time.time() < hold_end and not (c.rst or c.fin):
        mux.poll(0.5)
    fig["acked_bytes"] = (c.snd_una - base) & 0xffffffff
    done("closed by the appliance" if (c.rst or c.fin) else "count or time reached")


def mode_noack(a):
    srcs = a.srcs
    expr = "tcp and src host %s and (%s)" % (a.dst, " or ".join("dst host %s" % s for s in srcs))
    raw = Raw(a.iface, a.dmac, expr)
    mux = Mux(raw)
    conns = []
    t0 = time.time()
    for i in range(a.conns):
        c = mux.add(Conn(raw, srcs[i % len(srcs)], a.dst, 20000 + i, acking=False))
        conns.append(c)
        c.syn()
        mux.poll(0)
    end = time.time() + 5
    while time.time() < end and any(c.rcv_nxt is None and not c.rst for c in conns):
        for c in conns:
            if c.rcv_nxt is None and not c.rst and random.random() < 0.2:
                c.syn()
        mux.poll(0.2)
    quit_sent = 0
    for i, c in enumerate(conns):
        if c.rcv_nxt is not None and i % 2 == 1:
            # QUIT, acknowledging nothing but the SYN: the appliance answers and closes.
            c.send(PSH, payload=b"QUIT\r\n")
            c.snd_nxt = (c.snd_nxt + 6) & 0xffffffff
            quit_sent += 1
    end = t0 + a.secs
    while True:
        FIG.update({"mode": "noack", "conns": a.conns,
                    "established": sum(c.rcv_nxt is not None for c in conns),
                    "quit_sent": quit_sent,
                    "greeted": sum(c.max_seq is not None and c.max_seq != c.rcv_nxt for c in conns),
                    "rx_segments": sum(c.rx_segs for c in conns),
                    "retransmissions_seen": sum(c.rx_rexmit for c in conns),
                    "reset_by_appliance": sum(c.rst for c in conns),
                    "secs": round(time.time() - t0, 1)})
        if time.time() >= end:
            break
        mux.poll(0.5)
    report()


def mode_spoof(a):
    expr = "tcp and src host %s and (%s)" % (a.dst, " or ".join("dst host %s" % s for s in a.srcs))
    raw = Raw(a.iface, a.dmac, expr)
    kinds = [(SYN, b""), (ACK, b""), (RST, b""), (PSH | ACK, b"QUIT\r\n")]
    sent = 0
    answers = 0
    t0 = time.time()
    for i in range(a.count):
        if a.rate:
            ahead = t0 + sent / a.rate - time.time()
            if ahead > 0:
                answers += len(raw.recv(ahead)) if raw.rx else 0
                time.sleep(max(0, t0 + sent / a.rate - time.time()))
        for s in a.srcs:
            fl, pl = kinds[i % len(kinds)]
            opts = Conn.MSS if fl == SYN else b""
            raw.tcp(s, a.dst, random.randint(1024, 65535), 25, random.getrandbits(32),
                    random.getrandbits(32) if fl & ACK else 0, fl, payload=pl, opts=opts)
            sent += 1
        if i % 64 == 0:
            answers += len(raw.recv(0))
    end = time.time() + 2
    while time.time() < end:
        answers += len(raw.recv(0.2))
    print(json.dumps({"mode": "spoof", "sources": a.srcs, "sent": sent, "tx_fail": raw.tx_fail,
                      "answers_to_forged_sources": answers, "secs": round(time.time() - t0, 1)}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    t = sub.add_parser("trickle")
    for x in ("iface", "dmac", "src", "dst"):
        t.add_argument(x)
    t.add_argument("--count", type=int, default=60000)
    t.add_argument("--secs", type=float, default=120)
    t.add_argument("--hold", type=float, default=150)
    t.add_argument("--budget", type=int, default=3)
    t.add_argument("--flight", type=int, default=65535)
    t.add_argument("--rate", type=float, default=5000, help="segments per second at most")
    n = sub.add_parser("noack")
    for x in ("iface", "dmac", "dst"):
        n.add_argument(x)
    n.add_argument("srcs", nargs="+")
    n.add_argument("--conns", type=int, default=100)
    n.add_argument("--secs", type=float, default=90)
    s = sub.add_parser("spoof")
    for x in ("iface", "dmac", "dst"):
        s.add_argument(x)
    s.add_argument("srcs", nargs="+")
    s.add_argument("--count", type=int, default=500)
    s.add_argument("--rate", type=float, default=0, help="packets per second at most")
    a = p.parse_args()
    atexit.register(report)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    for addr in [getattr(a, "src", None), getattr(a, "dst", None)] + list(getattr(a, "srcs", [])):
        if addr and not in_lab(addr):
            sys.exit("hostile.py: %s is outside 198.18.0.0/15" % addr)
    if a.mode == "trickle" and not 0 < a.count <= 200000:
        sys.exit("count out of bounds")
    if a.mode == "noack" and not 0 < a.conns <= 5000:
        sys.exit("conns out of bounds")
    if a.mode == "spoof" and not 0 < a.count <= 100000:
        sys.exit("count out of bounds")
    {"trickle": mode_trickle, "noack": mode_noack, "spoof": mode_spoof}[a.mode](a)


if __name__ == "__main__":
    main()
