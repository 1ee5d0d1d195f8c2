"""Clients for the alert mail server tests: a server per test, smtplib, raw sockets and swaks.

Blocking clients (smtplib) run in threads of their own, never in the loop's default executor:
the server parses mail there, and clients waiting for its answer must not take every worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
import shutil
import smtplib
import socket
import ssl
import struct
from typing import Any

from custom_components.lookback.core.alerts.routing import MailRoute, MailRouter
from custom_components.lookback.core.alerts.smtp import (
    AlertMailServer,
    MailDelivery,
    MailServerConfig,
)

HOST = "127.0.0.1"
WAIT = 10.0  # seconds before a test gives up waiting for a delivery or a reply

# A camera of its own and a DVR whose three channels share one address.
FRONT = MailRoute("cam_front", "Front door", "frontdoor")
DVR_1 = MailRoute("cam_yard", "Yard", "dvr", channel=1)
DVR_2 = MailRoute("cam_tyl", "Tył", "dvr", channel=2)
DVR_3 = MailRoute("cam_garage", "Garage side", "dvr", channel=3)
ROUTES = (FRONT, DVR_1, DVR_2, DVR_3)

SWAKS = shutil.which("swaks")


@dataclass
class Running:
    """A started server and the deliveries it made."""

    server: AlertMailServer
    deliveries: asyncio.Queue[MailDelivery]

    @property
    def port(self) -> int:
        return self.server.port

    async def delivery(self) -> MailDelivery:
        """The next delivery (already made when the client saw its 250)."""
        return await asyncio.wait_for(self.deliveries.get(), WAIT)

    def smtp(self) -> smtplib.SMTP:
        """A connected smtplib client (blocking: use it inside ``in_thread``)."""
        return smtplib.SMTP(HOST, self.port, local_hostname="localhost", timeout=WAIT)

    async def send(self, message: bytes, to: str = "frontdoor@lookback", **kw: Any) -> None:
        """Send one mail with smtplib in a thread (EHLO, no AUTH)."""

        def run() -> None:
            with self.smtp() as client:
                client.sendmail(kw.get("sender", "camera@lookback"), [to], message)

        await in_thread(run)


@asynccontextmanager
async def serving(
    routes: Iterable[MailRoute] = ROUTES,
    *,
    tls_context: ssl.SSLContext | None = None,
    on_mail: Callable[[MailDelivery], None] | None = None,
    **config: Any,
) -> AsyncIterator[Running]:
    """Start a server on a free port of 127.0.0.1 and stop it afterwards."""
    deliveries: asyncio.Queue[MailDelivery] = asyncio.Queue()
    server = AlertMailServer(
        MailServerConfig(host=HOST, port=0, **config),
        MailRouter(routes),
        on_mail or deliveries.put_nowait,
        tls_context=tls_context,
    )
    await server.start()
    try:
        yield Running(server, deliveries)
    finally:
        await server.stop()


async def in_thread[T](func: Callable[[], T]) -> T:
    """Run a blocking client in a thread of its own."""
    with ThreadPoolExecutor(1, thread_name_prefix="smtp-client") as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, func)


def unverified_tls() -> ssl.SSLContext:
    """What cameras do: TLS without checking the certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def alert_mail(
    subject: str = "Motion Detection Alarm",
    body: str = "Alarm Event: Motion Detection\r\n",
    *,
    sender: str = "camera@lookback",
    to: str = "frontdoor@lookback",
    charset: str = "utf-8",
    attachments: Iterable[tuple[str, str, bytes]] = (),
) -> bytes:
    """A camera-like alert mail; attachments are (filename, MIME type, data)."""
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body, charset=charset)
    for filename, mime, data in attachments:
        maintype, subtype = mime.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


@dataclass
class RawClient:
    """A byte-level SMTP client for what smtplib will not send."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
        client = cls(reader, writer)
        code, _ = await client.reply()
        assert code == 220
        return client

    async def reply(self) -> tuple[int, str]:
        """One (possibly multi-line) reply: its code and its lines' text."""
        lines: list[str] = []
        while True:
            line = await asyncio.wait_for(self.reader.readline(), WAIT)
            if not line:
                raise ConnectionError("server closed the connection")
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(text[4:])
            if text[3:4] != "-":
                return int(text[:3]), "\n".join(lines)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def command(self, line: str | bytes) -> tuple[int, str]:
        await self.send((line.encode() if isinstance(line, str) else line) + b"\r\n")
        return await self.reply()

    async def mail(self, message: bytes, to: str = "frontdoor@lookback") -> tuple[int, str]:
        """MAIL, RCPT and DATA (after a greeting); the reply to the data."""
        assert (await self.command("MAIL FROM:<camera@lookback>"))[0] == 250
        assert (await self.command(f"RCPT TO:<{to}>"))[0] == 250
        assert (await self.command("DATA"))[0] == 354
        await self.send(message + b".\r\n")
        return await self.reply()

    async def closed_by_server(self) -> bool:
        """Whether the server closes the connection (reads to EOF, discarding replies)."""
        while await asyncio.wait_for(self.reader.read(65536), WAIT):
            pass
        return True

    def reset(self) -> None:
        """Drop the connection with a TCP reset, as some cameras do instead of QUIT."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def swaks(port: int, *args: str) -> tuple[int, str]:
    """Run swaks against the server: exit status and transcript."""
    assert SWAKS is not None
    process = await asyncio.create_subprocess_exec(
        SWAKS,
        "--server",
        HOST,
        "--port",
        str(port),
        "--timeout",
        "10",
        "--helo",
        "localhost",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, output.decode("utf-8", "replace")
