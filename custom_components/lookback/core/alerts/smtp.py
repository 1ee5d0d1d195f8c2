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
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
import hmac
import logging
import ssl
import time
from typing import Any, AnyStr, override

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from .mail import MailAlert, MailKind, parse_mail
from .routing import MailRouter

_LOGGER = logging.getLogger(__name__)

IDENT = "Lookback alert mail"
MIN_LINE_LIMIT = 1001  # RFC 5321: 998 octets, CRLF and a transparency dot
UNANSWERED_SLACK = 64 * 1024  # commands and dot-stuffing beyond twice the line limit
_BUCKETS_PRUNE_AT = 1024  # peers remembered before full (idle) buckets are forgotten


class RejectReason(StrEnum):
    """Why a mail (or an attempt at one) was refused; values are stats keys."""

    UNKNOWN_RECIPIENT = "unknown_recipient"  # 550 5.1.1 at RCPT: no camera has that address
    NO_CAMERA = "no_camera"  # 550 5.1.1 after DATA: an alarm naming no camera of a DVR
    TOO_LARGE = "too_large"  # 552 (SIZE or data over max_bytes), 500 for a line over it
    AUTH_REQUIRED = "auth_required"  # 530 5.7.0: MAIL before a required AUTH
    AUTH_NEEDS_TLS = "auth_needs_tls"  # 538 5.7.11: AUTH in clear without auth_without_tls
    AUTH_FAILED = "auth_failed"  # 535 5.7.8: wrong user name or password
    RATE_LIMITED = "rate_limited"  # 451 4.7.1 at MAIL: the peer sends too fast
    ERROR = "error"  # 451 4.3.0: a bug while handling the mail (logged)


@dataclass(frozen=True, slots=True)
class MailServerConfig:
    """How the server listens and whom it lets in."""

    host: str = "0.0.0.0"  # noqa: S104 - cameras are on the LAN
    port: int = 2525
    max_bytes: int = 10 * 1024 * 1024
    username: str | None = None
    """Set: AUTH (PLAIN or LOGIN) with it and ``password`` is required before MAIL."""
    password: str | None = None
    """None with a username: the empty password."""
    auth_without_tls: bool = False
    """Allow AUTH in clear: LAN cameras without TLS (else AUTH needs STARTTLS first)."""
    starttls: bool = False
    """Offer STARTTLS (the server then needs a ``tls_context``)."""
    rate_per_minute: int = 60
    """Mails accepted per peer IP and minute, in bursts of as many; 0: no limit."""
    idle_timeout: float = 60.0
    """Seconds without a byte from the client before the session is closed."""
    hostname: str = "lookback"

    def __post_init__(self) -> None:
        """Refuse limits that make no sense (a programming error, not a user's setting)."""
        if self.max_bytes <= 0 or self.rate_per_minute < 0 or self.idle_timeout <= 0:
            raise ValueError("SMTP max_bytes and idle_timeout must be > 0, rate >= 0")

    @property
    def auth_required(self) -> bool:
        """Whether credentials are configured (and so checked)."""
        return self.username is not None

    @property
    def auth_impossible(self) -> bool:
        """AUTH is required but refused in clear, and there is no STARTTLS to get out of it."""
        return self.auth_required and not (self.starttls or self.auth_without_tls)


@dataclass(frozen=True, slots=True)
class MailDelivery:
    """An accepted mail that names at least one camera; the caller decides by ``mail.kind``."""

    camera_ids: tuple[str, ...]
    mail: MailAlert
    peer: str
    """The sender's IP address."""
    received: float
    """``time.time()`` when the mail's data was complete."""


@dataclass(frozen=True, slots=True)
class MailServerStats:
    """Counters since the server was made, for diagnostics."""

    accepted: int
    rejected: dict[str, int]
    """By ``RejectReason`` value (every reason present)."""
    by_kind: dict[str, int]
    """Accepted mails by ``MailKind`` value (every kind present)."""
    sessions: int
    """SMTP sessions open now."""
    listening: bool
    connections: int = 0
    """Sessions opened since the server was made."""


MailCallback = Callable[[MailDelivery], None]


class _RateLimiter:
    """A token bucket per peer: ``per_minute`` tokens, refilled evenly over a minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._refill = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # peer -> tokens, at

    def allow(self, peer: str) -> bool:
        """Take a token for ``peer`` if it has one."""
        if self._capacity <= 0:
            return True
        now = self._clock()
        tokens, at = self._buckets.get(peer, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - at) * self._refill)
        allowed = tokens >= 1.0
        self._buckets[peer] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > _BUCKETS_PRUNE_AT:
            self._prune(now)
        return allowed

    def _prune(self, now: float) -> None:
        """Forget peers whose bucket has refilled: they would start full anyway."""
        full = [
            peer
            for peer, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self._refill >= self._capacity
        ]
        for peer in full:
            del self._buckets[peer]


def _peer_ip(session: Session) -> str:
    peer: Any = session.peer  # typed str, but it is the socket's (host, port, ...) tuple
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer)


def _reply_text(status: str | bytes) -> str:
    return status.decode("utf-8", "replace") if isinstance(status, bytes) else status


class _Session(Session):
    """aiosmtpd's session without the deprecation warning it logs on every successful AUTH."""

    @property
    def login_data(self) -> Any:
        """The login of a successful AUTH (aiosmtpd still sets it)."""
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class _CameraSMTP(SMTP):
    """aiosmtpd's SMTP protocol with the leniency and counters cameras need."""

    # The de-facto LOGIN prompts (aiosmtpd sends "User Name\0"); old firmware may look for them.
    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"

    def __init__(self, owner: AlertMailServer, **kwargs: Any) -> None:
        self._owner = owner
        # aiosmtpd keeps these on the class: shared by all sessions, cleared by each new one
        # and grown by every EHLO. Per session instead.
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        # Reolink sends base64 unwrapped: a line may be as long as the mail may be.
        self.line_length_limit = max(MIN_LINE_LIMIT, owner.config.max_bytes)
        # Bytes received since our last reply. aiosmtpd keeps every piece of an endless data
        # line in memory until its end; this bounds what a client can make us hold.
        self._unanswered = 0
        self._unanswered_limit = 2 * self.line_length_limit + UNANSWERED_SLACK
        super().__init__(owner.handler, **kwargs)

    @override
    def _create_session(self) -> Session:
        return _Session(self.loop)

    @override
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Register the session (the second call, after STARTTLS, is the same session)."""
        first = self._original_transport is None
        super().connection_made(transport)
        if first and self._handler_coroutine is not None:
            self._owner.session_started(self._handler_coroutine)

    @override
    def data_received(self, data: bytes) -> None:
        """Any byte restarts the idle timeout (also within DATA); a flood closes the session."""
        self._unanswered += len(data)
        if self._unanswered > self._unanswered_limit:
            session = self.session
            assert session is not None
            assert self.transport is not None
            self._owner.reject(
                RejectReason.TOO_LARGE, _peer_ip(session), f"{self._unanswered} bytes unanswered"
            )
            self.transport.close()
            return
        self._reset_timeout()
        super().data_received(data)

    @override
    async def smtp_HELO(self, hostname: str | None) -> None:
        """HELO without a name still greets (firmware is not validated)."""
        await super().smtp_HELO(hostname or "unknown")

    @override
    async def smtp_EHLO(self, hostname: str | None) -> None:
        """EHLO without a name still greets."""
        await super().smtp_EHLO(hostname or "unknown")

    @override
    async def smtp_AUTH(self, arg: str) -> None:
        """AUTH after plain HELO too: cameras fall back to HELO and still send AUTH LOGIN."""
        session = self.session
        if session is None or not session.host_name or session.extended_smtp:
            await super().smtp_AUTH(arg)
            return
        session.extended_smtp = True
        try:
            await super().smtp_AUTH(arg)
        finally:
            session.extended_smtp = False

    @override
    async def check_auth_needed(self, caller_method: str) -> bool:
        """530 until AUTH when credentials are set; counted once per MAIL."""
        session = self.session
        assert session is not None
        if not self._owner.config.auth_required or session.authenticated:
            return False
        if caller_method == "MAIL":
            self._owner.reject(RejectReason.AUTH_REQUIRED, _peer_ip(session), "MAIL before AUTH")
        await self.push("530 5.7.0 Authentication required")
        return True

    @override
    async def push(self, status: AnyStr) -> None:
        """Send a reply; count the rejections aiosmtpd answers by itself."""
        self._unanswered = 0
        text = _reply_text(status)
        session = self.session
        assert session is not None  # made in connection_made, before the greeting
        if text.startswith(("552", "500 Line too long")):
            self._owner.reject(RejectReason.TOO_LARGE, _peer_ip(session), text)
        elif text.startswith("538"):
            self._owner.reject(RejectReason.AUTH_NEEDS_TLS, _peer_ip(session), text)
        await super().push(status)


class _Handler:
    """aiosmtpd's handler hooks; the server does the work."""

    def __init__(self, owner: AlertMailServer) -> None:
        self._owner = owner

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        """Advertise PIPELINING: aiosmtpd reads and answers commands strictly in order."""
        del server, envelope
        session.host_name = hostname  # this hook's job once it exists
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        """Rate-limit per peer IP before anything is received."""
        del server
        if not self._owner.limiter.allow(_peer_ip(session)):
            self._owner.reject(RejectReason.RATE_LIMITED, _peer_ip(session), f"from {address!r}")
            return "451 4.7.1 Too many mails from this address, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Only camera addresses: nothing else is delivered, so nothing is relayed."""
        del server
        if not self._owner.router.accepts(address):
            self._owner.reject(RejectReason.UNKNOWN_RECIPIENT, _peer_ip(session), f"to {address!r}")
            # The address is not echoed: it may hold bytes that are not UTF-8 (surrogates).
            return "550 5.1.1 No camera receives mail at this address"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Parse and deliver in a task of its own that a dropped connection does not cancel."""
        del server
        raw = envelope.original_content
        if raw is None:  # pragma: no cover - aiosmtpd sets it before calling this hook
            raw = envelope.content if isinstance(envelope.content, bytes) else b""
        task = self._owner.receive(session, tuple(envelope.rcpt_tos), raw)
        return await asyncio.shield(task)


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
