"""The alert mail server's public types: its settings, deliveries, counters and refusals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from .mail import MailAlert


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
