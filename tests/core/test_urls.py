"""Stream URLs: credentials encoded into the user info, validation, duplicate identity."""

import re
from urllib.parse import unquote, urlsplit

import pytest

from custom_components.lookback.core.urls import (
    HTTP_SCHEMES,
    split_credentials,
    stream_identity,
    validate_stream_url,
    with_credentials,
)


@pytest.mark.parametrize(
    ("url", "username", "password", "expected"),
    [
        ("rtsp://cam.lan:554/s1", "admin", "secret", "rtsp://admin:secret@cam.lan:554/s1"),
        ("rtsps://cam.lan/s1", "admin", "secret", "rtsps://admin:secret@cam.lan/s1"),
        (
            "http://10.0.0.2/cgi?ch=1&sub=0",
            "admin",
            "pw",
            "http://admin:pw@10.0.0.2/cgi?ch=1&sub=0",
        ),
        ("https://cam.lan/x.jpg", "admin", "pw", "https://admin:pw@cam.lan/x.jpg"),
        # Fields win over credentials already in the URL.
        ("rtsp://old:oldpw@cam.lan/s1", "new", "newpw", "rtsp://new:newpw@cam.lan/s1"),
        # An unencoded '@' in the URL's own password belongs to the user info, not the host.
        ("rtsp://old:p@ss@cam.lan/s1", "new", "newpw", "rtsp://new:newpw@cam.lan/s1"),
        # A user without a password.
        ("rtsp://cam.lan/s1", "viewer", "", "rtsp://viewer@cam.lan/s1"),
        # No user: the URL as it is, with whatever credentials it carries.
        ("rtsp://cam.lan/s1", "", "ignored", "rtsp://cam.lan/s1"),
        ("rtsp://u:p@cam.lan/s1", "", "", "rtsp://u:p@cam.lan/s1"),
        ("rtsp://[fe80::1]:8554/s1", "admin", "pw", "rtsp://admin:pw@[fe80::1]:8554/s1"),
    ],
)
def test_with_credentials(url: str, username: str, password: str, expected: str) -> None:
    assert with_credentials(url, username, password) == expected


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("admin", "p@ss:w/rd%41?#&="),
        ("dom\\user name", "ä ö ü €"),
        ("user@site", "100%"),
    ],
)
def test_special_characters_are_percent_encoded(username: str, password: str) -> None:
    url = with_credentials("rtsp://cam.lan:8554/live/ch0?x=1", username, password)
    parts = urlsplit(url)
    # The host, path and query are intact: no character of the secret leaked out of userinfo.
    assert (parts.hostname, parts.port, parts.path, parts.query) == (
        "cam.lan",
        8554,
        "/live/ch0",
        "x=1",
    )
    assert parts.username is not None
    assert parts.password is not None
    assert unquote(parts.username) == username
    assert unquote(parts.password) == password
    assert "@" not in parts.password
    assert "/" not in parts.password


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://cam.lan/s1",
        "RTSP://CAM.lan:554/s1",
        "rtsps://10.0.0.2:322/s1",
        "http://cam.lan/mjpeg",
        "https://user:pw@cam.lan/stream.m3u8",
        "rtsp://[fe80::1]:8554/s1",
        "  rtsp://cam.lan/s1  ",
    ],
)
def test_valid_stream_urls(url: str) -> None:
    validate_stream_url(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "scheme must be rtsp, rtsps, http or https (got none)"),
        ("cam.lan/s1", "(got none)"),
        ("ftp://cam.lan/s1", "(got 'ftp')"),
        ("file:///tmp/clip.mp4", "(got 'file')"),
        ("rtmp://cam.lan/live", "(got 'rtmp')"),
        ("rtsp://", "no host"),
        ("rtsp:///s1", "no host"),
        ("http://user:pw@/s1", "no host"),
        ("rtsp://cam.lan:99999/s1", "not a valid URL"),
        ("rtsp://cam.lan:abc/s1", "not a valid URL"),
        ("rtsp://cam.lan:0/s1", "port 0"),
        ("rtsp://[fe80::1/s1", "not a valid URL"),
    ],
)
def test_invalid_stream_urls(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        validate_stream_url(url)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://cam.lan/snap.jpg", None),
        ("HTTPS://cam.lan/snap.jpg", None),
        ("rtsp://cam.lan/s1", "the scheme must be http or https (got 'rtsp')"),
        ("https:///snap.jpg", "no host"),
    ],
)
def test_validate_with_other_schemes(url: str, error: str | None) -> None:
    if error is None:
        validate_stream_url(url, schemes=HTTP_SCHEMES)
    else:
        with pytest.raises(ValueError, match=re.escape(error)):
            validate_stream_url(url, schemes=HTTP_SCHEMES)
    with pytest.raises(ValueError, match=re.escape("must be rtsp (got 'http')")):
        validate_stream_url("http://cam.lan/", schemes=("rtsp",))


def test_stream_identity_ignores_credentials_case_and_default_port() -> None:
    same = [
        "rtsp://cam.lan/s1",
        "rtsp://admin:pw@cam.lan/s1",
        "RTSP://CAM.LAN:554/s1",
        " rtsp://cam.lan:554/s1#frag",
    ]
    assert len({stream_identity(url) for url in same}) == 1
    different = [
        "rtsp://cam.lan/s1",
        "rtsp://cam.lan/S1",  # paths are case-sensitive
        "rtsp://cam.lan:8554/s1",
        "rtsps://cam.lan/s1",
        "rtsp://cam.lan/s1?channel=2",
        "rtsp://cam2.lan/s1",
    ]
    assert len({stream_identity(url) for url in different}) == len(different)
    assert stream_identity("http://cam.lan") == stream_identity("http://cam.lan:80/")
    assert stream_identity("rtsp://[FE80::1]/s") == "rtsp://[fe80::1]:554/s"
    assert stream_identity("rtsp://cam:bad/s") == "rtsp://cam:bad/s"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://cam.lan/s1", ("rtsp://cam.lan/s1", "", "")),
        ("rtsp://admin:pw@cam.lan:554/s1", ("rtsp://cam.lan:554/s1", "admin", "pw")),
        ("rtsp://admin@cam.lan/s1", ("rtsp://cam.lan/s1", "admin", "")),
        ("rtsp://a%40b:p%3Aw%2F@cam.lan/s1?x=1", ("rtsp://cam.lan/s1?x=1", "a@b", "p:w/")),
        ("rtsp://admin:p@ss:x@cam.lan/s1", ("rtsp://cam.lan/s1", "admin", "p@ss:x")),
        ("http://u:p@[fe80::1]:8080/", ("http://[fe80::1]:8080/", "u", "p")),
    ],
)
def test_split_credentials(url: str, expected: tuple[str, str, str]) -> None:
    assert split_credentials(url) == expected


def test_split_and_with_credentials_round_trip() -> None:
    url = with_credentials("rtsp://cam.lan/s1", "ad:min", "p@ss/%w")
    assert split_credentials(url) == ("rtsp://cam.lan/s1", "ad:min", "p@ss/%w")
