"""One received alert mail as a MailAlert: subject, sender, body text, images, and its meaning.

The SMTP server hands every accepted mail to ``parse_mail`` (in an executor thread). Camera
mail is often malformed (8-bit gb2312 bodies without a declaration, base64 bodies in one
unwrapped line, NUL bytes, wrong charsets) and the port may be reachable by anyone, so the
parser never raises and its work is bounded for any input: the stdlib parser is fed at most
``MAX_MAIL_BYTES`` and a line and part budget, header values are cut before the (slow) modern
header parser sees them, and only JPEG and PNG images within ``MAX_IMAGE_PIXELS`` are kept,
read as far as their header and never decoded.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from functools import lru_cache
import html
import io
import logging
import re
from typing import Any, Final

from PIL import Image

from .mail_vendors import MailKind, read_alert

__all__ = [
    "MAX_IMAGES",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "TEXT_LIMIT",
    "MailAlert",
    "MailImage",
    "MailKind",
    "parse_mail",
]

_LOGGER = logging.getLogger(__name__)

TEXT_LIMIT: Final = 2000
"""Chars of body text kept in ``MailAlert.text``."""
SUBJECT_LIMIT: Final = 500
SENDER_LIMIT: Final = 320
MAX_MAIL_BYTES: Final = 32 * 1024 * 1024
"""Bytes of a mail read; the rest is ignored (the SMTP server refuses larger mail anyway)."""
MAX_IMAGES: Final = 10
MAX_IMAGE_BYTES: Final = 8 * 1024 * 1024
MAX_IMAGE_PIXELS: Final = 40_000_000
"""Bigger images are skipped: no camera snapshot is over 40 MP; a decompression bomb is."""
MAX_DEPTH: Final = 16
"""Multipart levels walked (camera mail has two)."""
MAX_PARTS: Final = 200
"""MIME parts walked."""
MAX_HEADER_CHARS: Final = 2048
"""Chars of a header value parsed: the modern header parser is quadratic on some input
(a 1 MB subject of short words takes 20 s)."""
MAX_TEXT_BYTES: Final = 64 * 1024
"""Bytes of each text part decoded, and chars of body text read for its meaning."""

# The feed parser checks each line against every open multipart boundary and builds an object
# per part: cap lines x boundaries and the number of part delimiters before it starts.
_LINE_BUDGET = 4_000_000
_MAX_DELIMITERS = 1000

_MAX_ENCODED = MAX_IMAGE_BYTES * 4 // 3 + MAX_IMAGE_BYTES // 16  # base64 with line breaks
# Pillow reads a JPEG's header marker by marker in Python: 2 s for 8 MB of tiny junk markers.
# Show it the first 128 KiB (a camera's EXIF and SOF fit easily) and at most 20 images a mail.
_MAX_IMAGE_TRIES = 2 * MAX_IMAGES
_JPEG_HEADER_BYTES = 128 * 1024
# Pillow's PNG header reader inflates zTXt, iTXt and iCCP chunks (up to 64 MB) on the way to
# the first IDAT. The size is in IHDR, which the PNG spec puts first: Pillow gets the signature
# and IHDR (with its CRC), then an IEND.
_PNG_HEADER_BYTES = 33
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_FORMATS: Final = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png")}
# MIME structure headers stay plain strings: Message's own (fast) parameter parsing reads
# them, and the modern parser would parse them again on every access.
_STRUCTURE_HEADERS: Final = frozenset(
    {"content-type", "content-disposition", "content-transfer-encoding"}
)
_GB_CODECS: Final = frozenset({"gb2312", "gbk", "gb18030"})
# Text codecs that are no mail charsets and are slow (quadratic) on hostile input.
_REFUSED_CODECS: Final = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape"})

_LINESEP_RE = re.compile(r"\r\n|\r|\n")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff]")
_HEADER_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BLANK_LINES_RE = re.compile(r"\n{3,}")
_BLOCK_OPEN_RE = re.compile(r"<(style|script)\b")
_BREAK_TAG_RE = re.compile(r"<\s*/?(?:br|p|div|tr|li|h[1-6]|table)\b[^<>]*>", re.IGNORECASE)
_TAG_RE = re.compile(r"<[^<>]*>")
_UNSAFE_NAME_RE = re.compile(r"[^\w.-]+")


@dataclass(frozen=True, slots=True)
class MailImage:
    """A JPEG or PNG attached to a mail, checked to be one by its bytes and header."""

    filename: str
    """Sanitized base name with the extension of the real type (never a path)."""
    content_type: str
    """``image/jpeg`` or ``image/png`` by magic bytes, not by what the mail declared."""
    data: bytes
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class MailAlert:
    """What one alert mail says and carries."""

    subject: str
    """RFC 2047 decoded, whitespace collapsed, one line, trimmed."""
    sender: str
    """The From address (its display text if it has no address); "" if none."""
    text: str
    """Body text: HTML tags stripped (``<br>`` is a newline), controls removed, at most
    ``TEXT_LIMIT`` chars."""
    kind: MailKind
    vendor: str | None
    """``hikvision``, ``dahua``, ``reolink``, ``amcrest``, ``foscam``, ``axis`` or None."""
    event_type: str | None
    """snake_case: ``motion``, ``line_crossing``, ``intrusion``, ``tamper``, ``person``, ..."""
    channel: int | None
    """DVR channel number, if the text carries one."""
    channel_name: str | None
    """Camera name the text names (Hikvision ``CAMERA NAME(NUM): Garage(1)`` -> Garage)."""
    images: tuple[MailImage, ...]
    skipped_attachments: int
    """Attachments dropped: not JPEG/PNG, over the image cap, too many pixels, broken."""


class _BoundedPolicy(EmailPolicy):
    """``email.policy.default`` with header values bounded and 8-bit header bytes decoded.

    Cameras put raw gb2312 or UTF-8 bytes into headers; the default policy would turn them
    into U+FFFD, so they are decoded here (UTF-8, then GB18030, then Latin-1) first.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        """Parse one header value on access, never more than ``MAX_HEADER_CHARS`` of it."""
        value = "".join(_LINESEP_RE.split(value[:MAX_HEADER_CHARS]))
        if name.lower() in _STRUCTURE_HEADERS:
            return value
        if _SURROGATE_RE.search(value):
            value = _decode_text(value.encode("utf-8", "surrogateescape"), None)
        try:
            return super().header_fetch_parse(name, value)
        except Exception:  # noqa: BLE001 - it raises RecursionError, ValueError, ... on junk
            # Read as unstructured text: encoded words decoded, nothing else.
            return str(super().header_fetch_parse("x-unstructured", value))


_PARSER: Final = BytesParser(policy=_BoundedPolicy())


def parse_mail(raw: bytes) -> MailAlert:
    """Read one received mail (its bytes as sent after DATA). Never raises for any input."""
    try:
        return _read_mail(_bounded(raw))
    except Exception:  # a mail must never break the SMTP server; it still alarms
        _LOGGER.exception("Could not read an alert mail; treating it as an alarm")
        return MailAlert("", "", "", MailKind.ALARM, None, None, None, None, (), 0)


def _bounded(raw: bytes) -> bytes:
    """Cut ``raw`` to what the stdlib parser reads in well under a second.

    Camera mail (a few thousand lines, two or three parts) is never cut; a hostile mail of
    millions of short lines inside hundreds of nested multiparts is, at a line boundary.
    """
    raw = bytes(raw[:MAX_MAIL_BYTES])
    boundaries = min(raw.lower().count(b"boundary"), 1000)
    cut = min(
        _end_of_nth(raw, b"\n--", _MAX_DELIMITERS),
        _end_of_nth(raw, b"\n", _LINE_BUDGET // (boundaries + 4)),
    )
    return raw[:cut]


def _end_of_nth(data: bytes, needle: bytes, count: int) -> int:
    """The offset just past the ``count``-th ``needle`` in ``data``, or its length."""
    if data.count(needle) <= count:
        return len(data)
    end = 0
    for _ in range(count):
        end = data.find(needle, end) + len(needle)
    return end


def _read_mail(raw: bytes) -> MailAlert:
    """``parse_mail`` without its safety net (the fuzz test calls this to see real errors)."""
    try:
        msg = _PARSER.parsebytes(raw)
    except RecursionError:  # nesting deeper than the interpreter's stack: keep the headers
        msg = _PARSER.parsebytes(raw, headersonly=True)
    subject = _one_line(_header(msg, "subject"), SUBJECT_LIMIT)
    sender = _sender(msg)
    plain: list[str] = []
    markup: list[str] = []
    images: list[MailImage] = []
    tries = 0  # images shown to Pillow
    skipped = 0
    for part in _leaves(msg):
        maintype = part.get_content_maintype()
        if maintype == "multipart":  # a multipart without a boundary: nothing usable
            continue
        is_text = maintype == "text" and part.get_content_disposition() != "attachment"
        full = len(images) >= MAX_IMAGES or tries >= _MAX_IMAGE_TRIES
        if not is_text and (full or _encoded_size(part) > _MAX_ENCODED):
            skipped += 1
            continue
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        fmt = (
            "JPEG" if data.startswith(_JPEG_MAGIC) else "PNG" if data.startswith(_PNG_MAGIC) else ""
        )
        if fmt:
            image = None if full else _image(data, fmt, part, len(images))
            tries += 1
            if image is None:
                skipped += 1
            else:
                images.append(image)
        elif is_text:
            text = _decode_text(
                data[:MAX_TEXT_BYTES], part.get_content_charset(), final=len(data) <= MAX_TEXT_BYTES
            )
            (markup if part.get_content_subtype() == "html" else plain).append(text)
        else:
            skipped += 1
    body = _clean_text("\n".join(plain)[:MAX_TEXT_BYTES])
    if not body and markup:
        body = _clean_text(_html_text("\n".join(markup)[: 4 * MAX_TEXT_BYTES])[:MAX_TEXT_BYTES])
    reading = read_alert(
        subject=subject,
        sender=sender,
        mailer=_one_line(_header(msg, "x-mailer"), 200),
        boundary=msg.get_boundary(),
        text=body,
    )
    return MailAlert(
        subject=subject,
        sender=sender,
        text=body[:TEXT_LIMIT].rstrip(),
        kind=reading.kind,
        vendor=reading.vendor,
        event_type=reading.event_type,
        channel=reading.channel,
        channel_name=reading.channel_name,
        images=tuple(images),
        skipped_attachments=skipped,
    )


def _leaves(msg: Message) -> Iterator[Message]:
    """The non-multipart parts in document order, at most ``MAX_PARTS`` and ``MAX_DEPTH`` deep.

    Iterative, so a deeply nested mail cannot exhaust the stack here.
    """
    stack: list[tuple[Message, int]] = [(msg, 0)]
    walked = 0
    while stack and walked < MAX_PARTS:
        part, depth = stack.pop()
        walked += 1
        if not part.is_multipart():
            yield part
        elif depth < MAX_DEPTH:
            children = part.get_payload()
            assert isinstance(children, list)  # is_multipart() means a list of parts
            # Typeshed types the list's items loosely (str too, in some environments).
            stack.extend(
                (child, depth + 1) for child in reversed(children) if isinstance(child, Message)
            )


def _encoded_size(part: Message) -> int:
    """Length of a part's payload as sent (before base64 or quoted-printable decoding)."""
    return len(part.get_payload())  # a leaf's payload is its text as sent


def _header(msg: Message, name: str) -> str:
    """A header's decoded text ("" if missing)."""
    value = msg.get(name)
    return "" if value is None else str(value)


def _sender(msg: Message) -> str:
    """The first From address with a domain, else the From header's text."""
    value = msg.get("from")
    if value is None:
        return ""
    for address in getattr(value, "addresses", ()):
        if address.domain:
            return _one_line(str(address.addr_spec), SENDER_LIMIT)
    return _one_line(str(value), SENDER_LIMIT).strip('<>" ')


def _one_line(text: str, limit: int) -> str:
    """Header text as one trimmed line: no CR/LF or other controls, whitespace collapsed."""
    text = _SURROGATE_RE.sub("\ufffd", _HEADER_CONTROL_RE.sub(" ", text[: 4 * limit]))
    return " ".join(text.split())[:limit].strip()


@lru_cache(maxsize=64)
def _codec(charset: str) -> str | None:
    """The Python codec for a declared charset, None if unknown or not a text charset."""
    try:
        name = codecs.lookup(charset).name
    except LookupError, ValueError:
        return None
    try:
        b"a".decode(name)  # LookupError for bytes-to-bytes codecs (zlib, ...); b"" is not checked
    except LookupError:
        return None
    except UnicodeError:  # a text codec that cannot decode "a" alone (utf-16)
        pass
    return None if name in _REFUSED_CODECS else name


def _decode_text(data: bytes, charset: str | None, *, final: bool = True) -> str:
    """Decode with the declared charset, then UTF-8, then GB18030, then Latin-1.

    Hikvision declares gb2312 even for UTF-8 text, and GB18030 accepts most UTF-8 byte
    pairs as Chinese, so under a GB declaration UTF-8 is tried first (GB text is rarely valid
    UTF-8). ``final=False``: ``data`` was cut, so a split last character is dropped.
    """
    declared = _codec(charset) if charset else None
    if declared in _GB_CODECS:
        candidates = ["utf-8", "gb18030"]
    else:
        candidates = [name for name in (declared, "utf-8", "gb18030") if name]
    for name in candidates:
        try:
            return codecs.getincrementaldecoder(name)().decode(data, final)
        except UnicodeError:
            continue
    return data.decode("latin-1")


def _html_text(markup: str) -> str:
    """Text of an HTML body: style and script dropped, block tags as newlines, entities decoded."""
    return html.unescape(_TAG_RE.sub("", _BREAK_TAG_RE.sub("\n", _drop_blocks(markup))))


def _drop_blocks(markup: str) -> str:
    """``markup`` without ``<style>`` and ``<script>`` elements (in one pass: no regex backtracking)."""
    lower = markup.lower()
    kept: list[str] = []
    pos = 0
    while match := _BLOCK_OPEN_RE.search(lower, pos):
        kept.append(markup[pos : match.start()])
        close = lower.find("</" + match.group(1), match.end())
        end = lower.find(">", close) if close >= 0 else -1
        if end < 0:
            return "".join(kept)
        pos = end + 1
    kept.append(markup[pos:])
    return "".join(kept)


def _clean_text(text: str) -> str:
    """Plain text with one kind of newline, no controls or NULs, spaces collapsed per line."""
    text = _SURROGATE_RE.sub("\ufffd", _CONTROL_RE.sub("", _LINESEP_RE.sub("\n", text)))
    text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
    return _BLANK_LINES_RE.sub("\n\n", text).strip()


def _image(data: bytes, fmt: str, part: Message, index: int) -> MailImage | None:
    """A MailImage if ``data`` is a JPEG or PNG Pillow can open within the caps, else None.

    Pillow reads only the header here (no ``load()``): a decompression bomb is refused by its
    size before a pixel is decoded.
    """
    if len(data) > MAX_IMAGE_BYTES:
        return None
    header = data[:_PNG_HEADER_BYTES] + _PNG_IEND if fmt == "PNG" else data[:_JPEG_HEADER_BYTES]
    try:
        with Image.open(io.BytesIO(header), formats=(fmt,)) as image:
            width, height = image.size
    except Exception:  # noqa: BLE001 - Pillow raises many types (OSError, SyntaxError, ...) on junk
        return None
    if width < 1 or height < 1 or width * height > MAX_IMAGE_PIXELS:
        return None
    content_type, extension = _FORMATS[fmt]
    return MailImage(
        _safe_filename(part.get_filename(), extension, index), content_type, data, width, height
    )


def _safe_filename(name: str | None, extension: str, index: int) -> str:
    """A base name of word characters, dots and dashes, ending in the image's real extension."""
    base = re.split(r"[\\/]", name or "")[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = _UNSAFE_NAME_RE.sub("_", stem).strip("._-")[:80]
    return f"{stem or f'image{index + 1}'}{extension}"
