#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Linux echo server for the active-open tests: one thread per connection, echoes until the
peer half-closes, then closes. Usage: echo_server.py ADDR PORT"""
import os
import socket
import sys
import threading


def serve(c):
    with c:
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if os.environ.get("TCP_PEER_CC"):  # congestion control of the Linux peer
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, os.environ["TCP_PEER_CC"].encode())
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.listen(4096)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
