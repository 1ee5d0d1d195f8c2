"""ONVIF failures classified into kinds a user can act on, with no credentials in them."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from zeep.exceptions import TransportError

from custom_components.lookback.core.alerts.onvif_connection import OnvifConfig
from custom_components.lookback.core.alerts.onvif_errors import OnvifErrorKind, to_onvif_error

USER = "admin"
PASSWORD = "s3cret-Pa55"


_TRANSPORT_ERROR: Any = TransportError  # zeep's constructor is not annotated


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (TimeoutError(), OnvifErrorKind.TIMEOUT),
        (_TRANSPORT_ERROR("x", status_code=401), OnvifErrorKind.AUTH_FAILED),
        (_TRANSPORT_ERROR("x", status_code=404), OnvifErrorKind.UNKNOWN),
        (aiohttp.ClientConnectionError("reset"), OnvifErrorKind.UNREACHABLE),
        (ConnectionRefusedError(), OnvifErrorKind.UNREACHABLE),
        (ValueError(f"odd answer for {USER}:{PASSWORD}"), OnvifErrorKind.UNKNOWN),
    ],
)
def test_error_kinds_and_redaction(error: Exception, kind: OnvifErrorKind) -> None:
    config = OnvifConfig("cam.local", 8000, USER, PASSWORD)
    converted = to_onvif_error(error, config)
    assert converted.kind is kind
    assert str(converted).startswith("ONVIF cam.local:8000: ")
    assert PASSWORD not in str(converted)
    assert USER not in str(converted)
    assert to_onvif_error(converted, config) is converted
    assert PASSWORD not in repr(config)
