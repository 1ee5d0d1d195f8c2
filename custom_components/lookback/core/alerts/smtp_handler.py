"""aiosmtpd's handler hooks for alert mail: the per-peer rate limit and the recipient checks.

EHLO advertises PIPELINING, MAIL is rate-limited per peer IP, RCPT accepts camera addresses
only (so nothing is ever relayed) and DATA hands the mail to the server in a task that a
dropped connection does not cancel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import time
from typing import TYPE_CHECKING

from aiosmtpd.smtp import SMTP, Envelope, Session

from .smtp_protocol import _peer_ip
from .smtp_types import RejectReason

if TYPE_CHECKING:
    from .smtp import AlertMailServer

_BUCKETS_PRUNE_AT = 1024  # peers remembered before full (idle) buckets are forgotten


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
