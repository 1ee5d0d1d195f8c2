"""Credential redaction and error classification."""

from __future__ import annotations

import av.error
import pytest

from custom_components.lookback.core.errors import (
    SourceError,
    SourceErrorKind,
    classify_error,
    redact,
    redact_url,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "rtsp://admin:s3cret@10.0.0.5:554/Streaming/101",
            "rtsp://***:***@10.0.0.5:554/Streaming/101",
        ),
        ("rtsp://admin@cam/x", "rtsp://***:***@cam/x"),
        ("rtsp://cam/x", "rtsp://cam/x"),
        ("http://cam/snap.jpg?user=admin&pwd=s3cret", "http://cam/snap.jpg?user=***&pwd=***"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_hides_userinfo_query_and_given_secrets() -> None:
    text = "Server returned 401 for rtsp://admin:pa@ss@cam:554/x?password=zz (pa@ss)"
    out = redact(text, "pa@ss")
    assert "pa@ss" not in out
    assert "zz" not in out
    assert "admin" not in out


@pytest.mark.parametrize(
    ("err", "kind"),
    [
        (av.error.HTTPUnauthorizedError(-1, "401"), SourceErrorKind.AUTH_FAILED),
        (av.error.HTTPNotFoundError(-1, "404"), SourceErrorKind.NOT_FOUND),
        (av.error.ExitError(-1, "exit"), SourceErrorKind.TIMEOUT),
        (av.error.ConnectionRefusedError(111, "refused"), SourceErrorKind.UNREACHABLE),
        (OSError("no route"), SourceErrorKind.UNREACHABLE),
        (av.error.InvalidDataError(-1, "invalid"), SourceErrorKind.NOT_VIDEO),
        (av.error.EOFError(-1, "eof"), SourceErrorKind.ENDED),
        (RuntimeError("odd"), SourceErrorKind.UNKNOWN),
    ],
)
def test_classify(err: BaseException, kind: SourceErrorKind) -> None:
    assert classify_error(err, "rtsp://u:p@h/x").kind is kind


def test_classified_message_is_redacted_and_source_errors_pass_through() -> None:
    err = classify_error(OSError("cannot reach rtsp://u:topsecret@h/x"), "rtsp://u:topsecret@h/x")
    assert "topsecret" not in str(err)
    same = SourceError(SourceErrorKind.NOT_VIDEO, "no video")
    assert classify_error(same, "x") is same
    assert str(same) == "not_video: no video"
