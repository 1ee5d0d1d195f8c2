"""DetectorError: why a model did not load or a detector could not answer, by kind.

The HA layer maps each kind to a translated message (config flow errors, repair issues), so the
kinds are part of the interface; the message is for logs and diagnostics.
"""

from __future__ import annotations

from enum import StrEnum


class DetectorErrorKind(StrEnum):
    """What went wrong."""

    MODEL_MISSING = "model_missing"  # no file at the path
    MODEL_CHECKSUM = "model_checksum"  # the bundled model's bytes are not the ones we ship
    MODEL_INVALID = "model_invalid"  # not a TFLite model the runtime can load
    MODEL_UNSUPPORTED = "model_unsupported"  # loads, but its inputs/outputs are not a detector's
    LABELS_INVALID = "labels_invalid"  # missing, unreadable or empty labels file
    RUNTIME_MISSING = "runtime_missing"  # ai-edge-litert is not installed
    UNREACHABLE = "unreachable"  # remote server: connection refused, DNS, reset
    TIMEOUT = "timeout"  # remote server: no answer in time
    UNAUTHORIZED = "unauthorized"  # remote server: 401/403
    HTTP_ERROR = "http_error"  # remote server: any other non-2xx status
    BAD_RESPONSE = "bad_response"  # remote server: not the detection API's JSON
    BACKING_OFF = "backing_off"  # remote server failed recently: not asked again yet


class DetectorError(Exception):
    """A detector could not load or answer."""

    def __init__(self, kind: DetectorErrorKind, message: str) -> None:
        """Keep the kind for the HA layer's translation and the message for logs."""
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        """The kind and the message, for logs."""
        return f"{self.kind}: {self.message}"
