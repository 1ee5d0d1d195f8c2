"""aiosmtpd's SMTP protocol made lenient for camera firmware, and fixed for aiosmtpd 1.4.6.

One protocol instance per connection. Besides the leniency (a missing HELO name, AUTH after
plain HELO, the de-facto LOGIN prompts, lines as long as the mail, an idle timeout restarted
by every byte) it keeps per session what aiosmtpd shares between sessions (command size
limits), bounds what a client can make it hold, and counts the refusals aiosmtpd answers by
itself on the server (``AlertMailServer.reject``).
"""

from __future__ import annotations

import asyncio
import collections
from typing import TYPE_CHECKING, Any, AnyStr, override

from aiosmtpd.smtp import SMTP, Session

from .smtp_types import RejectReason

if TYPE_CHECKING:
    from .smtp import AlertMailServer

MIN_LINE_LIMIT = 1001  # RFC 5321: 998 octets, CRLF and a transparency dot
UNANSWERED_SLACK = 64 * 1024  # commands and dot-stuffing beyond twice the line limit


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
