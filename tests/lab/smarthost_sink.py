#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The lab's upstream smarthost: an SMTP server in the "internet" namespace that accepts every
message (PIPELINING, 8BITMIME, SIZE) and appends one JSON object per message to a log file:
{"time", "client", "helo", "mail_from", "rcpt_to": [...], "size"}. Each line is written and
flushed at once, so readers may tail the file while it grows.

    smarthost_sink.py ADDRESS PORT LOGFILE
"""
import asyncio
import json
import signal
import sys
import time

MAX_LINE = 4096
MAX_SIZE = 64 << 20


class Sink:
    def __init__(self, log_path):
        self.log = open(log_path, "a", buffering=1)
        self.count = 0

    def record(self, client, helo, mail_from, rcpts, size):
        self.count += 1
        self.log.write(json.dumps({"time": time.time(), "client": client, "helo": helo,
                                   "mail_from": mail_from, "rcpt_to": rcpts,
                                   "size": size}) + "\n")

    async def session(self, reader, writer):
        peer = writer.get_extra_info("peername")
        client = peer[0] if peer else ""
        helo, mail_from, rcpts = "", None, []

        def reply(text):
            writer.write(text.encode() + b"\r\n")

        def path(arg):
            lt, gt = arg.find("<"), arg.find(">")
            return arg[lt + 1:gt] if 0 <= lt < gt else arg.split()[0] if arg.split() else ""

        reply("220 smarthost.lab ESMTP sink")
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                cmd = line[:MAX_LINE].decode("latin-1").rstrip("\r\n")
                verb, _, arg = cmd.partition(" ")
                verb = verb.upper()
                if verb in ("EHLO", "HELO"):
                    helo = arg
                    if verb == "EHLO":
                        reply("250-smarthost.lab\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                              "250 SIZE %d" % MAX_SIZE)
                    else:
                        reply("250 smarthost.lab")
                elif verb == "MAIL":
                    mail_from, rcpts = path(arg[5:]), []
                    reply("250 2.1.0 Ok")
                elif verb == "RCPT":
                    if mail_from is None:
                        reply("503 5.5.1 Need MAIL")
                    else:
                        rcpts.append(path(arg[3:]))
                        reply("250 2.1.5 Ok")
                elif verb == "DATA":
                    if not rcpts:
                        reply("554 5.5.1 No valid recipients")
                        continue
                    reply("354 Go ahead")
                    await writer.drain()
                    size = 0
                    while True:
                        data = await reader.readline()
                        if not data:
                            return
                        if data in (b".\r\n", b".\n"):
                            break
                        size += len(data)
                    self.record(client, helo, mail_from, rcpts, size)
                    mail_from, rcpts = None, []
                    reply("250 2.0.0 Ok: queued as %d" % self.count)
                elif verb == "RSET":
                    mail_from, rcpts = None, []
                    reply("250 2.0.0 Ok")
                elif verb == "NOOP":
                    reply("250 2.0.0 Ok")
                elif verb == "QUIT":
                    reply("221 2.0.0 Bye")
                    break
                else:
                    reply("502 5.5.1 Not implemented")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            try:
                await writer.drain()
                writer.close()
            except ConnectionError:
                pass


async def main():
    addr, port, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sink = Sink(log_path)
    server = await asyncio.start_server(sink.session, addr, port, limit=1 << 20)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
