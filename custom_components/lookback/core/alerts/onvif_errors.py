"""Why ONVIF events are unavailable: the failures of the SOAP layer, as kinds a user can act on.

``to_onvif_error`` classifies what onvif-zeep-async, zeep and aiohttp raise (``SOAP_ERRORS``)
into an ``OnvifError`` whose message names neither the password nor the user name.

HA-free: never import homeassistant here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Final

import aiohttp
from onvif.exceptions import ONVIFError
from onvif.util import is_auth_error, stringify_onvif_error
from zeep.exceptions import Error as ZeepError, Fault, TransportError

from ..errors import redact

if TYPE_CHECKING:  # onvif_connection imports this module
    from .onvif_connection import OnvifConfig

__all__ = ["SOAP_ERRORS", "OnvifError", "OnvifErrorKind", "to_onvif_error"]

# What the SOAP layer raises for a camera that fails: zeep's Fault, TransportError,
# XMLParseError..., the library's ONVIFError, aiohttp's connection errors, timeouts.
SOAP_ERRORS: Final = (ONVIFError, ZeepError, aiohttp.ClientError, TimeoutError, OSError)


class OnvifErrorKind(StrEnum):
    """Why ONVIF events are unavailable; values double as translation keys."""

    UNREACHABLE = "unreachable"
    AUTH_FAILED = "auth_failed"
    NO_EVENTS = "no_events"  # no event service, or no pull-point support
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"


class OnvifError(Exception):
    """An ONVIF failure with a kind a user can act on; the message names no credentials."""

    def __init__(self, kind: OnvifErrorKind, message: str) -> None:
        """Keep the kind; the message must already be redacted."""
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        """The redacted message."""
        return self.message


def _secrets(config: OnvifConfig) -> tuple[str | None, ...]:
    """What to hide in messages: the password, and the user name unless it is too short."""
    username = config.username if config.username and len(config.username) >= 3 else None
    return (config.password, username)


def to_onvif_error(err: BaseException, config: OnvifConfig) -> OnvifError:
    """Classify a failure of the SOAP layer; the message is redacted."""
    secrets = _secrets(config)
    if isinstance(err, OnvifError):
        message = redact(err.message, *secrets)
        return err if message == err.message else OnvifError(err.kind, message)
    if isinstance(err, TimeoutError):
        kind, text = OnvifErrorKind.TIMEOUT, "the camera did not answer in time"
    elif isinstance(err, Fault):
        kind = OnvifErrorKind.AUTH_FAILED if is_auth_error(err) else OnvifErrorKind.UNKNOWN
        text = f"SOAP fault: {stringify_onvif_error(err)}"
    elif isinstance(err, TransportError):
        kind = (
            OnvifErrorKind.AUTH_FAILED if err.status_code in (401, 403) else OnvifErrorKind.UNKNOWN
        )
        text = f"HTTP {err.status_code} from the camera"
    elif isinstance(err, aiohttp.ClientError | OSError):
        kind, text = OnvifErrorKind.UNREACHABLE, str(err) or type(err).__name__
    else:
        kind, text = OnvifErrorKind.UNKNOWN, f"{type(err).__name__}: {err}"
    where = f"{config.host}:{config.port}"
    return OnvifError(kind, redact(f"ONVIF {where}: {text}", *secrets))
