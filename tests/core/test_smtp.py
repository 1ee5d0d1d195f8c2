"""The alert mail server over real sockets: smtplib, raw bytes and swaks as the cameras.

Every test starts its own server on a free port of 127.0.0.1. A mail is delivered (``on_mail``)
before its 250 goes out, so once a client has its 250 the delivery is waiting in the queue, and
a mail refused or not delivered has left the queue empty.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
from functools import partial
from io import BytesIO
import logging
from pathlib import Path
import smtplib
import ssl
import stat
import threading
import time
from typing import Any
import unicodedata
import warnings

from PIL import Image
import pytest

from custom_components.lookback.core.alerts import smtp as smtp_module
from custom_components.lookback.core.alerts.mail import MailAlert, MailKind, parse_mail
from custom_components.lookback.core.alerts.routing import MailRoute, MailRouter
from custom_components.lookback.core.alerts.smtp import (
    AlertMailServer,
    MailDelivery,
    MailServerConfig,
    RejectReason,
)
from custom_components.lookback.core.alerts.smtp_handler import _RateLimiter
from custom_components.lookback.core.alerts.smtp_protocol import _peer_ip, _Session
from custom_components.lookback.core.alerts.tls import (
    CERT_FILE,
    KEY_FILE,
    load_or_create_tls_context,
)

from .smtp_clients import (
    FRONT,
    HOST,
    SWAKS,
    WAIT,
    RawClient,
    Running,
    alert_mail,
    in_thread,
    serving,
    swaks,
    unverified_tls,
)

USER, PASSWORD = "camera", "s3cret-pass"


def dahua(channel: int | None = None, event: str = "Motion Detection", **kw: Any) -> bytes:
    body = f"Alarm Event: {event}\r\n"
    if channel is not None:
        body += f"Alarm Input Channel: {channel}\r\n"
    body += "Alarm Start Time(D/M/Y H:M:S): 01/05/2026 12:00:00\r\n"
    return alert_mail(kw.pop("subject", "Dahua alarm"), body, **kw)


TEST_MAIL = alert_mail(
    "Reolink test",
    "If you receive this e-mail you have successfully set up and tested the e-mail alert "
    "from your IPC.\r\n",
)


def jpeg(width: int = 64, height: int = 48) -> bytes:
    out = BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def stat_of(running: Running, reason: RejectReason) -> int:
    return running.server.stats.rejected[reason.value]


@pytest.fixture
def tls_context(tmp_path: Path) -> ssl.SSLContext:
    return load_or_create_tls_context(tmp_path / "tls", "lookback")


# ------------------------------------------------------------------------------ smtplib basics


async def test_plain_mail_delivered_to_its_camera() -> None:
    async with serving() as running:
        before = time.time()
        await running.send(dahua(), to="frontdoor@lookback")
        delivery = await running.delivery()
        assert delivery.camera_ids == ("cam_front",)
        assert delivery.peer == HOST
        assert before <= delivery.received <= time.time()
        assert delivery.mail.kind is MailKind.ALARM
        assert delivery.mail.subject == "Dahua alarm"
        stats = running.server.stats
        assert stats.accepted == 1
        assert stats.by_kind["alarm"] == 1
        assert stats.listening
        assert stats.connections == 1
        assert sum(stats.rejected.values()) == 0
    assert not running.server.stats.listening
    assert running.server.stats.sessions == 0


async def test_unknown_recipient_and_relay_attempts_get_550() -> None:
    async with serving() as running:

        def run() -> dict[str, tuple[int, bytes]]:
            with running.smtp() as client:
                for outside in ("nobody@lookback", "someone@example.com"):
                    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                        client.sendmail("camera@lookback", [outside], dahua())
                    code, text = refused.value.recipients[outside]
                    assert code == 550
                    assert b"5.1.1" in text
                # a camera address at any domain is the camera's, nothing is relayed
                return client.sendmail(
                    "camera@lookback", ["frontdoor@example.com", "user@gmail.com"], dahua()
                )

        partly = await in_thread(run)
        assert partly["user@gmail.com"][0] == 550
        assert (await running.delivery()).camera_ids == ("cam_front",)
        assert running.deliveries.empty()
        assert stat_of(running, RejectReason.UNKNOWN_RECIPIENT) == 3


async def test_size_cap_552_announced_and_in_data() -> None:
    async with serving(max_bytes=4096) as running:
        big = dahua(
            subject="x" * 100, attachments=[("a.bin", "application/octet-stream", b"\0" * 8000)]
        )

        def run() -> None:
            with running.smtp() as client:
                # EHLO: smtplib announces SIZE= and MAIL is refused at once
                with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                    client.sendmail("camera@lookback", ["frontdoor@lookback"], big)
                assert refused.value.smtp_code == 552
            with running.smtp() as client:
                client.helo("localhost")  # no SIZE: the data is read and refused after the dot
                with pytest.raises(smtplib.SMTPDataError) as too_much:
                    client.sendmail("camera@lookback", ["frontdoor@lookback"], big)
                assert too_much.value.smtp_code == 552
                client.sendmail("camera@lookback", ["frontdoor@lookback"], dahua())

        await in_thread(run)
        assert (await running.delivery()).camera_ids == ("cam_front",)
        assert stat_of(running, RejectReason.TOO_LARGE) == 2
        assert running.server.stats.accepted == 1


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_auth_right_and_wrong_credentials(mechanism: str) -> None:
    async with serving(username=USER, password=PASSWORD, auth_without_tls=True) as running:

        def run() -> None:
            with running.smtp() as client:
                client.ehlo("localhost")
                assert "auth" in client.esmtp_features
                with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                    client.sendmail("camera@lookback", ["frontdoor@lookback"], dahua())
                assert refused.value.smtp_code == 530
                client.rset()
                client.user, client.password = USER, "wrong"
                method = client.auth_plain if mechanism == "PLAIN" else client.auth_login
                with pytest.raises(smtplib.SMTPAuthenticationError) as wrong:
                    client.auth(mechanism, method)
                assert wrong.value.smtp_code == 535
                client.user, client.password = "wrong", PASSWORD
                with pytest.raises(smtplib.SMTPAuthenticationError):
                    client.auth(mechanism, method)
                client.user, client.password = USER, PASSWORD
                assert client.auth(mechanism, method)[0] == 235
                client.sendmail("camera@lookback", ["frontdoor@lookback"], dahua())

        await in_thread(run)
        assert (await running.delivery()).camera_ids == ("cam_front",)
        assert stat_of(running, RejectReason.AUTH_FAILED) == 2
        assert stat_of(running, RejectReason.AUTH_REQUIRED) == 1


async def test_auth_in_clear_refused_unless_allowed(
    tls_context: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    plain = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    async with serving(
        username=USER, password=PASSWORD, starttls=True, tls_context=tls_context
    ) as running:

        def run() -> None:
            with running.smtp() as client:
                client.ehlo("localhost")
                assert "auth" not in client.esmtp_features  # only after STARTTLS
                assert "starttls" in client.esmtp_features
                assert client.docmd("AUTH", f"PLAIN {plain}")[0] == 538
                assert client.docmd("MAIL", "FROM:<camera@lookback>")[0] == 530
                assert client.docmd("RCPT", "TO:<frontdoor@lookback>")[0] == 530  # not counted

        await in_thread(run)
        assert stat_of(running, RejectReason.AUTH_NEEDS_TLS) == 1
        assert stat_of(running, RejectReason.AUTH_REQUIRED) == 1
    assert PASSWORD not in caplog.text
    assert plain not in caplog.text

    async with serving(username=USER, password=PASSWORD, auth_without_tls=True) as running:

        def allowed() -> None:
            with running.smtp() as client:
                assert client.docmd("EHLO", "localhost")[0] == 250
                assert client.docmd("AUTH", f"PLAIN {plain}")[0] == 235

        await in_thread(allowed)


async def test_auth_utf8_password() -> None:
    """A password smtplib cannot send but cameras can: compared as UTF-8."""
    password = "pässwörd"
    plain = base64.b64encode(f"\0{USER}\0{password}".encode()).decode()
    async with serving(username=USER, password=password, auth_without_tls=True) as running:
        raw = await RawClient.connect(running.port)
        assert (await raw.command("EHLO localhost"))[0] == 250
        assert (await raw.command(f"AUTH PLAIN {plain}"))[0] == 235
        assert (await raw.mail(dahua()))[0] == 250
        await raw.close()
        assert (await running.delivery()).camera_ids == ("cam_front",)


async def test_auth_impossible_config_warns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    async with serving(username=USER, password=PASSWORD) as running:
        assert running.server.config.auth_impossible
    assert "no camera can log in" in caplog.text


async def test_starttls_with_generated_certificate_then_auth(
    tls_context: ssl.SSLContext, tmp_path: Path
) -> None:
    async with serving(
        username=USER, password=PASSWORD, starttls=True, tls_context=tls_context
    ) as running:

        def run() -> bytes | None:
            with running.smtp() as client:
                client.starttls(context=unverified_tls())
                client.ehlo("localhost")
                assert "auth" in client.esmtp_features
                client.login(USER, PASSWORD)
                client.sendmail("camera@lookback", ["frontdoor@lookback"], dahua())
                assert isinstance(client.sock, ssl.SSLSocket)
                return client.sock.getpeercert(binary_form=True)

        presented = await in_thread(run)
        assert (await running.delivery()).camera_ids == ("cam_front",)
    generated = (tmp_path / "tls" / CERT_FILE).read_text()
    assert presented == ssl.PEM_cert_to_DER_cert(generated)


async def test_starttls_legacy_tls10_camera(tls_context: ssl.SSLContext) -> None:
    """An old camera TLS stack: TLS 1.0 only, SHA-1 handshake."""
    async with serving(starttls=True, tls_context=tls_context) as running:

        def run() -> str | None:
            context = unverified_tls()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
            with running.smtp() as client:
                client.starttls(context=context)
                client.sendmail("camera@lookback", ["frontdoor@lookback"], dahua())
                assert isinstance(client.sock, ssl.SSLSocket)
                return client.sock.version()

        assert await in_thread(run) == "TLSv1"
        assert (await running.delivery()).camera_ids == ("cam_front",)


async def test_any_auth_accepted_without_credentials_never_502() -> None:
    async with serving() as running:

        def run() -> None:
            with running.smtp() as client:
                client.ehlo("localhost")
                assert client.esmtp_features["auth"].split() == ["LOGIN", "PLAIN"]
                client.user, client.password = "whoever", "whatever"
                assert client.auth("PLAIN", client.auth_plain)[0] == 235
                client.sendmail("camera@lookback", ["frontdoor@lookback"], dahua())
            with running.smtp() as client:
                client.ehlo("localhost")
                client.user, client.password = "admin", ""
                assert client.auth("LOGIN", client.auth_login)[0] == 235
            # a camera that falls back to HELO and still sends AUTH LOGIN (kost/smtp2mqtt#1)
            with running.smtp() as client:
                client.helo("localhost")
                code, challenge = client.docmd("AUTH", "LOGIN")
                assert (code, base64.b64decode(challenge)) == (334, b"Username:")
                code, challenge = client.docmd(base64.b64encode(b"admin").decode())
                assert (code, base64.b64decode(challenge)) == (334, b"Password:")
                assert client.docmd(base64.b64encode(b"pw").decode())[0] == 235
                client.sendmail("camera@lookback", ["frontdoor@lookback"], dahua())

        await in_thread(run)
        assert (await running.delivery()).camera_ids == ("cam_front",)
        assert (await running.delivery()).camera_ids == ("cam_front",)
        assert stat_of(running, RejectReason.AUTH_FAILED) == 0


async def test_helo_only_session_and_nameless_helo() -> None:
    async with serving() as running:

        def run() -> None:
            with running.smtp() as client:
                client.helo("localhost")
                assert not client.does_esmtp
                client.sendmail("camera@lookback", ["frontdoor@lookback"], dahua())
            with running.smtp() as client:
                assert client.docmd("HELO")[0] == 250  # firmware that sends no name
                client.sendmail("camera@lookback", ["frontdoor@lookback"], dahua())
            with running.smtp() as client:
                assert client.docmd("EHLO")[0] == 250
                assert client.docmd("MAIL", "FROM:<camera@lookback>")[0] == 250

        await in_thread(run)
        assert (await running.delivery()).camera_ids == ("cam_front",)
        assert (await running.delivery()).camera_ids == ("cam_front",)


HIKVISION_GB2312 = (
    b"From: NVR <nvr@lookback>\r\n"
    b"To: dvr@lookback\r\n"
    b"Subject: NVR: Motion Detection\r\n"
    b"MIME-Version: 1.0\r\n"
    b"X-Mailer: HIKMailer\r\n"
    b"X-Priority: 2\r\n"
    b'Content-Type: multipart/alternative; boundary="#BOUNDARY#"\r\n'
    b"\r\n"
    b"--#BOUNDARY#\r\n"
    b"Content-Type: text/plain; charset=gb2312\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"This is an automatically generated e-mail from your NVR.\r\n"
    b"\r\n"
    b"EVENT TYPE:        Motion Detection\r\n"
    b"EVENT TIME:        2026-05-01,12:00:00\r\n"
    b"NVR NAME:          \xc2\xbc\xcf\xf1\xbb\xfa\r\n"
    b"CAMERA NAME(NUM):  \xb3\xb5\xbf\xe2(D3)\r\n"
    b"\r\n"
    b"--#BOUNDARY#--\r\n"
)


async def test_8bit_gb2312_body_without_8bitmime() -> None:
    async with serving() as running:
        raw = await RawClient.connect(running.port)
        assert (await raw.command("HELO localhost"))[0] == 250  # no 8BITMIME negotiated
        assert (await raw.mail(HIKVISION_GB2312, to="dvr@lookback"))[0] == 250
        await raw.close()
        delivery = await running.delivery()
        assert delivery.camera_ids == ("cam_garage",)  # channel D3
        assert delivery.mail.channel == 3
        assert delivery.mail.channel_name == "车库"  # the 8-bit bytes arrived intact
        assert delivery.mail.vendor == "hikvision"


async def test_8bitmime_declared_utf8_body() -> None:
    async with serving() as running:

        def run() -> None:
            with running.smtp() as client:
                client.ehlo("localhost")
                assert "8bitmime" in client.esmtp_features
                raw = (
                    b"Subject: =?utf-8?q?Motion_at_Ty=C5=82?=\r\n"
                    b"Content-Type: text/plain; charset=utf-8\r\n"
                    b"Content-Transfer-Encoding: 8bit\r\n\r\n"
                    b"Alarm Event: Motion Detection\r\nKamera: Ty\xc5\x82\r\n"
                )
                client.sendmail(
                    "camera@lookback", ["dvr@lookback"], raw, mail_options=["BODY=8BITMIME"]
                )

        await in_thread(run)
        delivery = await running.delivery()
        assert delivery.camera_ids == ("cam_tyl",)
        assert "Tył" in delivery.mail.text


async def test_reset_right_after_250_still_delivered_and_server_goes_on() -> None:
    async with serving() as running:
        raw = await RawClient.connect(running.port)
        assert (await raw.command("EHLO localhost"))[0] == 250
        assert (await raw.mail(dahua()))[0] == 250
        raw.reset()  # no QUIT: a TCP reset, as LTS/Hikvision cameras do
        assert (await running.delivery()).camera_ids == ("cam_front",)
        await running.send(dahua())
        assert (await running.delivery()).camera_ids == ("cam_front",)
        assert running.server.stats.accepted == 2


async def test_connection_closed_right_after_the_dot_still_delivered() -> None:
    """The data is complete at the dot: a camera that hangs up without reading the reply."""
    async with serving() as running:
        raw = await RawClient.connect(running.port)
        await raw.send(
            b"HELO localhost\r\nMAIL FROM:<c@lookback>\r\nRCPT TO:<frontdoor@lookback>\r\n"
        )
        for _ in range(3):
            assert (await raw.reply())[0] == 250
        assert (await raw.command("DATA"))[0] == 354
        raw.writer.write(dahua() + b".\r\n")
        raw.writer.write_eof()
        assert (await running.delivery()).camera_ids == ("cam_front",)
        await raw.close()


async def test_dvr_routing_by_channel_and_by_name() -> None:
    async with serving() as running:
        await running.send(dahua(channel=2), to="dvr@lookback")
        assert (await running.delivery()).camera_ids == ("cam_tyl",)

        by_name = alert_mail("Garage side: motion", "EVENT TYPE: Motion Detection\r\n")
        assert parse_mail(by_name).channel is None
        await running.send(by_name, to="DVR@nvr.example")
        assert (await running.delivery()).camera_ids == ("cam_garage",)

        nfd = unicodedata.normalize("NFD", "TYŁ")
        by_channel_name = alert_mail("NVR alarm", f"EVENT TYPE: Motion\r\nCAMERA NAME: {nfd}\r\n")
        await running.send(by_channel_name, to="dvr@lookback")
        assert (await running.delivery()).camera_ids == ("cam_tyl",)

        with pytest.raises(smtplib.SMTPDataError) as no_camera:
            await running.send(dahua(channel=9), to="dvr@lookback")
        assert no_camera.value.smtp_code == 550
        assert b"No camera" in no_camera.value.smtp_error
        assert running.deliveries.empty()
        assert stat_of(running, RejectReason.NO_CAMERA) == 1
        assert running.server.stats.accepted == 3


async def test_test_end_and_health_mails_accepted_and_counted() -> None:
    """Any kind naming a camera is delivered (the caller clips only ALARM); none is refused."""
    async with serving() as running:
        assert parse_mail(TEST_MAIL).kind is MailKind.TEST
        await running.send(TEST_MAIL, to="frontdoor@lookback")
        delivery = await running.delivery()
        assert (delivery.camera_ids, delivery.mail.kind) == (("cam_front",), MailKind.TEST)

        # a DVR's test mail names no channel: accepted, counted, not delivered
        await running.send(TEST_MAIL, to="dvr@lookback")
        assert running.deliveries.empty()

        end = dahua(channel=1, event="Motion Detection Stop")
        assert parse_mail(end).kind is MailKind.END
        await running.send(end, to="dvr@lookback")
        delivery = await running.delivery()
        assert (delivery.camera_ids, delivery.mail.kind) == (("cam_yard",), MailKind.END)

        health = alert_mail("HDD Error", "EVENT TYPE: HDD Error\r\nNVR NAME: NVR\r\n")
        assert parse_mail(health).kind is MailKind.HEALTH
        await running.send(health, to="dvr@lookback")
        assert running.deliveries.empty()

        stats = running.server.stats
        assert stats.by_kind == {"alarm": 0, "end": 1, "test": 2, "health": 1}
        assert stats.accepted == 4
        assert sum(stats.rejected.values()) == 0


async def test_rate_limit_451_per_peer() -> None:
    async with serving(rate_per_minute=2) as running:

        def run() -> None:
            with running.smtp() as client:
                for _ in range(2):
                    client.sendmail("camera@lookback", ["frontdoor@lookback"], dahua())
                with pytest.raises(smtplib.SMTPSenderRefused) as limited:
                    client.sendmail("camera@lookback", ["frontdoor@lookback"], dahua())
                assert limited.value.smtp_code == 451
                assert b"4.7.1" in limited.value.smtp_error

        await in_thread(run)
        assert running.server.stats.accepted == 2
        assert stat_of(running, RejectReason.RATE_LIMITED) == 1


def test_rate_limiter_refills_and_forgets_idle_peers() -> None:
    now = [0.0]
    limiter = _RateLimiter(60, clock=lambda: now[0])
    assert all(limiter.allow("a") for _ in range(60))
    assert not limiter.allow("a")
    assert limiter.allow("b")  # per peer
    now[0] = 1.0  # one token a second
    assert limiter.allow("a")
    assert not limiter.allow("a")
    for peer in range(1100):
        limiter.allow(str(peer))
    now[0] = 100.0
    limiter.allow("last")  # past the prune size: refilled buckets are forgotten
    assert len(limiter._buckets) == 1
    assert all(_RateLimiter(0).allow("x") for _ in range(1000))


async def test_idle_timeout_closes_the_session() -> None:
    async with serving(idle_timeout=0.3) as running:
        raw = await RawClient.connect(running.port)
        assert (await raw.command("EHLO localhost"))[0] == 250
        assert await raw.closed_by_server()
        await raw.close()


async def test_slow_data_is_not_idle() -> None:
    """Bytes keep coming: the timeout must not cut a slow camera off in the middle of DATA."""
    async with serving(idle_timeout=0.4) as running:
        raw = await RawClient.connect(running.port)
        assert (await raw.command("HELO localhost"))[0] == 250
        assert (await raw.command("MAIL FROM:<c@lookback>"))[0] == 250
        assert (await raw.command("RCPT TO:<frontdoor@lookback>"))[0] == 250
        assert (await raw.command("DATA"))[0] == 354
        lines = dahua().split(b"\r\n")
        for line in lines[:6]:
            await raw.send(line + b"\r\n")
            await asyncio.sleep(0.25)  # pacing a slow sender, 1.5 s in all
        await raw.send(b"\r\n".join(lines[6:]) + b".\r\n")
        assert (await raw.reply())[0] == 250
        assert (await running.delivery()).camera_ids == ("cam_front",)
        await raw.close()


async def test_set_router_takes_new_cameras_without_restart() -> None:
    async with serving() as running:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            await running.send(dahua(), to="porch@lookback")
        running.server.set_router(MailRouter([*[FRONT], MailRoute("cam_porch", "Porch", "porch")]))
        await running.send(dahua(), to="porch@lookback")
        assert (await running.delivery()).camera_ids == ("cam_porch",)


async def test_handler_error_is_451_and_logged_then_next_mail_works(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deliveries: list[MailDelivery] = []

    def on_mail(delivery: MailDelivery) -> None:
        deliveries.append(delivery)
        if len(deliveries) == 1:
            raise RuntimeError("bug in the caller")

    async with serving(on_mail=on_mail) as running:
        with pytest.raises(smtplib.SMTPDataError) as failed:
            await running.send(dahua())
        assert failed.value.smtp_code == 451
        assert b"4.3.0" in failed.value.smtp_error
        await running.send(dahua())
        assert len(deliveries) == 2
        assert stat_of(running, RejectReason.ERROR) == 1
        assert running.server.stats.accepted == 1
    assert "bug in the caller" in caplog.text


async def test_stop_while_a_mail_is_parsed_drops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    parsing: asyncio.Future[None] = loop.create_future()
    release = threading.Event()

    def slow_parse(raw: bytes) -> MailAlert:
        loop.call_soon_threadsafe(parsing.set_result, None)
        release.wait(WAIT)
        return parse_mail(raw)

    monkeypatch.setattr(smtp_module, "parse_mail", slow_parse)
    async with serving() as running:
        raw = await RawClient.connect(running.port)
        assert (await raw.command("HELO localhost"))[0] == 250
        assert (await raw.command("MAIL FROM:<c@lookback>"))[0] == 250
        assert (await raw.command("RCPT TO:<frontdoor@lookback>"))[0] == 250
        assert (await raw.command("DATA"))[0] == 354
        await raw.send(dahua() + b".\r\n")
        await parsing
        try:
            await running.server.stop()
        finally:
            release.set()
        assert await raw.closed_by_server()
        await raw.close()
        assert running.deliveries.empty()
        assert running.server.stats.accepted == 0


async def test_flood_without_replies_closes_the_session() -> None:
    """An endless data line: aiosmtpd would keep all of it; the session is closed instead."""
    cap = 4096
    async with serving(max_bytes=cap) as running:
        raw = await RawClient.connect(running.port)
        assert (await raw.command("HELO localhost"))[0] == 250
        assert (await raw.command("MAIL FROM:<c@lookback>"))[0] == 250
        assert (await raw.command("RCPT TO:<frontdoor@lookback>"))[0] == 250
        assert (await raw.command("DATA"))[0] == 354
        raw.writer.write(b"X" * (2 * cap + 200_000))
        with contextlib.suppress(ConnectionError):
            await raw.writer.drain()
            assert await raw.closed_by_server()
        raw.writer.close()
        assert stat_of(running, RejectReason.TOO_LARGE) == 1
        await assert_still_serving(running)


async def test_session_task_ending_in_an_error_is_not_news() -> None:
    """A reset connection re-raised from aiosmtpd's session task: retrieved, not logged."""
    server = AlertMailServer(MailServerConfig(), MailRouter([]), lambda _: None)

    async def reset() -> None:
        raise ConnectionResetError

    task = asyncio.get_running_loop().create_task(reset())
    server.session_started(task)
    assert server.stats.sessions == 1
    with contextlib.suppress(ConnectionResetError):
        await task
    await asyncio.sleep(0)  # the done callback runs on the next loop turn
    assert server.stats.sessions == 0


async def test_session_login_data_without_deprecation_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = _Session(asyncio.get_running_loop())
    session.login_data = b"camera"
    assert session.login_data == b"camera"
    assert "deprecated" not in caplog.text
    assert _peer_ip(session) == "None"  # no socket address (never happens on TCP)


async def test_port_in_use_raises_oserror() -> None:
    async with serving() as running:
        clash = AlertMailServer(
            MailServerConfig(host=HOST, port=running.port), MailRouter([]), lambda _: None
        )
        with pytest.raises(OSError, match="address already in use") as in_use:
            await clash.start()
        assert in_use.value.errno == errno.EADDRINUSE
        assert not clash.stats.listening
        assert clash.port == running.port
        await clash.stop()  # never started: nothing to do
        await running.server.start()  # already started: nothing to do
        assert running.server.stats.listening


async def test_stop_closes_open_sessions() -> None:
    async with serving() as running:
        raw = await RawClient.connect(running.port)
        assert (await raw.command("EHLO localhost"))[0] == 250
        assert running.server.stats.sessions == 1
        await running.server.stop()
        assert await raw.closed_by_server()
        assert running.server.stats.sessions == 0
        assert not running.server.stats.listening
        await raw.close()


def test_config_checks() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        MailServerConfig(max_bytes=0)
    with pytest.raises(ValueError, match="rate"):
        MailServerConfig(rate_per_minute=-1)
    with pytest.raises(ValueError, match="tls_context"):
        AlertMailServer(MailServerConfig(starttls=True), MailRouter([]), lambda _: None)
    assert not MailServerConfig().auth_required
    assert MailServerConfig(username="u", starttls=True).auth_required
    assert not MailServerConfig(username="u", auth_without_tls=True).auth_impossible
    assert MailServerConfig(username="u").auth_impossible


async def test_username_without_password_means_empty_password() -> None:
    async with serving(username=USER, auth_without_tls=True) as running:

        def run() -> None:
            with running.smtp() as client:
                client.login(USER, "")
                client.sendmail("camera@lookback", ["frontdoor@lookback"], dahua())

        await in_thread(run)
        assert (await running.delivery()).camera_ids == ("cam_front",)


# ---------------------------------------------------------------------------------- swaks

needs_swaks = pytest.mark.skipif(SWAKS is None, reason="swaks is not installed (apt install swaks)")
# swaks' own default body ("This is a test mailing") reads as a camera's test mail.
ALARM = ("--from", "camera@lookback", "--body", "Alarm Event: Motion Detection")


@needs_swaks
async def test_swaks_attachments(tmp_path: Path) -> None:
    picture = tmp_path / "snapshot.jpg"
    picture.write_bytes(jpeg(64, 48))
    archive = tmp_path / "clip.zip"
    archive.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    async with serving() as running:
        status, transcript = await swaks(
            running.port,
            "--to",
            "frontdoor@lookback",
            "--from",
            "camera@lookback",
            "--header",
            "Subject: Motion Detection Alarm",
            "--body",
            "Alarm Event: Motion Detection",
            "--attach-type",
            "image/jpeg",
            "--attach",
            f"@{picture}",
            "--attach-type",
            "application/zip",
            "--attach",
            f"@{archive}",
        )
        assert status == 0, transcript
        delivery = await running.delivery()
        assert delivery.camera_ids == ("cam_front",)
        assert [(i.filename, i.width, i.height) for i in delivery.mail.images] == [
            ("snapshot.jpg", 64, 48)
        ]
        assert delivery.mail.skipped_attachments == 1


@needs_swaks
@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
async def test_swaks_auth(mechanism: str) -> None:
    async with serving(username=USER, password=PASSWORD, auth_without_tls=True) as running:
        base = (*ALARM, "--to", "frontdoor@lookback", "-a", mechanism)
        status, transcript = await swaks(running.port, *base, "-au", USER, "-ap", "nope")
        assert status != 0
        assert "535" in transcript
        status, transcript = await swaks(running.port, *base, "-au", USER, "-ap", PASSWORD)
        assert status == 0, transcript
        assert (await running.delivery()).camera_ids == ("cam_front",)
        assert stat_of(running, RejectReason.AUTH_FAILED) == 1


@needs_swaks
async def test_swaks_starttls_and_auth(tls_context: ssl.SSLContext) -> None:
    async with serving(
        username=USER, password=PASSWORD, starttls=True, tls_context=tls_context
    ) as running:
        status, transcript = await swaks(
            running.port,
            *ALARM,
            "--to",
            "frontdoor@lookback",
            "-tls",
            "-a",
            "LOGIN",
            "-au",
            USER,
            "-ap",
            PASSWORD,
        )
        assert status == 0, transcript
        assert "TLS started" in transcript
        assert (await running.delivery()).camera_ids == ("cam_front",)


@needs_swaks
async def test_swaks_pipelining() -> None:
    async with serving() as running:
        status, transcript = await swaks(
            running.port, *ALARM, "--pipeline", "--to", "frontdoor@lookback,dvr@lookback"
        )
        assert status == 0, transcript
        assert "250-PIPELINING" in transcript
        # MAIL, both RCPTs and DATA went out before the first answer
        lines = [line.strip() for line in transcript.splitlines()]
        data = lines.index("-> DATA")
        assert lines[data - 3 : data + 5] == [
            "-> MAIL FROM:<camera@lookback>",
            "-> RCPT TO:<frontdoor@lookback>",
            "-> RCPT TO:<dvr@lookback>",
            "-> DATA",
            "<-  250 2.1.0 OK",
            "<-  250 2.1.5 OK",
            "<-  250 2.1.5 OK",
            "<-  354 End data with <CR><LF>.<CR><LF>",
        ]
        delivery = await running.delivery()
        assert delivery.camera_ids == ("cam_front",)  # the DVR part names no channel


@needs_swaks
async def test_swaks_8bit_body(tmp_path: Path) -> None:
    body = tmp_path / "body.txt"
    body.write_bytes("Alarm Event: Motion Detection\r\nKamera: Tył — ruch\r\n".encode())
    async with serving() as running:
        status, transcript = await swaks(
            running.port,
            "--to",
            "dvr@lookback",
            "--header",
            "Subject: Motion at Tył",
            "--add-header",
            "Content-Type: text/plain; charset=utf-8",
            "--add-header",
            "Content-Transfer-Encoding: 8bit",
            "--body",
            f"@{body}",
        )
        assert status == 0, transcript
        delivery = await running.delivery()
        assert delivery.camera_ids == ("cam_tyl",)
        assert "Tył — ruch" in delivery.mail.text


@needs_swaks
@pytest.mark.parametrize("option", ["--drop-after", "--drop-after-send"])
async def test_swaks_drop_after_dot_still_delivered(option: str) -> None:
    async with serving() as running:
        status, transcript = await swaks(
            running.port, *ALARM, "--to", "frontdoor@lookback", option, "DOT"
        )
        assert status == 0, transcript
        assert (await running.delivery()).camera_ids == ("cam_front",)
        await running.send(dahua())
        assert (await running.delivery()).camera_ids == ("cam_front",)


# ------------------------------------------------------------------------- hostile input


async def assert_still_serving(running: Running) -> None:
    await running.send(dahua(subject="after"))
    delivery = await running.delivery()
    assert delivery.mail.subject == "after"


BAD_MIME = (
    b"Subject: =?x-unknown?q?broken?=\r\n"
    b'Content-Type: multipart/mixed; boundary="never"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"--nope\r\nContent-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"!!!not base64!!!\r\n"
    b"--never\r\nContent-Type: text/plain; charset=no-such-charset\r\n\r\n\xff\xfe\x00\r\n"
)


@pytest.mark.parametrize(
    "message",
    [
        BAD_MIME,
        b"",
        b"no header at all, just text\r\n",
        (
            b"Subject: \xff\xfe latin-1 \xe9\xe8\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"\r\n\xc3\x28 invalid utf-8 \x00 nul\r\n"
        ),
    ],
    ids=["bad-mime", "empty", "headerless", "non-utf8"],
)
async def test_broken_mail_accepted_and_server_goes_on(message: bytes) -> None:
    async with serving() as running:
        raw = await RawClient.connect(running.port)
        assert (await raw.command("HELO localhost"))[0] == 250
        assert (await raw.mail(message))[0] == 250
        await raw.close()
        assert (await running.delivery()).camera_ids == ("cam_front",)
        await assert_still_serving(running)


@pytest.mark.parametrize("folded", [True, False])
async def test_huge_header_near_the_size_cap(folded: bool) -> None:
    cap = 256 * 1024
    value = ("x" * 70 + "\r\n ") * 3300 if folded else "y" * 240_000
    message = f"X-Junk: {value}\r\nSubject: huge\r\n\r\nAlarm Event: Motion Detection\r\n"
    assert cap - 30_000 < len(message) < cap
    async with serving(max_bytes=cap) as running:
        await running.send(message.encode())
        delivery = await running.delivery()
        assert delivery.mail.subject == "huge"
        await assert_still_serving(running)


async def test_header_injection_in_subject_reaches_no_one_else() -> None:
    message = (
        b"Subject: =?utf-8?q?Motion=0D=0ABcc:_dvr@lookback=0D=0A?=\r\n"
        b"Bcc: dvr@lookback\r\n"
        b"To: dvr@lookback\r\n"
        b"\r\n"
        b"Alarm Event: Motion Detection\r\nAlarm Input Channel: 1\r\n"
    )
    async with serving() as running:
        await running.send(message, to="frontdoor@lookback")
        delivery = await running.delivery()
        assert delivery.camera_ids == ("cam_front",)  # the envelope decides, not headers
        assert running.deliveries.empty()
        await assert_still_serving(running)


async def test_zip_attachment_is_skipped() -> None:
    message = dahua(attachments=[("evil.zip", "application/zip", b"PK\x03\x04" + b"\0" * 64)])
    async with serving() as running:
        await running.send(message)
        delivery = await running.delivery()
        assert delivery.mail.images == ()
        assert delivery.mail.skipped_attachments == 1
        await assert_still_serving(running)


async def test_non_ascii_addresses_with_smtputf8() -> None:
    routes = [MailRoute("cam_tyl", "Tył", "kamera-tył")]
    async with serving(routes) as running:
        raw = await RawClient.connect(running.port)
        assert (await raw.command("EHLO localhost"))[0] == 250
        assert (await raw.command("MAIL FROM:<kamera@łódź.pl> SMTPUTF8".encode()))[0] == 250
        code, _ = await raw.command("RCPT TO:<KAMERA-TYŁ@lookback>".encode())
        assert code == 250
        assert (await raw.command("DATA"))[0] == 354
        await raw.send(dahua() + b".\r\n")
        assert (await raw.reply())[0] == 250
        # bytes that are not UTF-8 in an address: refused, not a crash
        assert (await raw.command(b"MAIL FROM:<\xff\xfe@x>"))[0] == 250
        assert (await raw.command(b"RCPT TO:<\xff\xfe@lookback>"))[0] == 550
        await raw.close()
        assert (await running.delivery()).camera_ids == ("cam_tyl",)


async def test_garbage_commands_answered_then_a_mail_goes_through() -> None:
    async with serving() as running:
        raw = await RawClient.connect(running.port)
        assert (await raw.command("MAIL FROM:<c@lookback>"))[0] == 503  # no HELO yet
        assert (await raw.command("XYZZY plugh"))[0] == 500
        assert (await raw.command(b"\xff\xfe\x00\x01"))[0] == 500
        assert (await raw.command(""))[0] == 500
        assert (await raw.command("EXPN staff"))[0] == 502
        assert (await raw.command("HELO localhost"))[0] == 250
        assert (await raw.command("DATA"))[0] == 503  # no recipient
        assert (await raw.command("RCPT TO:<frontdoor@lookback>"))[0] == 503  # no MAIL
        assert (await raw.command("MAIL FROM:<<<>>>"))[0] in {501, 553}
        assert (await raw.mail(dahua()))[0] == 250
        assert (await raw.command("QUIT"))[0] == 221
        await raw.close()
        assert (await running.delivery()).camera_ids == ("cam_front",)

        # too many unknown commands: aiosmtpd says goodbye (502) and closes; others unaffected
        raw = await RawClient.connect(running.port)
        for _ in range(4):
            assert (await raw.command("BOGUS"))[0] == 500
        assert (await raw.command("BOGUS"))[0] == 502
        assert await raw.closed_by_server()
        await raw.close()
        await assert_still_serving(running)


async def test_lines_over_the_limits() -> None:
    cap = 64 * 1024
    async with serving(max_bytes=cap) as running:
        raw = await RawClient.connect(running.port)
        assert (await raw.command("HELO " + "h" * 2000))[0] == 500  # command line > 512
        assert (await raw.command(b"NOOP " + b"n" * (cap + 10)))[0] == 500  # > the line limit
        assert (await raw.command("HELO localhost"))[0] == 250
        # a data line may be long (unwrapped base64) ...
        long_line = b"Subject: long\r\n\r\n" + b"A" * (cap - 1000) + b"\r\n"
        assert (await raw.mail(long_line))[0] == 250
        # ... but not longer than a whole mail may be
        code, text = await raw.mail(b"Subject: too long\r\n\r\n" + b"B" * (cap + 10) + b"\r\n")
        assert (code, text) == (500, "Line too long (see RFC5321 4.5.3.1.6)")
        assert stat_of(running, RejectReason.TOO_LARGE) == 1
        assert (await raw.mail(dahua(subject="after")))[0] == 250
        await raw.close()
        assert (await running.delivery()).mail.subject == "long"
        assert (await running.delivery()).mail.subject == "after"
        assert running.deliveries.empty()


# ---------------------------------------------------------------------------------- burst


async def test_burst_of_1000_mails_from_8_connections() -> None:
    per_client, clients = 125, 8
    async with serving(rate_per_minute=0) as running:

        def client(number: int) -> int:
            sent = 0
            with running.smtp() as smtp:
                for index in range(per_client):
                    subject = f"burst {number}-{index}"
                    smtp.sendmail("c@lookback", ["frontdoor@lookback"], dahua(subject=subject))
                    sent += 1
            return sent

        sent = await asyncio.gather(*(in_thread(partial(client, n)) for n in range(clients)))
        assert sum(sent) == 1000
        subjects = set()
        while not running.deliveries.empty():
            subjects.add(running.deliveries.get_nowait().mail.subject)
        assert len(subjects) == 1000
        stats = running.server.stats
        assert stats.accepted == 1000
        assert stats.by_kind["alarm"] == 1000
        assert stats.connections == clients


# ------------------------------------------------------------------------------------ tls


def test_tls_certificate_made_once_private_and_reused(tmp_path: Path) -> None:
    folder = tmp_path / "storage"
    context = load_or_create_tls_context(folder, "nvr.local")
    assert isinstance(context, ssl.SSLContext)
    cert, key = folder / CERT_FILE, folder / KEY_FILE
    for path in (cert, key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = cert.read_bytes(), key.read_bytes()
    load_or_create_tls_context(folder, "nvr.local")
    assert (cert.read_bytes(), key.read_bytes()) == first  # reused, not regenerated

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    certificate = x509.load_pem_x509_certificate(first[0])
    assert certificate.subject.rfc4514_string() == "CN=nvr.local"
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == 2048
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime.days >= 3650
    assert set(folder.iterdir()) == {cert, key}  # no temporary file left


def test_tls_broken_pair_is_replaced_and_ip_hostname(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    load_or_create_tls_context(folder, "lookback")
    (folder / KEY_FILE).write_text("not a key")
    load_or_create_tls_context(folder, "192.168.1.10")
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate((folder / CERT_FILE).read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["192.168.1.10"]
    assert stat.S_IMODE((folder / KEY_FILE).stat().st_mode) == 0o600
