#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Watch what the appliance sends to the backend MTA and check it is canonical SMTP.

Runs in the backend namespace with a packet socket on the backend's interface, collects every
TCP segment toward port 25, reassembles each connection by sequence number, and when
STOP_FILE appears (or after MAX_SECONDS) checks the streams: every CR is followed by LF, every
LF is preceded by CR, no NUL anywhere. Prints one line; exit 1 on a violation.
usage: stream_check.py IFACE STOP_FILE MAX_SECONDS
"""
import os
import socket
import struct
import sys
import time

iface, stop_file, max_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0800))
s.bind((iface, 0))
s.settimeout(0.2)
streams = {}  # (src, sport) -> {seq: payload}
end = time.time() + max_s
while time.time() < end and not os.path.exists(stop_file):
    try:
        frame, addr = s.recvfrom(65535)
    except socket.timeout:
        continue
    if addr[2] == socket.PACKET_OUTGOING or len(frame) < 34:
        continue
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 6:
        continue
    tot = struct.unpack("!H", ip[2:4])[0]
    tcp = ip[ihl:tot]
    sport, dport, seq = struct.unpack("!HHI", tcp[:8])
    if dport != 25:
        continue
    payload = tcp[(tcp[12] >> 4) * 4:]
    if payload:
        streams.setdefault((ip[12:16], sport), {}).setdefault(seq, payload)

bad = []
total = 0
for key, segs in streams.items():
    data = b""
    nxt = None
    for seq in sorted(segs):
        p = segs[seq]
        if nxt is not None and seq < nxt:
            p = p[nxt - seq:]
        data += p
        nxt = seq + len(segs[seq]) if nxt is None else max(nxt, seq + len(segs[seq]))
    total += len(data)
    for i, c in enumerate(data):
        if c == 0 or (c == 13 and data[i + 1:i + 2] != b"\n") or (c == 10 and (i == 0 or data[i - 1] != 13)):
            bad.append((key[1], i, data[max(0, i - 10):i + 10]))
            break
print("%s %d backend connections, %d bytes toward the backend: %s" % (
    "ok  " if not bad else "FAIL", len(streams), total,
    "canonical CRLF, no NUL" if not bad else "bare CR/LF or NUL at %r" % (bad[:3],)))
sys.exit(1 if bad or not streams else 0)
