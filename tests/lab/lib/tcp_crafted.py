#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Crafted-segment checks against the dataplane's echo service, from the client namespace
with a source address the client kernel does not own (so it never answers for us).
Each check prints "ok NAME" or "FAIL NAME: why"; exit status 1 if any failed.
Usage: tcp_crafted.py IFACE SRC_IP DST_IP DST_MAC"""
import random
import socket
import struct
import sys
import time

from scapy.all import AsyncSniffer, Ether, IP, TCP, Raw, sendp, get_if_hwaddr, conf
from scapy.utils import checksum

conf.verb = 0
IFACE, SRC, DST, DMAC = sys.argv[1:5]
SMAC = get_if_hwaddr(IFACE)
fails = 0


class Conn:
    def __init__(self, sport=None, wscale=None, window=65535, opts=None):
        self.sport = sport or random.randint(20000, 60000)
        self.seq = random.randint(0, 2**32 - 1)
        self.wscale, self.window = wscale, window
        self.rcv = 0
        self.rx = []
        self.sn = AsyncSniffer(iface=IFACE, store=False, prn=self.rx.append,
                               lfilter=lambda p: TCP in p and p[IP].src == DST and p[IP].dst == SRC
                               and p[TCP].dport == self.sport)
        self.sn.start()
        time.sleep(0.3)
        o = opts if opts is not None else [("MSS", 1460)] + ([("WScale", wscale)] if wscale is not None else [])
        self.send("S", opts=o)
        sa = self.wait(lambda t: t.flags & 0x12 == 0x12)
        if sa is None:
            raise RuntimeError("no SYN-ACK")
        self.synack = sa
        self.irs = sa.seq
        self.rcv = sa.seq + 1
        self.seq += 1
        self.send("A")

    def pkt(self, flags, seq=None, ack=None, data=b"", opts=None, window=None, chksum=None):
        t = TCP(sport=self.sport, dport=7, flags=flags, seq=self.seq if seq is None else seq,
                ack=self.rcv if ack is None else ack,
                window=self.window if window is None else window, options=opts or [])
        if chksum is not None:
            t.chksum = chksum
        return Ether(src=SMAC, dst=DMAC) / IP(src=SRC, dst=DST) / t / (Raw(data) if data else b"")

    def send(self, flags, **kw):
        sendp(self.pkt(flags, **kw), iface=IFACE)

    def wait(self, pred, timeout=2.0, start=0):
        end = time.time() + timeout
        while time.time() < end:
            for p in self.rx[start:]:
                if pred(p[TCP]):
                    return p[TCP]
            time.sleep(0.02)
        return None

    def data_back(self, timeout=2.0):
        """Payload bytes received so far (by sequence, deduplicated)."""
        time.sleep(timeout)
        segs = {}
        for p in self.rx:
            t = p[TCP]
            pl = bytes(t.payload)
            if pl:
                segs[(t.seq - self.irs - 1) & 0xffffffff] = pl
        out = bytearray()
        for off in sorted(segs):
            if off <= len(out):
                out[off:] = segs[off]
        return bytes(out)

    def close(self):
        self.send("R", seq=self.seq)
        self.sn.stop()


def check(name, cond, why=""):
    global fails
    if cond:
        print("ok", name)
    else:
        fails += 1
        print("FAIL %s: %s" % (name, why))


def t_rst_in_window():
    c = Conn()
    n = len(c.rx)
    c.send("R", seq=c.seq + 1000)
    ack = c.wait(lambda t: t.flags & 0x10 and not t.flags & 0x04, start=n)
    check("rst-in-window-challenge-ack", ack is not None and ack.ack == c.seq, "no challenge ACK")
    c.send("PA", data=b"still here")
    c.seq += 10
    check("rst-in-window-conn-survives", c.data_back(1.0) == b"still here", "no echo after in-window RST")
    c.close()


def t_rst_out_of_window():
    c = Conn()
    n = len(c.rx)
    c.send("R", seq=c.seq + 10**7)
    time.sleep(0.5)
    check("rst-out-of-window-silent", len(c.rx) == n, "answered an out-of-window RST")
    c.send("PA", data=b"abc")
    c.seq += 3
    check("rst-out-of-window-conn-survives", c.data_back(1.0) == b"abc", "connection lost")
    c.close()


def t_rst_exact():
    c = Conn()
    c.send("R", seq=c.seq)
    time.sleep(0.3)
    n = len(c.rx)
    c.send("PA", data=b"zzz")
    r = c.wait(lambda t: t.flags & 0x04, start=n)
    check("rst-exact-resets", r is not None, "connection still there after exact RST")
    c.sn.stop()


def t_syn_in_window():
    c = Conn()
    n = len(c.rx)
    c.send("S", seq=c.seq + 5, opts=[("MSS", 1460)])
    ack = c.wait(lambda t: t.flags == 0x10, start=n)
    check("syn-in-window-challenge-ack", ack is not None and ack.ack == c.seq, "no challenge ACK")
    c.close()


def t_bad_checksum():
    c = Conn()
    n = len(c.rx)
    c.send("PA", data=b"corrupt", chksum=0x1234)
    time.sleep(0.5)
    check("bad-checksum-dropped", not any(bytes(p[TCP].payload) for p in c.rx[n:]), "corrupt data echoed")
    c.send("PA", data=b"good")
    c.seq += 4
    check("bad-checksum-then-good", c.data_back(1.0) == b"good", "stream broken after a bad checksum")
    c.close()


def t_old_duplicate_and_overlap():
    c = Conn()
    c.send("PA", data=b"hello")
    c.seq += 5
    time.sleep(0.2)
    n = len(c.rx)
    c.send("PA", seq=c.seq - 5, data=b"hello")  # old duplicate
    ack = c.wait(lambda t: t.flags & 0x10 and t.ack == c.seq and not bytes(t.payload), start=n)
    check("old-duplicate-acked", ack is not None, "old duplicate not ACKed")
    c.send("PA", seq=c.seq - 2, data=b"lo world")  # overlaps two old bytes
    c.seq += 6
    check("overlap-trimmed", c.data_back(1.0) == b"hello world", repr(c.data_back(0)))
    c.close()


def t_out_of_order():
    c = Conn()
    time.sleep(0.2)
    n = len(c.rx)
    c.send("PA", seq=c.seq + 5, data=b" world")
    dup = c.wait(lambda t: t.ack == c.seq, start=n)
    check("ooo-immediate-dupack", dup is not None, "no duplicate ACK for a hole")
    c.send("PA", data=b"hello")
    c.seq += 11
    check("ooo-reassembled", c.data_back(1.0) == b"hello world", repr(c.data_back(0)))
    c.close()


def last_sack(c, start):
    """SACK blocks of the last ACK of c.seq since rx[start], relative to c.seq, or None."""
    blocks = None
    for p in c.rx[start:]:
        for o in p[TCP].options:
            if o[0] == "SAck" and p[TCP].ack == c.seq:
                blocks = [((o[1][i] - c.seq) & 0xffffffff, (o[1][i + 1] - c.seq) & 0xffffffff)
                          for i in range(0, len(o[1]), 2)]
    return blocks


def t_sack():
    """RFC 2018: SACK-permitted answered only when offered; ACKs of a hole carry the
    out-of-order blocks, the latest arrival first; blocks go once the hole is filled."""
    c = Conn(opts=[("MSS", 1460), ("SAckOK", b"")])
    names = [o[0] for o in c.synack.options]
    check("sack-permitted-answered", "SAckOK" in names, "SYN-ACK options %r" % names)
    time.sleep(0.2)
    n = len(c.rx)
    c.send("PA", seq=c.seq + 10, data=b"B" * 10)   # [10, 20)
    c.send("PA", seq=c.seq + 30, data=b"D" * 10)   # [30, 40)
    time.sleep(0.5)
    blocks = last_sack(c, n)
    check("sack-blocks", blocks == [(30, 40), (10, 20)], "last SACK blocks %r" % (blocks,))
    c.send("PA", seq=c.seq + 20, data=b"C" * 10)   # [20, 30): joins both
    time.sleep(0.5)
    blocks = last_sack(c, n)
    check("sack-blocks-merged", blocks == [(10, 40)], "last SACK blocks %r" % (blocks,))
    m = len(c.rx)
    c.send("PA", data=b"A" * 10)                   # the hole: all in order now
    c.seq += 40
    data = c.data_back(1.0)
    check("sack-reassembled", data == b"A" * 10 + b"B" * 10 + b"C" * 10 + b"D" * 10, repr(data))
    late = [p for p in c.rx[m:] if any(o[0] == "SAck" for o in p[TCP].options)]
    check("sack-none-after-fill", not late, "%d segments still carried SACK" % len(late))
    c.close()
    c2 = Conn(opts=[("MSS", 1460)])
    names = [o[0] for o in c2.synack.options]
    check("sack-not-offered-unasked", "SAckOK" not in names, "SYN-ACK options %r" % names)
    c2.close()


def t_syn_again_in_syn_received():
    """A repeated SYN in SYN-RECEIVED (our SYN-ACK lost) gets the SYN-ACK again at once,
    not a challenge ACK that a peer in SYN-SENT would drop."""
    sport = random.randint(20000, 60000)
    isn = random.randint(0, 2**32 - 1)
    rx = []
    sn = AsyncSniffer(iface=IFACE, store=False, prn=rx.append,
                      lfilter=lambda p: TCP in p and p[IP].src == DST and p[TCP].dport == sport)
    sn.start()
    time.sleep(0.3)
    syn = Ether(src=SMAC, dst=DMAC) / IP(src=SRC, dst=DST) / TCP(sport=sport, dport=7, flags="S", seq=isn,
                                                                 options=[("MSS", 1460)])
    sendp(syn, iface=IFACE)
    time.sleep(0.3)
    sendp(syn, iface=IFACE)
    time.sleep(0.3)
    sn.stop()
    sas = [p[TCP] for p in rx if p[TCP].flags & 0x12 == 0x12]
    check("syn-again-synack-resent", len(sas) == 2 and sas[0].seq == sas[1].seq and sas[1].ack == isn + 1,
          "%d SYN-ACKs of %d segments" % (len(sas), len(rx)))
    # Finish and reset it so nothing is left in the table.
    if sas:
        sendp(Ether(src=SMAC, dst=DMAC) / IP(src=SRC, dst=DST) /
              TCP(sport=sport, dport=7, flags="R", seq=isn + 1), iface=IFACE)


def tcp_raw_syn(sport, opt_bytes):
    """A SYN with exactly <opt_bytes> as options and a correct checksum."""
    hdr = struct.pack("!HHIIBBHHH", sport, 7, 1000, 0, ((20 + len(opt_bytes)) // 4) << 4, 0x02,
                      1000, 0, 0) + opt_bytes
    src, dst = socket.inet_aton(SRC), socket.inet_aton(DST)
    csum = checksum(src + dst + struct.pack("!BBH", 0, 6, len(hdr)) + hdr)
    hdr = hdr[:16] + struct.pack("!H", csum) + hdr[18:]
    return Ether(src=SMAC, dst=DMAC) / IP(src=SRC, dst=DST, proto=6) / Raw(hdr)


def t_truncated_options():
    # NOP, then an MSS option claiming 8 bytes where 3 remain: parsing stops, SYN still served.
    sport = random.randint(20000, 60000)
    rx = []
    sn = AsyncSniffer(iface=IFACE, store=False, prn=rx.append,
                      lfilter=lambda p: TCP in p and p[IP].src == DST and p[TCP].dport == sport)
    sn.start()
    time.sleep(0.3)
    sendp(tcp_raw_syn(sport, b"\x01\x02\x08\x00"), iface=IFACE)
    time.sleep(0.5)
    sn.stop()
    sa = [q for q in rx if q[TCP].flags & 0x12 == 0x12]
    check("truncated-options-syn-answered", len(sa) == 1, "%d SYN-ACKs" % len(sa))
    if sa:
        names = [o[0] for o in sa[0][TCP].options]
        check("truncated-options-no-wscale", "WScale" not in names, "window scale offered: %r" % names)
    sendp(Ether(src=SMAC, dst=DMAC) / IP(src=SRC, dst=DST) / TCP(sport=sport, dport=7, flags="R", seq=1001),
          iface=IFACE)


def t_window_scale_and_zero_window():
    # Our window 100 << 2 = 400 bytes: the dataplane must not send more unacknowledged.
    c = Conn(wscale=2, window=100)
    data = bytes(random.getrandbits(8) for _ in range(1000))
    c.send("PA", data=data)
    c.seq += len(data)
    got = c.data_back(1.0)
    check("window-scale-respected", 0 < len(got) <= 400, "%d bytes in flight for a 400-byte window" % len(got))
    # Close our window entirely (ACK everything seen, window 0): the dataplane must probe.
    c.rcv = c.irs + 1 + len(got)
    c.send("A", window=0)
    n = len(c.rx)
    probe = c.wait(lambda t: True, timeout=3.0, start=n)
    check("zero-window-probed", probe is not None, "no probe in 3 s")
    # Open it: the rest arrives.
    c.send("A", window=1000)
    rest = c.data_back(2.0)
    check("zero-window-reopened", rest == data, "%d of %d bytes after reopening" % (len(rest), len(data)))
    c.close()


def icmp_unreach(c, code, seq, mtu=0):
    """ICMP destination unreachable (RFC 792) quoting a segment the dataplane sent to <c>:
    its IP header and the first 8 bytes of TCP (ports and <seq>). From the client's address,
    as a router on the path would send it."""
    quote = bytes(IP(src=DST, dst=SRC, proto=6, flags="DF", len=1500) /
                  TCP(sport=7, dport=c.sport, seq=seq, flags="A"))[:28]
    body = struct.pack("!BBHHH", 3, code, 0, 0, mtu) + quote
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    sendp(Ether(src=SMAC, dst=DMAC) / IP(src=SRC, dst=DST, proto=1) / Raw(body), iface=IFACE)


def payload_lens(c, start):
    return [len(bytes(p[TCP].payload)) for p in c.rx[start:] if bytes(p[TCP].payload)]


def t_icmp_frag_needed():
    # 3000 bytes echoed back in full-sized segments, none acknowledged; then "fragmentation
    # needed, next-hop MTU 1000" for the first of them: what is resent fits 960-byte segments.
    c = Conn()
    data = bytes(random.getrandbits(8) for _ in range(3000))
    for off in range(0, len(data), 1000):
        c.send("PA", data=data[off:off + 1000])
        c.seq += 1000
    first = c.wait(lambda t: len(bytes(t.payload)) > 0)
    check("icmp-frag-needed-setup", first is not None and len(bytes(first.payload)) > 960,
          "no full-sized echo segment")
    time.sleep(0.05)
    n = len(c.rx)
    icmp_unreach(c, 4, c.irs + 1, mtu=1000)
    time.sleep(1.0)
    lens = payload_lens(c, n)
    check("icmp-frag-needed-resent-smaller", lens and max(lens) <= 960,
          "segments after the ICMP: %r" % lens)
    c.send("A", ack=c.irs + 1 + len(data))
    c.rcv = c.irs + 1 + len(data)
    check("icmp-frag-needed-stream-intact", c.data_back(0.5) == data, "echo differs after the MTU drop")
    # New data now goes out in 960-byte segments too.
    n = len(c.rx)
    for off in range(0, 2000, 1000):
        c.send("PA", data=data[off:off + 1000])
        c.seq += 1000
    time.sleep(0.5)
    lens = payload_lens(c, n)
    check("icmp-frag-needed-new-mss", lens and max(lens) <= 960, "new segments: %r" % lens)
    c.close()


def t_icmp_unreach_established():
    # Port and host unreachable for an established connection are soft errors (RFC 1122
    # 4.2.3.9, RFC 5461): the connection goes on. One quoting a sequence number that is not in
    # flight is not believed at all (RFC 5927 4.1).
    c = Conn()
    c.send("PA", data=b"x" * 100)
    c.seq += 100
    c.wait(lambda t: len(bytes(t.payload)) > 0)
    icmp_unreach(c, 3, c.irs + 1)
    icmp_unreach(c, 1, c.irs + 1)
    icmp_unreach(c, 3, c.irs + 1 + 10**6)
    time.sleep(0.3)
    c.send("PA", data=b"after")
    c.seq += 5
    got = c.data_back(1.0)
    check("icmp-unreach-established-survives", got == b"x" * 100 + b"after", "%d bytes back" % len(got))
    c.close()


for t in (t_rst_in_window, t_rst_out_of_window, t_rst_exact, t_syn_in_window, t_bad_checksum,
          t_old_duplicate_and_overlap, t_out_of_order, t_sack, t_syn_again_in_syn_received,
          t_truncated_options,
          t_window_scale_and_zero_window, t_icmp_frag_needed, t_icmp_unreach_established):
    try:
        t()
    except Exception as e:  # a check that could not even run is a failure
        fails += 1
        print("FAIL %s: %r" % (t.__name__, e))
sys.exit(1 if fails else 0)
