"""What the words of a camera's alert mail say: vendor, kind, event type, channel, camera name.

Firmware writes alert mail either as ``Key: value`` lines (Hikvision ``EVENT TYPE: Motion
Detection``, Dahua and Amcrest ``Alarm Event: Motion Detection``, Reolink ``Alarm Event:Person``
with no space after the colon) or as a sentence (Foscam ``... channel:2 detected motion alarm at
...``, Axis ``Motion detected``). ``read_alert`` knows these shapes. Anything else is an alarm of
unknown vendor and type: it still makes a clip, because a camera that mails means something
happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import re
from typing import Final


class MailKind(StrEnum):
    """What a mail asks of the recorder."""

    ALARM = "alarm"
    """Something happened: make a clip (also every mail we cannot classify)."""
    END = "end"
    """An alarm ended ("Motion Detection Stop", "... end"): may close an event, never opens one."""
    TEST = "test"
    """The camera's "test e-mail" button."""
    HEALTH = "health"
    """The device, not the scene: HDD error or full, health reports, video loss, network loss,
    illegal login. A clip could not show any of these."""


@dataclass(frozen=True, slots=True)
class Reading:
    """The meaning ``read_alert`` found in a mail's words."""

    kind: MailKind
    vendor: str | None
    event_type: str | None
    channel: int | None
    channel_name: str | None


HEALTH_EVENTS: Final = frozenset(
    {
        "hdd_full",
        "hdd_error",
        "health_report",
        "video_loss",
        "network_disconnected",
        "ip_conflict",
        "illegal_login",
    }
)

_MAX_LINES = 500  # field lines read from the top of the body
_MAX_VALUE = 200  # chars of a field value kept
_NAME_LIMIT = 100  # chars of a camera name kept
_SCAN = 4000  # chars of the body searched for brand names, test and health wording
_FREE_TEXT = 1000  # chars of the body searched for an event word when there is no event field

_I = re.IGNORECASE

# Event words, most specific first: "Smart Motion Human" is a person, "Video Loss" no tamper.
_EVENTS: Final = tuple(
    (event, re.compile(pattern, _I))
    for event, pattern in (
        (
            "hdd_full",
            (
                r"\b(?:hdd|disk|storage|sd(?:\s*card)?|hard\s*drive)\b[^\n]{0,12}\bfull\b"
                r"|\bfull\b[^\n]{0,12}\b(?:hdd|disk|storage)\b"
            ),
        ),
        (
            "hdd_error",
            (
                r"\b(?:hdd|disk|storage|sd(?:\s*card)?|hard\s*drive)\b[^\n]{0,12}"
                r"\b(?:error|fail\w*|exception|abnormal|unformatted|not\s*found)"
                r"|\bno\s*(?:hdd|disk|sd\s*card|storage)\b"
            ),
        ),
        ("health_report", r"health\s*report|status\s*report|periodic\s*report|heart\s*beat"),
        ("video_loss", r"video\s*(?:signal\s*)?(?:loss|lost)|signal\s*loss"),
        ("network_disconnected", r"\bnet(?:work)?\s*(?:disconnect\w*|abort\w*|down|fail\w*)"),
        ("ip_conflict", r"\bip\s*(?:address\s*)?conflict"),
        ("illegal_login", r"illegal\s*(?:login|access)|login\s*fail\w*|unauthori[sz]ed"),
        ("line_crossing", r"line\s*crossing|cross\s*line|trip\s*wire|virtual\s*line"),
        ("intrusion", r"intrusion|cross\s*region|perimeter"),
        ("region_entrance", r"region\s*entr|enter\w*\s*(?:the\s*)?(?:area|region)"),
        ("region_exiting", r"region\s*exit|exit\w*\s*(?:the\s*)?(?:area|region)"),
        ("loitering", r"loiter"),
        ("tamper", r"tamper|video\s*blind|blind\s*detect|video\s*mask|occlu"),
        ("defocus", r"defocus|out\s*of\s*focus"),
        ("scene_change", r"scene\s*chang"),
        ("face", r"\bfaces?\b"),
        ("person", r"\bpersons?\b|\bhumans?\b|\bpeople\b|pedestrian"),
        ("vehicle", r"vehicle|\bcars?\b"),
        ("animal", r"\bpets?\b|\banimals?\b|\bdogs?\b|\bcats?\b"),
        ("doorbell", r"door\s*bell|visitor|call\s*button"),
        ("pir", r"\bpir\b"),
        ("audio", r"audio|\bsound\b"),
        (
            "io_alarm",
            r"alarm\s*input|\bi/o\b|\bio\s*alarm|external\s*alarm|local\s*alarm|input\s*alarm",
        ),
        ("motion", r"motion|movement|\bmd\b"),
    )
)

_TEST_RE = re.compile(
    r"\btest(?:ing)?[\s_-]*(?:e[\s-]?mail|mail|message|msg|notification)s?\b"
    r"|\be[\s-]?mail[\s_-]*test\b|successfully\s+set\s*up\s+and\s+tested|\bthis\s+is\s+a\s+test\b",
    _I,
)
# "Motion Detection Stop", "Motion Detection end" (not "Alarm End Time").
_ENDED_RE = re.compile(
    r"\b(?:motion|detection|alarm|event|crossing|intrusion|tampering)[\s_-]+"
    r"(?:stop|stopped|end|ended|finished)\b(?![\s_-]*time)",
    _I,
)
_VALUE_ENDED_RE = re.compile(r"[\s_(-]*\b(?:stop|stopped|end|ended|finished)\W*$", _I)
_TEST_VALUE_RE = re.compile(r"\W*test\W*", _I)
_VALUE_STARTED_RE = re.compile(r"[\s_(-]*\b(?:start|started|begin)\W*$", _I)
_FILLER: Final = frozenset({"detection", "detected", "detect", "alarm", "event", "alert"})

# Brand names, in the order they are believed: an Amcrest (a Dahua OEM) mail naming both is
# Amcrest's. Axis is a common word, so only a model name (``AXIS M3106``) counts in the body.
_BRANDS: Final = (
    ("amcrest", re.compile(r"amcrest", _I), re.compile(r"amcrest", _I)),
    ("reolink", re.compile(r"reolink", _I), re.compile(r"reolink", _I)),
    ("hikvision", re.compile(r"hikvision|hik-?connect", _I), re.compile(r"hikvision", _I)),
    ("dahua", re.compile(r"dahua", _I), re.compile(r"dahua", _I)),
    ("foscam", re.compile(r"foscam", _I), re.compile(r"foscam", _I)),
    ("axis", re.compile(r"\baxis\b", _I), re.compile(r"\bAXIS\s+[A-Z]{1,2}\d{3,4}")),
)
_HIKVISION_TEXT_RE = re.compile(
    r"automatically\s+generated\s+e-?mail\s+from\s+your\s+(?:ipc|nvr|dvr|device)", _I
)
_HIKVISION_KEYS: Final = (
    "EVENTTIME",
    "IPCNAME",
    "IPCSN",
    "NVRNAME",
    "NVRSN",
    "DVRNAME",
    "DVRSN",
    "CAMERANAMENUM",
)
_REOLINK_TEXT_RE = re.compile(r"tested\s+the\s+e-?mail\s+alert|\bchannel\s+no\.:\S", _I)
_FOSCAM_TEXT_RE = re.compile(
    r"\b(?:nvr|ipc|ipcamera|camera)\s+alarm\s+mail\b|\bdetected\s+\w+(?:\s+\w+)?\s+alarm\s+at\b", _I
)

_EVENT_KEYS: Final = ("EVENTTYPE", "ALARMEVENT", "EVENT", "ALARMTYPE", "EVENTNAME")
_CHANNEL_KEYS: Final = (
    "ALARMINPUTCHANNELNO",
    "ALARMINPUTCHANNEL",
    "CHANNELNUMBER",
    "CHANNELNO",
    "CHANNEL",
    "ALARMCHANNEL",
    "CHANNELID",
)
_NAME_KEYS: Final = (
    "ALARMCAMERANAME",
    "CAMERANAME",
    "CHANNELNAME",
    "ALARMINPUTCHANNELNAME",
    "ALARMCHANNELNAME",
    "IPCNAME",
    # The device's own name: on a single camera that is the camera's name.
    "ALARMDEVICENAME",
    "DEVICENAME",
)
_NAME_NUM_RE = re.compile(r"^(.*?)\s*\(\s*[A-Za-z]{0,3}\s*(\d{1,4})\s*\)$")  # Garage(1), Cam(D1)
_NUMBER_RE = re.compile(r"\d{1,4}")
_FREE_CHANNEL_RE = re.compile(
    r"\b(?:channel|ch)\s*(?:no\.?|number|num|#)?\s*[:.#]?\s*(\d{1,4})\b", _I
)
# Reolink may put fields on one line: "Alarm Camera Name:Yard, Alarm Event:Person, ...".
_JOINED_RE = re.compile(r"[,;]\s*(?=(?:alarm|event|camera|channel)\b[^:,;\n]{0,40}:)", _I)
_KEY_JUNK_RE = re.compile(r"\s*\[[^\]]*\]|[\W_]+")


def read_alert(
    *, subject: str, sender: str, mailer: str, boundary: str | None, text: str
) -> Reading:
    """Read vendor, kind, event type, channel and camera name from a mail's decoded words.

    ``text`` is the body as plain text (tags stripped); ``mailer`` the X-Mailer header;
    ``boundary`` the top-level multipart boundary (Hikvision's is ``#BOUNDARY#``).
    """
    fields = parse_fields(text)
    words = f"{subject}\n{text[:_SCAN]}"
    vendor = _vendor(subject, sender, mailer, boundary, text[:_SCAN], fields)
    event_value = _first(fields, _EVENT_KEYS)
    event_type: str | None = None
    if event_value is not None:
        event_type, ended = _event_from_value(event_value)
    else:
        ended = _ENDED_RE.search(words) is not None
        if vendor is not None:  # a known sender's sentence: its words say what happened
            event_type = _event_word(f"{subject}\n{text[:_FREE_TEXT]}")

    if _TEST_RE.search(words) or event_type == "test":
        kind = MailKind.TEST
    elif event_type in HEALTH_EVENTS or (event_type is None and _is_health(words)):
        kind = MailKind.HEALTH
    elif ended:
        kind = MailKind.END
    else:
        kind = MailKind.ALARM
    channel, channel_name = _channel(fields, words)
    return Reading(kind, vendor, event_type, channel, channel_name)


def parse_fields(text: str) -> dict[str, str]:
    """``Key: value`` lines as {normalised key: value}; the first of a repeated key wins.

    Keys are upper case with everything but letters and digits removed, and bracketed parts
    dropped: ``Alarm Input Channel No.`` -> ``ALARMINPUTCHANNELNO``, ``CAMERA NAME(NUM)`` ->
    ``CAMERANAMENUM``. A full-width colon (Chinese firmware) counts as a colon.
    """
    fields: dict[str, str] = {}
    for line in text.split("\n", _MAX_LINES)[:_MAX_LINES]:
        for piece in _JOINED_RE.split(line):
            key, value = _split_field(piece)
            if key and key not in fields:
                fields[key] = value
    return fields


def event_type_of(value: str) -> str | None:
    """Normalise an event's name to snake_case: ``Line Crossing Detection`` -> ``line_crossing``.

    Known words map to the shared names (``motion``, ``person``, ``tamper``, ...); anything
    else becomes its own words without ``detection``/``alarm``: ``Unattended Baggage
    Detection`` -> ``unattended_baggage``.
    """
    found = _event_word(value)
    if found is not None:
        return found
    words = [word for word in re.findall(r"[a-z0-9]+", value.lower()) if word not in _FILLER]
    return "_".join(words)[:40].strip("_") or None


def _split_field(piece: str) -> tuple[str, str]:
    """One ``Key: value`` piece as (normalised key, value); ("", "") if it is not one."""
    colon = min((i for i in (piece.find(":"), piece.find("\uff1a")) if i >= 0), default=-1)
    if colon <= 0 or colon > 60:
        return "", ""
    key = _KEY_JUNK_RE.sub("", piece[:colon]).upper()
    return key, piece[colon + 1 :].strip()[:_MAX_VALUE]


def _first(fields: dict[str, str], keys: tuple[str, ...]) -> str | None:
    """The first non-empty value of ``keys``."""
    for key in keys:
        if fields.get(key):
            return fields[key]
    return None


def _event_from_value(value: str) -> tuple[str | None, bool]:
    """An event field's type and whether it says the event ended."""
    ended = _VALUE_ENDED_RE.search(value) is not None
    value = _VALUE_STARTED_RE.sub("", _VALUE_ENDED_RE.sub("", value))
    if _TEST_VALUE_RE.fullmatch(value):
        return "test", False
    return event_type_of(value), ended


def _event_word(text: str) -> str | None:
    """The first known event word in ``text`` (table order), or None."""
    for event, pattern in _EVENTS:
        if pattern.search(text):
            return event
    return None


def _is_health(words: str) -> bool:
    """Whether free text (no event field) speaks of the device's health."""
    return _event_word(words) in HEALTH_EVENTS


def _vendor(
    subject: str, sender: str, mailer: str, boundary: str | None, text: str, fields: dict[str, str]
) -> str | None:
    """The camera's vendor from its mailer, a brand name, or the shape of its text."""
    if re.search(r"hik", mailer, _I) or boundary == "#BOUNDARY#":
        return "hikvision"
    meta = f"{mailer}\n{sender}\n{subject}"
    for vendor, in_meta, in_text in _BRANDS:
        if in_meta.search(meta) or in_text.search(text):
            return vendor
    if _HIKVISION_TEXT_RE.search(text) or (
        "EVENTTYPE" in fields and any(key in fields for key in _HIKVISION_KEYS)
    ):
        return "hikvision"
    if "ALARMCAMERANAME" in fields or _REOLINK_TEXT_RE.search(text):
        return "reolink"
    if "ALARMEVENT" in fields:
        return "dahua"
    if _FOSCAM_TEXT_RE.search(text):
        return "foscam"
    return None


def _channel(fields: dict[str, str], words: str) -> tuple[int | None, str | None]:
    """The channel number and camera name the fields (or, for the number, the words) carry."""
    channel: int | None = None
    name: str | None = None
    name_num = fields.get("CAMERANAMENUM")
    if name_num:  # Hikvision NVR/DVR: "Garage(1)", "Camera 01(D1)"
        match = _NAME_NUM_RE.match(name_num)
        if match:
            name, channel = match.group(1), int(match.group(2))
        else:
            name = name_num
    if channel is None:
        number = _NUMBER_RE.search(_first(fields, _CHANNEL_KEYS) or "")
        if number:
            channel = int(number.group())
        else:  # "channel:2" in a sentence, "CH05" in a subject
            free = _FREE_CHANNEL_RE.search(words)
            channel = int(free.group(1)) if free else None
    if not name:
        name = _first(fields, _NAME_KEYS)
    name = " ".join(name.split())[:_NAME_LIMIT].strip() if name else None
    return channel, name or None
