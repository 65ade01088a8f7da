"""A real SMTP relay on loopback for the mail tests (aiosmtpd, from PyPI).

Usage: smtp_relay.py MAILDIR
Prints "listening on PORT" once it accepts connections, then stores every accepted message as
MAILDIR/<n>.eml. A recipient whose local part starts with "refuse" is answered 550 (a permanent
refusal); one starting with "busy" is answered 451 (try again later). Stops on SIGTERM.
"""
import asyncio
import os
import signal
import sys

from aiosmtpd.smtp import SMTP


class Relay:
    def __init__(self, maildir):
        self.maildir = maildir
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("refuse"):
            return "550 5.1.1 <%s>: mailbox unavailable (test relay refuses)" % address
        if local.startswith("busy"):
            return "451 4.3.0 <%s>: try again later (test relay is busy)" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(self.maildir, "%d.eml" % self.count)
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)  # complete files only
        return "250 2.0.0 queued as test-%d" % self.count


async def serve(maildir):
    loop = asyncio.get_running_loop()
    relay = Relay(maildir)
    # Port 0: the system picks a free port, bound before it is printed (no race with other tests).
    server = await loop.create_server(lambda: SMTP(relay, hostname="relay.test"), "127.0.0.1", 0)
    print("listening on %d" % server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    os.makedirs(sys.argv[1], exist_ok=True)
    asyncio.run(serve(sys.argv[1]))
