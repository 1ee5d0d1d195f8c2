"""The built-in SMTP server that receives cameras' alert mail.

aiosmtpd's ``SMTP`` protocol on the caller's running loop (``loop.create_server``; not its
threaded ``Controller``), made lenient for what camera firmware is known to do:

- Only camera addresses are accepted as recipients (any domain), so nothing is ever relayed.
- AUTH PLAIN and LOGIN are always offered. With no credentials configured any AUTH succeeds:
  a camera set up with a password QUITs when AUTH fails or is "not supported" (502).
- AUTH is also accepted after plain HELO, where aiosmtpd would answer 500.
- 8-bit data without 8BITMIME, HELO-only sessions and a missing HELO name work; PIPELINING is
  advertised (aiosmtpd handles commands strictly in order anyway).
- A mail line may be as long as the whole mail (Reolink sends unwrapped base64).
- The idle timeout restarts on every byte received, not only per command, so a slow camera
  uploading large snapshots is not cut off in the middle of DATA.
- A mail is committed when its data is complete: a camera that drops the connection right
  after the final dot (instead of QUIT) still gets its mail delivered.

This module is the server (listening, sessions, AUTH check, parsing and delivery, counters).
The protocol subclass and its fixes are in ``smtp_protocol``, the handler hooks and the rate
limit in ``smtp_handler``, the public dataclasses in ``smtp_types`` (re-exported here).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import ssl
import time
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from .mail import MailKind, parse_mail
from .routing import MailRouter
from .smtp_handler import _Handler, _RateLimiter
from .smtp_protocol import _CameraSMTP, _peer_ip
from .smtp_types import MailCallback, MailDelivery, MailServerConfig, MailServerStats, RejectReason

__all__ = [
    "AlertMailServer",
    "MailCallback",
    "MailDelivery",
    "MailServerConfig",
    "MailServerStats",
    "RejectReason",
]

_LOGGER = logging.getLogger(__name__)

IDENT = "Lookback alert mail"


class AlertMailServer:
    """Receives alert mail on the running loop and hands each routed mail to ``on_mail``."""

    def __init__(
        self,
        config: MailServerConfig,
        router: MailRouter,
        on_mail: MailCallback,
        *,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """Configure; nothing listens before ``start``."""
        if config.starttls and tls_context is None:
            raise ValueError("STARTTLS needs a tls_context (load_or_create_tls_context)")
        self.config = config
        self.router = router
        self.handler = _Handler(self)
        self.limiter = _RateLimiter(config.rate_per_minute)
        self._on_mail = on_mail
        self._tls_context = tls_context if config.starttls else None
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self._mail_tasks: set[asyncio.Task[str]] = set()
        self._accepted = 0
        self._connections = 0
        self._rejected = dict.fromkeys(RejectReason, 0)
        self._by_kind = dict.fromkeys(MailKind, 0)

    @property
    def port(self) -> int:
        """The bound port (the configured one before ``start``)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self.config.port

    @property
    def stats(self) -> MailServerStats:
        """A snapshot of the counters."""
        return MailServerStats(
            accepted=self._accepted,
            rejected={reason.value: count for reason, count in self._rejected.items()},
            by_kind={kind.value: count for kind, count in self._by_kind.items()},
            sessions=len(self._sessions),
            listening=self._server is not None and self._server.is_serving(),
            connections=self._connections,
        )

    def set_router(self, router: MailRouter) -> None:
        """Use new routes from the next RCPT on (cameras added or removed)."""
        self.router = router

    async def start(self) -> None:
        """Listen; raises OSError (port in use, bad address) for the caller to report."""
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        config = self.config
        credentials = config.auth_required

        def factory() -> SMTP:
            # loop= always: aiosmtpd would otherwise look for one with get_event_loop().
            return _CameraSMTP(
                self,
                data_size_limit=config.max_bytes,
                enable_SMTPUTF8=True,
                decode_data=False,
                hostname=config.hostname,
                ident=IDENT,
                tls_context=self._tls_context,
                timeout=config.idle_timeout,
                # Checked by _CameraSMTP.check_auth_needed: passing True here makes aiosmtpd
                # warn on every connection when AUTH is allowed in clear.
                auth_required=False,
                # No credentials: any AUTH succeeds, in clear too (see the module docstring).
                auth_require_tls=credentials and not config.auth_without_tls,
                authenticator=self._authenticate,
                loop=loop,
            )

        self._server = await loop.create_server(factory, config.host, config.port)
        _LOGGER.debug("Alert mail server listening on %s:%s", config.host, self.port)
        if config.auth_impossible:
            _LOGGER.warning(
                "The mail server requires AUTH but allows it neither in clear nor after "
                "STARTTLS: no camera can log in, every mail will be refused"
            )

    async def stop(self) -> None:
        """Close the listener and every session; mail still being parsed is dropped."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        server.close_clients()
        for task in self._mail_tasks:
            task.cancel()
        await server.wait_closed()
        pending: set[asyncio.Task[Any]] = self._sessions | self._mail_tasks
        if pending:
            await asyncio.wait(pending)
        _LOGGER.debug("Alert mail server stopped")

    # Called by the protocol and the handler.

    def session_started(self, task: asyncio.Task[None]) -> None:
        """Track a session until its handler task ends."""
        self._connections += 1
        self._sessions.add(task)
        task.add_done_callback(self._session_ended)

    def _session_ended(self, task: asyncio.Task[None]) -> None:
        self._sessions.discard(task)
        if not task.cancelled():
            # aiosmtpd re-raises a reset connection; it is not news.
            task.exception()

    def reject(self, reason: RejectReason, peer: str, detail: str) -> None:
        """Count a refusal and say why at debug (never credentials)."""
        self._rejected[reason] += 1
        _LOGGER.debug("Mail from %s rejected (%s): %s", peer, reason, detail)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """Check a login; with no credentials configured every login is welcome."""
        del server, envelope
        config = self.config
        if config.username is None:
            return AuthResult(success=True, auth_data=auth_data)
        assert isinstance(auth_data, LoginPassword)
        user_ok = hmac.compare_digest(auth_data.login, config.username.encode())
        password = (config.password or "").encode()
        password_ok = hmac.compare_digest(auth_data.password, password)
        if user_ok and password_ok:
            return AuthResult(success=True, auth_data=auth_data)
        login = auth_data.login.decode("utf-8", "replace")
        self.reject(RejectReason.AUTH_FAILED, _peer_ip(session), f"AUTH {mechanism} as {login!r}")
        return AuthResult(success=False, handled=False)

    def receive(
        self, session: Session, recipients: tuple[str, ...], raw: bytes
    ) -> asyncio.Task[str]:
        """Start parsing and delivering one mail; the task's result is the DATA reply."""
        task = asyncio.get_running_loop().create_task(
            self._receive(_peer_ip(session), recipients, raw, time.time())
        )
        self._mail_tasks.add(task)
        task.add_done_callback(self._mail_done)
        return task

    def _mail_done(self, task: asyncio.Task[str]) -> None:
        self._mail_tasks.discard(task)
        if not task.cancelled():
            task.exception()  # _receive catches its errors; this only marks it retrieved

    async def _receive(
        self,
        peer: str,
        recipients: tuple[str, ...],
        raw: bytes,
        received: float,
    ) -> str:
        try:
            loop = asyncio.get_running_loop()
            mail = await loop.run_in_executor(None, parse_mail, raw)
            camera_ids = self.router.route(recipients, mail)
            if not camera_ids and mail.kind is MailKind.ALARM:
                self.reject(
                    RejectReason.NO_CAMERA,
                    peer,
                    f"to {', '.join(recipients)}, channel {mail.channel}, "
                    f"channel name {mail.channel_name!r}, subject {mail.subject!r}",
                )
                return "550 5.1.1 No camera at this address matches the alert's channel or name"
            if camera_ids:
                self._on_mail(MailDelivery(camera_ids, mail, peer, received))
            else:
                _LOGGER.debug(
                    "%s mail from %s to %s names no camera: %r",
                    mail.kind,
                    peer,
                    ", ".join(recipients),
                    mail.subject,
                )
        except Exception:
            _LOGGER.exception("Alert mail from %s could not be handled", peer)
            self.reject(RejectReason.ERROR, peer, "internal error")
            return "451 4.3.0 Error while handling the mail, try again later"
        self._accepted += 1
        self._by_kind[mail.kind] += 1
        return "250 2.0.0 OK"
