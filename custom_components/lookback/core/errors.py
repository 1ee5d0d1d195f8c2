"""Source errors a user can act on, and credential redaction for every message we emit."""

from __future__ import annotations

from enum import StrEnum
import re
from urllib.parse import urlsplit, urlunsplit

import av.error

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
_QUERY_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|user|username|token|auth)=([^&\s]+)")
REDACTED = "***"


def redact_url(url: str) -> str:
    """Return the URL with its user and password (and secret-looking query values) hidden."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return _QUERY_SECRET.sub(rf"\1={REDACTED}", url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{REDACTED}:{REDACTED}@{host}"
    return _QUERY_SECRET.sub(rf"\1={REDACTED}", urlunsplit(parts._replace(netloc=netloc)))


def redact(text: str, *secrets: str | None) -> str:
    """Hide credentials in any text: URL user info, secret query values and given secrets."""
    text = _USERINFO.sub(rf"\g<scheme>{REDACTED}:{REDACTED}@", text)
    text = _QUERY_SECRET.sub(rf"\1={REDACTED}", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


class SourceErrorKind(StrEnum):
    """Why a stream could not be read; values double as translation keys."""

    AUTH_FAILED = "auth_failed"
    NOT_FOUND = "not_found"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    NOT_VIDEO = "not_video"
    UNSUPPORTED_CODEC = "unsupported_codec"
    STALLED = "stalled"
    ENDED = "ended"
    UNKNOWN = "unknown"


class SourceError(Exception):
    """A stream failure with a kind a user can act on and a redacted message."""

    def __init__(self, kind: SourceErrorKind, message: str) -> None:
        """Keep the kind; the message must already be redacted."""
        super().__init__(message)
        self.kind = kind

    def __str__(self) -> str:
        """Say what kind of failure it was, then FFmpeg's words."""
        return f"{self.kind.value}: {self.args[0]}"


def classify_error(err: BaseException, url: str) -> SourceError:
    """Map an exception from PyAV or the OS to a SourceError with a redacted message."""
    if isinstance(err, SourceError):
        return err
    message = redact(str(err), urlsplit(url).password)
    kind = SourceErrorKind.UNKNOWN
    if isinstance(err, (av.error.HTTPUnauthorizedError, av.error.HTTPForbiddenError)):
        kind = SourceErrorKind.AUTH_FAILED
    elif isinstance(err, (av.error.HTTPNotFoundError, av.error.FileNotFoundError)):
        kind = SourceErrorKind.NOT_FOUND
    elif isinstance(err, (av.error.ExitError, av.error.TimeoutError, TimeoutError)):
        kind = SourceErrorKind.TIMEOUT
    elif isinstance(
        err,
        (
            av.error.ConnectionRefusedError,
            av.error.ConnectionResetError,
            av.error.ConnectionAbortedError,
            ConnectionError,
        ),
    ) or (isinstance(err, OSError) and not isinstance(err, av.error.FFmpegError)):
        kind = SourceErrorKind.UNREACHABLE
    elif isinstance(err, av.error.EOFError):
        kind = SourceErrorKind.ENDED
    elif isinstance(err, (av.error.InvalidDataError, av.error.DemuxerNotFoundError)):
        kind = SourceErrorKind.NOT_VIDEO
    return SourceError(kind, message)
