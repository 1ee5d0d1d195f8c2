"""Stream URLs: put a camera's credentials into its URL, and reject URLs we cannot read.

Cameras are configured with a URL and separate username/password fields, because passwords
often contain characters (``@ : / %``) that break a URL unless percent-encoded. FFmpeg reads
RTSP and HTTP credentials only from the URL's user info, so they are encoded into it here.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit, urlunsplit

# In the order error messages name them.
STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")
HTTP_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}


def with_credentials(url: str, username: str, password: str) -> str:
    """Return ``url`` with ``username`` and ``password`` percent-encoded into its user info.

    Credentials given here replace any the URL already carries. An empty ``username`` leaves
    the URL as it is (its own credentials, if any, still apply); an empty ``password`` gives
    ``user@host``.
    """
    if not username:
        return url
    parts = urlsplit(url)
    host = _host_port(parts.netloc)
    userinfo = quote(username, safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def split_credentials(url: str) -> tuple[str, str, str]:
    """Split ``url`` into the URL without user info, the username and the password (decoded).

    ``with_credentials(*split_credentials(url)) == url`` up to percent-encoding.
    """
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url, "", ""
    username, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=host)), unquote(username), unquote(password)


def validate_stream_url(url: str, *, schemes: tuple[str, ...] = STREAM_SCHEMES) -> None:
    """Raise ValueError with a short reason unless ``url`` has one of ``schemes`` and a host.

    The default allows rtsp, rtsps, http and https; HTTP_SCHEMES suits a snapshot URL.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises ValueError for a port that is not a number or out of range
    except ValueError as err:
        raise ValueError(f"not a valid URL: {err}") from err
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        allowed = " or ".join(filter(None, (", ".join(schemes[:-1]), schemes[-1])))
        shown = f"'{scheme}'" if scheme else "none"
        raise ValueError(f"the scheme must be {allowed} (got {shown})")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if port == 0:
        raise ValueError("port 0 is not a valid port")


def stream_identity(url: str) -> str:
    """What makes two URLs the same stream: no credentials, case-insensitive scheme and host.

    A default port is made explicit, so ``rtsp://cam/s`` and ``rtsp://user:pw@CAM:554/s`` match.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # not a valid URL: compare it as it is
        return url.strip()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _host_port(netloc: str) -> str:
    """The host and port part of a netloc, without any user info."""
    # rpartition: an unencoded '@' in a password belongs to the user info, not the host.
    return netloc.rpartition("@")[2]
