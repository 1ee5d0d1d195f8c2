"""Alert mail parsing: each vendor's wording, MIME shapes cameras send, hostile mail, a fuzz."""

from __future__ import annotations

import base64
from email.message import EmailMessage
import io
import struct
import zipfile
import zlib

from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image, ImageFile, PngImagePlugin
import pytest

from custom_components.lookback.core.alerts import mail
from custom_components.lookback.core.alerts.mail import (
    MAX_IMAGE_BYTES,
    MAX_IMAGES,
    SUBJECT_LIMIT,
    TEXT_LIMIT,
    MailAlert,
    MailKind,
    parse_mail,
)
from custom_components.lookback.core.alerts.mail_vendors import event_type_of, parse_fields

CRLF = "\r\n"


def jpeg(width: int = 64, height: int = 48, shade: int = 90) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def png(width: int = 32, height: int = 24, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, "PNG")
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def b64_lines(data: bytes) -> str:
    return base64.encodebytes(data).decode().replace("\n", CRLF)


def raw_mail(headers: str, body: bytes | str) -> bytes:
    """Headers (CRLF added) and a body, as the camera sent them."""
    head = "".join(line + CRLF for line in headers.strip().splitlines())
    return head.encode() + CRLF.encode() + (body.encode() if isinstance(body, str) else body)


def attachment(data: bytes, filename: str, ctype: str = "image/jpeg") -> str:
    return (
        f'Content-Type: {ctype}; name="{filename}"{CRLF}'
        f"Content-Transfer-Encoding: base64{CRLF}"
        f'Content-Disposition: attachment; filename="{filename}"{CRLF}{CRLF}'
        f"{b64_lines(data)}"
    )


def multipart(parts: list[str | bytes], boundary: str = "b1") -> bytes:
    """A multipart body (not a whole mail) from already formatted parts."""
    delimiter = f"--{boundary}{CRLF}".encode()
    chunks = [delimiter + (p.encode() if isinstance(p, str) else p) + CRLF.encode() for p in parts]
    return b"".join(chunks) + f"--{boundary}--{CRLF}".encode()


def simple(body: str, subject: str = "Alarm", sender: str = "cam@lan") -> bytes:
    """A well-formed text/plain mail, as a camera with a proper mail library sends it."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["Subject"] = subject
    msg.set_content(body)
    return msg.as_bytes()


def check_invariants(alert: MailAlert) -> None:
    for value in (alert.subject, alert.sender):
        assert "\r" not in value
        assert "\n" not in value
        assert value == value.strip()
    assert len(alert.subject) <= SUBJECT_LIMIT
    assert len(alert.text) <= TEXT_LIMIT
    assert "\x00" not in alert.text
    assert len(alert.images) <= MAX_IMAGES
    assert alert.kind in MailKind
    assert alert.channel is None or 0 <= alert.channel <= 9999
    for text in (alert.subject, alert.sender, alert.text, alert.channel_name or ""):
        text.encode("utf-8")  # no lone surrogates
    for image in alert.images:
        assert image.content_type in {"image/jpeg", "image/png"}
        assert "/" not in image.filename
        assert "\\" not in image.filename
        assert not image.filename.startswith(".")
        assert image.width * image.height <= mail.MAX_IMAGE_PIXELS


# ------------------------------------------------------------------------------ vendor samples

HIK_NVR_BODY = (
    "This is an automatically generated e-mail from your NVR.\r\n\r\n"
    "EVENT TYPE:     Motion Detection\r\n"
    "EVENT TIME:     2024-06-25,09:31:36\r\n"
    "NVR NAME:       Embedded Net DVR\r\n"
    "NVR S/N:        DS-7608NI-K2/8P0820181117CCRRC12345678WCVU\r\n"
    "CAMERA NAME(NUM):  {name}({num})\r\n"
)


def hikvision_nvr(name: str = "Garage", num: str = "1", images: int = 3) -> bytes:
    """Hikvision: gb2312 8-bit text, boundary #BOUNDARY#, HIKMailer, no Date/Message-ID."""
    text = HIK_NVR_BODY.format(name=name, num=num).encode("gb2312")
    parts: list[str | bytes] = [
        b"Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + text
    ]
    parts += [attachment(jpeg(shade=90 + i), f"ch01_2024062509313{i}.jpg") for i in range(images)]
    headers = (
        "Subject: Embedded Net DVR: Motion Detection\n"
        "From: =?gb2312?B?xOO6w8rAvec=?= <nvr@cams.lan>\n"  # 你好世界
        "To: lookback@ha.lan\n"
        "X-Mailer: HIKMailer\n"
        "X-Priority: 2\n"
        "MIME-Version: 1.0\n"
        'Content-type: multipart/alternative; boundary="#BOUNDARY#"'
    )
    return raw_mail(headers, multipart(parts, "#BOUNDARY#"))


def test_hikvision_nvr_motion_with_three_snapshots() -> None:
    alert = parse_mail(hikvision_nvr())
    assert alert.vendor == "hikvision"
    assert alert.kind is MailKind.ALARM
    assert alert.event_type == "motion"
    assert (alert.channel, alert.channel_name) == (1, "Garage")
    assert alert.subject == "Embedded Net DVR: Motion Detection"
    assert alert.sender == "nvr@cams.lan"
    assert alert.text.startswith("This is an automatically generated e-mail from your NVR.\n\n")
    assert "EVENT TYPE: Motion Detection\nEVENT TIME: 2024-06-25,09:31:36" in alert.text
    assert [image.filename for image in alert.images] == [
        "ch01_20240625093130.jpg",
        "ch01_20240625093131.jpg",
        "ch01_20240625093132.jpg",
    ]
    assert {(i.content_type, i.width, i.height) for i in alert.images} == {("image/jpeg", 64, 48)}
    assert alert.images[0].data.startswith(b"\xff\xd8\xff")
    assert alert.skipped_attachments == 0


def test_hikvision_gb2312_camera_name_and_digital_channel() -> None:
    alert = parse_mail(hikvision_nvr(name="车库 前门", num="D12", images=0))
    assert (alert.channel, alert.channel_name) == (12, "车库 前门")
    assert "CAMERA NAME(NUM): 车库 前门(D12)" in alert.text


def test_hikvision_ipc_intrusion_from_its_fields_alone() -> None:
    """The IPC's own mail (no X-Mailer here): the wording alone says Hikvision."""
    body = (
        "This is an automatically generated e-mail from your IPC.\n\n"
        "EVENT TYPE: Intrusion Detection\nEVENT TIME: 2015-05-22,14:52:18\n"
        "IPC NAME: ORTO\nCHANNEL NAME: Orto\nCHANNEL NUMBER: 1\n"
        "IPC S/N: DS-2CD2032-I20150107CCCH497875383\n"
    )
    alert = parse_mail(simple(body, subject="ORTO: on Camera1: Intrusion Detection"))
    assert alert.vendor == "hikvision"
    assert (alert.kind, alert.event_type) == (MailKind.ALARM, "intrusion")
    assert (alert.channel, alert.channel_name) == (1, "Orto")


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ("Line Crossing Detection", "line_crossing"),
        ("Intrusion Detection", "intrusion"),
        ("Video Tampering", "tamper"),
        ("Region Entrance Detection", "region_entrance"),
        ("Unattended Baggage Detection", "unattended_baggage"),
    ],
)
def test_hikvision_event_types(event: str, expected: str) -> None:
    body = (
        f"EVENT TYPE: {event}\r\nEVENT TIME: 2024-01-01,00:00:00\r\nCAMERA NAME(NUM): Yard(A2)\r\n"
    )
    alert = parse_mail(raw_mail("X-Mailer: HIKMailer\nSubject: DVR", body))
    assert (alert.vendor, alert.kind, alert.event_type) == ("hikvision", MailKind.ALARM, expected)
    assert (alert.channel, alert.channel_name) == (2, "Yard")


def test_hikvision_html_body_with_br_lines() -> None:
    html_body = (
        "<html><head><style>p { color: red; }</style></head><body>"
        "EVENT TYPE: Line Crossing Detection<br>EVENT TIME: 2024-01-01,10:00:00<BR/>"
        "CAMERA NAME(NUM): Drive &amp; Gate(3)<br />"
        "<p>Snapshot&nbsp;attached</p></body></html>"
    )
    raw = raw_mail(
        'Subject: NVR alarm\nX-Mailer: HIKMailer\nContent-Type: text/html; charset="gb2312"',
        html_body,
    )
    alert = parse_mail(raw)
    assert alert.text == (
        "EVENT TYPE: Line Crossing Detection\nEVENT TIME: 2024-01-01,10:00:00\n"
        "CAMERA NAME(NUM): Drive & Gate(3)\n\nSnapshot attached"
    )
    assert (alert.event_type, alert.channel, alert.channel_name) == (
        "line_crossing",
        3,
        "Drive & Gate",
    )


DAHUA_TEXT = (
    "Alarm Event: Motion Detection\r\n"
    "Alarm Input Channel: 2\r\n"
    "Alarm Start Time(D/M/Y H:M:S): 25/06/2024 09:31:36\r\n"
    "Alarm Device Name: Gate\r\n"
    "Alarm Name: \r\n"
    "IP Address: 192.168.1.108\r\n"
)


def dahua(text: str = DAHUA_TEXT, subject: str = "IPC Message", sender: str = "IPC") -> bytes:
    """Dahua: the body is base64 of text with CRLF inside; the image is octet-stream."""
    body = multipart(
        [
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + b64_lines(text.encode()),
            attachment(jpeg(), "Gate_ch2_20240625093136.jpg", "application/octet-stream"),
        ]
    )
    return raw_mail(
        f"From: {sender} <ipc@cams.lan>\nSubject: {subject}\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b1"',
        body,
    )


def test_dahua_motion_base64_body_with_crlf() -> None:
    raw = dahua()
    assert b"Alarm Event" not in raw  # only the decoded body says it
    alert = parse_mail(raw)
    assert (alert.vendor, alert.kind, alert.event_type) == ("dahua", MailKind.ALARM, "motion")
    assert (alert.channel, alert.channel_name) == (2, "Gate")
    assert alert.text.startswith("Alarm Event: Motion Detection\nAlarm Input Channel: 2\n")
    assert "\r" not in alert.text
    assert len(alert.images) == 1
    assert alert.images[0].content_type == "image/jpeg"
    assert alert.images[0].filename == "Gate_ch2_20240625093136.jpg"


def test_dahua_nvr_channel_number_and_name() -> None:
    text = (
        "Alarm Type: Motion Detection Alarm\r\nAlarm Event: Smart Motion Human\r\n"
        "Alarm Input Channel No.: 3\r\nAlarm Input Channel Name: Backyard\r\n"
        "Alarm Start Time (D/M/Y H:M:S): 12/11/2025 16:03:57\r\nAlarm Device Name: NVR-6C39\r\n"
    )
    alert = parse_mail(dahua(text))
    assert (alert.vendor, alert.event_type) == ("dahua", "person")
    assert (alert.channel, alert.channel_name) == (3, "Backyard")


def test_amcrest_is_dahua_wording_under_its_own_name() -> None:
    text = DAHUA_TEXT.replace("Motion Detection", "Video Blind").replace("Gate", "AMC Porch")
    alert = parse_mail(dahua(text, subject="Amcrest Alarm", sender="Amcrest"))
    assert (alert.vendor, alert.kind, alert.event_type) == ("amcrest", MailKind.ALARM, "tamper")
    assert (alert.channel, alert.channel_name) == (2, "AMC Porch")


REOLINK_TEXT = (
    "Alarm Camera Name:Front\r\n"
    "Alarm Event:{event}\r\n"
    "Alarm Input Channel No.:1\r\n"
    "Alarm Start Time(D/M/Y H:M:S):02/10/2024 12:26:15\r\n"
    "Alarm Device Name:Front\r\n"
    "Alarm Name:\r\n"
    "IP Address:192.168.1.20\r\n"
)


def reolink(text: str) -> bytes:
    """Reolink: the body is one unwrapped base64 line."""
    one_line = base64.b64encode(text.encode()).decode()
    body = multipart(
        [
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{one_line}",
            attachment(jpeg(), "Front_20241002122615.jpg"),
        ],
        boundary="----=_Part_1",
    )
    return raw_mail(
        "From: Reolink NVR <nvr@cams.lan>\nSubject: Alarm\n"
        'Content-Type: multipart/mixed; boundary="----=_Part_1"',
        body,
    )


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ("Motion Detection", "motion"),
        ("Person", "person"),
        ("Vehicle", "vehicle"),
        ("Pet", "animal"),
    ],
)
def test_reolink_events(event: str, expected: str) -> None:
    alert = parse_mail(reolink(REOLINK_TEXT.format(event=event)))
    assert (alert.vendor, alert.kind, alert.event_type) == ("reolink", MailKind.ALARM, expected)
    assert (alert.channel, alert.channel_name) == (1, "Front")
    assert len(alert.images) == 1


def test_reolink_recognised_by_its_fields_and_fields_joined_on_one_line() -> None:
    text = "Alarm Camera Name:Living Room, Alarm Event:Vehicle, Alarm Input Channel No.:4"
    alert = parse_mail(simple(text, sender="nvr@cams.lan", subject="Alert"))
    assert (alert.vendor, alert.event_type) == ("reolink", "vehicle")
    assert (alert.channel, alert.channel_name) == (4, "Living Room")


def test_reolink_test_mail() -> None:
    text = (
        "If you receive this e-mail you have successfully set up and tested "
        "the e-mail alert from your IPC"
    )
    alert = parse_mail(simple(text, subject="Test Mail", sender="ipc@cams.lan"))
    assert (alert.vendor, alert.kind, alert.event_type) == ("reolink", MailKind.TEST, None)


def test_foscam_nvr_sentence() -> None:
    text = "This is a NVR alarm mail:FN3108XE channel:2 detected motion alarm at 2020-12-21 02:01:38 \n"
    alert = parse_mail(simple(text, subject="NVR alarm", sender="nvr@cams.lan"))
    assert (alert.vendor, alert.kind, alert.event_type) == ("foscam", MailKind.ALARM, "motion")
    assert (alert.channel, alert.channel_name) == (2, None)


def test_foscam_by_name_with_a_sound_alarm() -> None:
    alert = parse_mail(simple("Your camera detected a sound alarm.", subject="Foscam alarm"))
    assert (alert.vendor, alert.event_type) == ("foscam", "audio")


def test_axis_motion_detected() -> None:
    raw = simple(
        "Motion detected on Entrance at 2024-06-25 09:31:36",
        subject="Motion detected",
        sender="AXIS M3106-L Mk II <axis@cams.lan>",
    )
    alert = parse_mail(raw)
    assert (alert.vendor, alert.kind, alert.event_type) == ("axis", MailKind.ALARM, "motion")
    model_in_text = parse_mail(simple("AXIS P1435-LE: Motion detected", subject="Alert"))
    assert model_in_text.vendor == "axis"
    assert parse_mail(simple("Along the x axis", subject="Alert")).vendor is None


def test_unknown_mail_still_alarms() -> None:
    alert = parse_mail(simple("Something happened at the gate.", subject="Hello"))
    assert (alert.vendor, alert.kind, alert.event_type) == (None, MailKind.ALARM, None)
    assert (alert.channel, alert.channel_name) == (None, None)
    assert alert.text == "Something happened at the gate."


def test_unknown_vendor_with_event_fields_keeps_event_type() -> None:
    body = "Device Name: NVR8\nEvent Type: Human and Vehicle\nChannel Name [IP-CH1]: Front Yard\n"
    alert = parse_mail(simple(body, subject="Alert"))
    assert alert.vendor is None
    assert (alert.event_type, alert.channel, alert.channel_name) == ("person", 1, "Front Yard")


@pytest.mark.parametrize(
    ("wording", "vendor"),
    [
        ("Hikvision Alarm", "hikvision"),
        ("Dahua Alarm", "dahua"),
        ("Sent by reolink", "reolink"),
    ],
)
def test_brand_names_in_the_subject(wording: str, vendor: str) -> None:
    assert parse_mail(simple("Motion", subject=wording)).vendor == vendor


# ------------------------------------------------------------------------------ classification


@pytest.mark.parametrize(
    ("event", "kind", "event_type"),
    [
        ("Motion Detection Stop", MailKind.END, "motion"),
        ("Motion Detection end", MailKind.END, "motion"),
        ("Motion Detection Start", MailKind.ALARM, "motion"),
        ("Video Loss", MailKind.HEALTH, "video_loss"),
        ("Disk Full", MailKind.HEALTH, "hdd_full"),
        ("No Disk", MailKind.HEALTH, "hdd_error"),
        ("Alarm Input", MailKind.ALARM, "io_alarm"),
        ("Test", MailKind.TEST, "test"),
    ],
)
def test_dahua_event_kinds(event: str, kind: MailKind, event_type: str) -> None:
    alert = parse_mail(dahua(DAHUA_TEXT.replace("Motion Detection", event)))
    assert (alert.kind, alert.event_type) == (kind, event_type)


@pytest.mark.parametrize(
    ("event", "event_type"),
    [("HDD Error", "hdd_error"), ("HDD Full", "hdd_full"), ("Illegal Login", "illegal_login")],
)
def test_hikvision_health_events(event: str, event_type: str) -> None:
    body = f"EVENT TYPE: {event}\r\nEVENT TIME: 2024-01-01,00:00:00\r\nNVR NAME: NVR\r\n"
    alert = parse_mail(raw_mail("X-Mailer: HIKMailer\nSubject: NVR: Exception", body))
    assert (alert.kind, alert.event_type) == (MailKind.HEALTH, event_type)


@pytest.mark.parametrize(
    ("subject", "body", "kind"),
    [
        ("HealthReport", "Device status: normal", MailKind.HEALTH),
        ("NVR: HDD error", "Please check the disk.", MailKind.HEALTH),
        ("Motion Detection Stop", "", MailKind.END),
        ("Alarm", "Alarm End Time: 10:00", MailKind.ALARM),
        ("Test E-mail", "This is a test.", MailKind.TEST),
        ("Camera email test", "", MailKind.TEST),
        ("Alarm", "camera testing the lens", MailKind.ALARM),
    ],
)
def test_free_text_classification(subject: str, body: str, kind: MailKind) -> None:
    alert = parse_mail(simple(body, subject=subject))
    assert alert.kind is kind
    assert (alert.vendor, alert.event_type) == (None, None)


def test_known_vendor_free_text_health_and_end() -> None:
    health = parse_mail(raw_mail("X-Mailer: HIKMailer\nSubject: NVR: HDD Full", "See the NVR."))
    assert (health.kind, health.event_type) == (MailKind.HEALTH, "hdd_full")
    end = parse_mail(raw_mail("Subject: Foscam: motion alarm ended", "Foscam"))
    assert (end.kind, end.event_type) == (MailKind.END, "motion")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Motion Detection", "motion"),
        ("Smart Motion Human", "person"),
        ("Human and Vehicle", "person"),
        ("Cross Line Detection", "line_crossing"),
        ("Tripwire", "line_crossing"),
        ("Cross Region Detection", "intrusion"),
        ("Region Exiting Detection", "region_exiting"),
        ("Loitering Detection", "loitering"),
        ("Defocus Detection", "defocus"),
        ("Scene Changing", "scene_change"),
        ("Face Detection", "face"),
        ("Visitor", "doorbell"),
        ("PIR Alarm", "pir"),
        ("Audio Exception Detection", "audio"),
        ("I/O Alarm", "io_alarm"),
        ("Video Signal Loss", "video_loss"),
        ("Net Abort", "network_disconnected"),
        ("IP Address Conflicted", "ip_conflict"),
        ("Storage Failure", "hdd_error"),
        ("HealthReport", "health_report"),
        ("Object Removal Detection", "object_removal"),
        ("Detection Alarm", None),
        ("移动侦测", None),
    ],
)
def test_event_type_of(value: str, expected: str | None) -> None:
    assert event_type_of(value) == expected


def test_parse_fields_shapes() -> None:
    text = (
        "EVENT TYPE:  Motion\nAlarm Input Channel No.:1\nCAMERA NAME(NUM): Yard(D1)\n"
        "a very long line that is not a field at all although it has a colon much later: x\n"
        ": no key\nEVENT TYPE: second\n事件类型\uff1a移动侦测\n"
    )
    assert parse_fields(text) == {
        "EVENTTYPE": "Motion",
        "ALARMINPUTCHANNELNO": "1",
        "CAMERANAMENUM": "Yard(D1)",
        "事件类型": "移动侦测",
    }


def test_channel_fallbacks() -> None:
    no_parens = (
        "EVENT TYPE: Motion Detection\nEVENT TIME: x\nCAMERA NAME(NUM): Garage\nCHANNEL: CH05\n"
    )
    assert (parse_mail(simple(no_parens)).channel, parse_mail(simple(no_parens)).channel_name) == (
        5,
        "Garage",
    )
    word_channel = "Alarm Event: Motion Detection\nAlarm Input Channel: IPC\nMotion on channel 7"
    assert parse_mail(simple(word_channel)).channel == 7
    assert parse_mail(simple("Alarm Event: Motion\nAlarm Input Channel: none")).channel is None


# ------------------------------------------------------------------------------ MIME shapes


def test_rfc2047_subject_and_sender_display_name() -> None:
    subject = "=?utf-8?b?" + base64.b64encode("Tył: Ruch wykryty".encode()).decode() + "?="
    gb = "=?gb2312?b?" + base64.b64encode("车库".encode("gb2312")).decode() + "?="
    raw = raw_mail(f"Subject: {subject} {gb}\nFrom: {gb} <garage@cams.lan>", "Motion")
    alert = parse_mail(raw)
    assert alert.subject == "Tył: Ruch wykryty车库"
    assert alert.sender == "garage@cams.lan"


def test_quoted_printable_latin1_body() -> None:
    body = (
        "Alarm Event: Motion Detection=0D=0AAlarm Input Channel: 4=0D=0ACam=E9ra: Entr=\r\n=E9e\r\n"
    )
    raw = raw_mail(
        "Subject: QP\nContent-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: quoted-printable",
        body,
    )
    alert = parse_mail(raw)
    assert alert.text == "Alarm Event: Motion Detection\nAlarm Input Channel: 4\nCaméra: Entrée"
    assert (alert.vendor, alert.channel) == ("dahua", 4)


def test_long_single_line_base64_body_is_read_and_text_capped() -> None:
    text = REOLINK_TEXT.format(event="Person") + "x" * 15000
    encoded = base64.b64encode(text.encode())
    assert len(encoded) > 20000
    raw = raw_mail(
        "Subject: Alarm\nContent-Type: text/plain\nContent-Transfer-Encoding: base64", encoded
    )
    alert = parse_mail(raw)
    assert (alert.vendor, alert.event_type, alert.channel_name) == ("reolink", "person", "Front")
    assert len(alert.text) == TEXT_LIMIT


def test_8bit_gb2312_without_declaration_and_utf8_under_gb2312_label() -> None:
    gb = raw_mail("Subject: x", "CAMERA NAME(NUM): 前门(2)\r\n".encode("gb18030"))
    assert parse_mail(gb).channel_name == "前门"
    # Hikvision labels everything gb2312, also UTF-8 names GB18030 would take as Chinese.
    utf8 = raw_mail(
        "Subject: x\nContent-Type: text/plain; charset=gb2312",
        "CAMERA NAME(NUM): Tył(1)\r\n".encode(),
    )
    assert parse_mail(utf8).channel_name == "Tył"


@pytest.mark.parametrize(
    ("charset", "payload", "expected"),
    [
        ("x-unknown", "Caméra".encode(), "Caméra"),
        ("zlib", "Caméra".encode(), "Caméra"),
        ("punycode", b"abc-def", "abc-def"),
        ("utf-8", "Café".encode("latin-1"), "Café"),
        ("koi8-r", "Камера".encode("koi8-r"), "Камера"),
        ("us-ascii", b"\xff\xfe\x80 end", "\xff\xfe end"),  # Latin-1; C1 controls removed
    ],
)
def test_charset_fallbacks(charset: str, payload: bytes, expected: str) -> None:
    raw = raw_mail(f"Subject: x\nContent-Type: text/plain; charset={charset}", payload)
    assert parse_mail(raw).text == expected


def test_nul_bytes_and_controls_removed() -> None:
    body = b"Alarm\x00 Event: Motion\x00 Detection\r\n\x07Alarm Input Channel: 1\x0b\r\n\r\n\r\n\r\nend"
    alert = parse_mail(raw_mail("Subject: x\x00y", body))
    assert alert.text == "Alarm Event: Motion Detection\nAlarm Input Channel: 1\n\nend"
    assert (alert.subject, alert.event_type, alert.channel) == ("x y", "motion", 1)


def test_missing_headers() -> None:
    alert = parse_mail(b"\r\nAlarm Event: Motion Detection\r\n")
    assert (alert.subject, alert.sender, alert.vendor, alert.event_type) == (
        "",
        "",
        "dahua",
        "motion",
    )
    assert parse_mail(b"") == MailAlert("", "", "", MailKind.ALARM, None, None, None, None, (), 0)


def test_non_utf8_bytes_in_headers() -> None:
    raw = (
        b"Subject: \xb3\xb5\xbf\xe2: Motion\r\nFrom: Cam\xe9ra <cam@lan>\r\n"
        b"X-Mailer: \xff\xfe\r\n\r\nbody"
    )
    alert = parse_mail(raw)
    assert alert.subject == "车库: Motion"
    assert alert.sender == "cam@lan"
    check_invariants(alert)


def test_sender_without_an_address() -> None:
    assert parse_mail(raw_mail("From: Garage Camera", "x")).sender == "Garage Camera"
    assert parse_mail(raw_mail("From: <>", "x")).sender == ""
    encoded = "=?utf-8?b?" + base64.b64encode(b"cam@lan").decode() + "?="
    assert parse_mail(raw_mail(f"From: {encoded}", "x")).sender == "cam@lan"


def test_alternative_prefers_plain_then_falls_back_to_html() -> None:
    def alternative(plain: str) -> bytes:
        parts: list[str | bytes] = [
            f"Content-Type: text/plain\r\n\r\n{plain}",
            "Content-Type: text/html\r\n\r\n<b>HTML</b> body<br>line 2",
        ]
        return raw_mail(
            "Subject: x\nContent-Type: multipart/alternative; boundary=b1",
            multipart(parts),
        )

    assert parse_mail(alternative("plain body")).text == "plain body"
    assert parse_mail(alternative("  \r\n ")).text == "HTML body\nline 2"


def test_related_inline_image_without_a_name_and_text_attachment_skipped() -> None:
    inline = (
        "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
        f"Content-ID: <snap1>\r\n\r\n{b64_lines(png())}"
    )
    log = "Content-Type: text/plain\r\nContent-Disposition: attachment; filename=log.txt\r\n\r\nlog"
    raw = raw_mail(
        "Subject: x\nContent-Type: multipart/related; boundary=b1",
        multipart(["Content-Type: text/html\r\n\r\n<img src=cid:snap1>", inline, log]),
    )
    alert = parse_mail(raw)
    assert [(i.filename, i.content_type, i.width, i.height) for i in alert.images] == [
        ("image1.png", "image/png", 32, 24)
    ]
    assert alert.skipped_attachments == 1
    assert alert.text == ""


def test_image_type_by_magic_bytes_not_declaration() -> None:
    parts: list[str | bytes] = [
        attachment(png(), "snap.jpg", "image/jpeg"),
        attachment(jpeg(), "snap2", "text/plain"),
        attachment(b"GIF89a" + bytes(40), "anim.gif", "image/gif"),
        attachment(b"\xff\xd8\xff\xe0 not really a jpeg", "broken.jpg"),
    ]
    raw = raw_mail("Subject: x\nContent-Type: multipart/mixed; boundary=b1", multipart(parts))
    alert = parse_mail(raw)
    assert [(i.filename, i.content_type) for i in alert.images] == [
        ("snap.png", "image/png"),
        ("snap2.jpg", "image/jpeg"),
    ]
    assert alert.skipped_attachments == 2


def test_multipart_without_boundary_and_message_rfc822() -> None:
    no_boundary = raw_mail(
        "Subject: x\nContent-Type: multipart/mixed", "--b1\r\n\r\nhidden\r\n--b1--"
    )
    alert = parse_mail(no_boundary)
    assert (alert.text, alert.skipped_attachments) == ("", 0)
    forwarded = raw_mail(
        "Subject: Fwd\nContent-Type: message/rfc822",
        "Subject: inner\r\n\r\nAlarm Event: Motion Detection\r\n",
    )
    assert parse_mail(forwarded).event_type == "motion"


def test_html_without_closing_style_or_script() -> None:
    body = "Before<script>alert(1)</script  >Mid<style>x{}</style>After<style>never closed"
    alert = parse_mail(raw_mail("Subject: x\nContent-Type: text/html", body))
    assert alert.text == "BeforeMidAfter"
    no_gt = parse_mail(raw_mail("Subject: x\nContent-Type: text/html", "A<script>x</script"))
    assert no_gt.text == "A"


def test_text_part_over_the_decode_cap_keeps_its_first_chars() -> None:
    text = "Alarm Event: Motion Detection\n" + "é" * 40000  # 80 KB of UTF-8
    raw = raw_mail(
        "Subject: x\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit",
        text.encode(),
    )
    alert = parse_mail(raw)
    assert alert.event_type == "motion"
    assert alert.text.endswith("é" * 100)


# ------------------------------------------------------------------------------ hostile mail


def nested(
    depth: int, leaf: str = "Content-Type: text/plain\r\n\r\nAlarm Event: Motion Detection"
) -> bytes:
    head = "".join(
        f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n" for i in range(depth)
    )
    tail = "".join(f"\r\n--b{i}--\r\n" for i in reversed(range(depth)))
    return f"Subject: deep\r\n{head}{leaf}{tail}".encode()


# How fast these stay is measured by bench/mail_parse.py, not asserted here: the tests check
# that hostile input is read correctly and within the caps (pytest's timeout catches a hang).


def test_200_level_nested_multipart() -> None:
    alert = parse_mail(nested(200))
    assert (alert.subject, alert.text, alert.images) == ("deep", "", ())
    shallow = parse_mail(nested(mail.MAX_DEPTH))
    assert shallow.event_type == "motion"  # within the depth cap the text is read


def test_nesting_beyond_the_interpreter_stack_keeps_the_headers() -> None:
    alert = parse_mail(nested(3000))
    assert (alert.subject, alert.kind) == ("deep", MailKind.ALARM)


def test_many_lines_inside_nested_multiparts_stay_fast() -> None:
    alert = parse_mail(nested(200, "Content-Type: text/plain\r\n\r\n" + "\r\n" * 1_000_000))
    check_invariants(alert)


def test_many_parts_stay_fast_and_are_capped() -> None:
    parts: list[str | bytes] = ["Content-Type: application/octet-stream\r\n\r\nx"] * 300_000
    raw = raw_mail("Subject: x\nContent-Type: multipart/mixed; boundary=b1", multipart(parts))
    alert = parse_mail(raw)
    assert alert.skipped_attachments == mail.MAX_PARTS - 1


@pytest.mark.parametrize(
    "header",
    [
        "Subject: " + "ab " * 350_000,
        "X-Junk: " + "a" * 1_000_000,
        "From: " + "a@b, " * 200_000,
        "Content-Type: text/plain; " + "a=b; " * 200_000,
    ],
    ids=["subject", "x-junk", "from", "content-type"],
)
def test_1mb_header(header: str) -> None:
    alert = parse_mail(raw_mail(header, "Alarm Event: Motion Detection"))
    assert alert.event_type == "motion"
    check_invariants(alert)


def test_header_the_parser_chokes_on_is_read_as_text() -> None:
    alert = parse_mail(raw_mail("From: " + "(" * 1500, "x"))
    assert alert.sender == "(" * 320


@pytest.mark.parametrize("header", ["Subject", "From"])
def test_crlf_injection_in_encoded_header(header: str) -> None:
    evil = "Motion\r\nBcc: victim@example.com\r\n\r\nbody\n\x85\u2028x"
    encoded = "=?utf-8?b?" + base64.b64encode(evil.encode()).decode() + "?="
    alert = parse_mail(raw_mail(f"{header}: {encoded}", "x"))
    value = alert.subject if header == "Subject" else alert.sender
    assert value == "Motion Bcc: victim@example.com body x"
    check_invariants(alert)


def test_zip_attachment_is_skipped_not_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("snap.jpg", jpeg())
        zipped.writestr("zeros.bin", bytes(10_000_000))
    monkeypatch.setattr(zipfile.ZipFile, "__init__", _never)
    monkeypatch.setattr(zlib, "decompress", _never)
    parts: list[str | bytes] = [
        "Content-Type: text/plain\r\n\r\nMotion",
        attachment(archive.getvalue(), "snaps.zip", "application/zip"),
    ]
    raw = raw_mail("Subject: x\nContent-Type: multipart/mixed; boundary=b1", multipart(parts))
    alert = parse_mail(raw)
    assert (alert.images, alert.skipped_attachments) == ((), 1)


def _never(*args: object, **kwargs: object) -> None:
    raise AssertionError("must not be called")


SMALL_JPEG = jpeg(16, 16)
SMALL_PNG = png(8, 8)


@pytest.fixture(scope="module")
def png_bomb() -> bytes:
    """20000 x 20000 1-bit: 400 MP, 50 MB decoded, about 50 KB as PNG."""
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def big_png() -> bytes:
    """42 MP: over our cap, under Pillow's own."""
    return png(7000, 6000, mode="1")


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile.ImageFile, "load", _never)
    monkeypatch.setattr(Image.Image, "load", _never)


@pytest.mark.usefixtures("no_decoding")
@pytest.mark.parametrize("pillow_limit", [Image.MAX_IMAGE_PIXELS, None])
def test_png_decompression_bomb_is_skipped_undecoded(
    png_bomb: bytes, pillow_limit: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)  # ours holds without Pillow's
    assert len(png_bomb) < 100_000
    parts: list[str | bytes] = [
        attachment(png_bomb, "bomb.png", "image/png"),
        attachment(SMALL_JPEG, "ok.jpg"),
    ]
    raw = raw_mail("Subject: x\nContent-Type: multipart/mixed; boundary=b1", multipart(parts))
    alert = parse_mail(raw)
    assert [image.filename for image in alert.images] == ["ok.jpg"]
    assert alert.skipped_attachments == 1


@pytest.mark.usefixtures("no_decoding")
def test_image_over_our_pixel_cap_but_under_pillows_is_skipped(big_png: bytes) -> None:
    big = big_png
    raw = raw_mail(
        "Subject: x\nContent-Type: image/png\nContent-Transfer-Encoding: base64", b64_lines(big)
    )
    alert = parse_mail(raw)
    assert (alert.images, alert.skipped_attachments) == ((), 1)


def test_png_of_zero_width_is_skipped() -> None:
    ihdr = struct.pack(">IIBBBBB", 0, 5, 8, 2, 0, 0, 0)
    broken = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")
    raw = raw_mail(
        "Subject: x\nContent-Type: image/png\nContent-Transfer-Encoding: base64", b64_lines(broken)
    )
    assert parse_mail(raw).skipped_attachments == 1


def test_png_text_chunks_are_not_inflated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow would inflate 64 MB of zTXt before IDAT; only the IHDR is shown to it."""
    monkeypatch.setattr(PngImagePlugin.PngStream, "chunk_zTXt", _never)
    plain = png(40, 30)
    ztxt = png_chunk(b"zTXt", b"k\x00\x00" + zlib.compress(b"a" * (1024 * 1024 - 1), 9))
    bomb = plain[:33] + ztxt * 70 + plain[33:]
    broken_crc = plain[:29] + b"\x00\x00\x00\x00" + plain[33:]
    parts: list[str | bytes] = [
        attachment(bomb, "text.png", "image/png"),
        attachment(broken_crc, "crc.png", "image/png"),
    ]
    raw = raw_mail("Subject: x\nContent-Type: multipart/mixed; boundary=b1", multipart(parts))
    alert = parse_mail(raw)
    assert [(i.filename, i.width, i.height, i.data) for i in alert.images] == [
        ("text.png", 40, 30, bomb)
    ]
    assert alert.skipped_attachments == 1


def test_jpeg_header_reading_is_bounded() -> None:
    exif = io.BytesIO()
    Image.new("RGB", (50, 40)).save(exif, "JPEG", exif=b"Exif\x00\x00" + bytes(60000))
    junk = b"\xff\xd8" + b"\xff\xe0\x00\x02" * (2 * 1024 * 1024 - 1)  # 8 MB of empty markers
    parts: list[str | bytes] = [
        attachment(junk, "junk.jpg"),
        attachment(exif.getvalue(), "exif.jpg"),
    ]
    raw = raw_mail("Subject: x\nContent-Type: multipart/mixed; boundary=b1", multipart(parts))
    alert = parse_mail(raw)
    assert [(i.filename, i.width, i.height) for i in alert.images] == [("exif.jpg", 50, 40)]
    assert alert.skipped_attachments == 1


def test_broken_images_use_up_the_tries() -> None:
    broken = b"\xff\xd8\xff\xe0 broken"
    parts: list[str | bytes] = [attachment(broken, f"b{i}.jpg") for i in range(25)]
    parts.append(attachment(SMALL_JPEG, "late.jpg"))
    raw = raw_mail("Subject: x\nContent-Type: multipart/mixed; boundary=b1", multipart(parts))
    alert = parse_mail(raw)
    assert (alert.images, alert.skipped_attachments) == ((), 26)


def test_oversized_image_is_skipped_without_decoding() -> None:
    big = jpeg() + bytes(MAX_IMAGE_BYTES)
    raw = raw_mail(
        "Subject: x\nContent-Type: image/jpeg\nContent-Transfer-Encoding: base64", b64_lines(big)
    )
    assert parse_mail(raw).skipped_attachments == 1
    raw = raw_mail("Subject: x\nContent-Type: image/jpeg\nContent-Transfer-Encoding: 8bit", big)
    assert parse_mail(raw).skipped_attachments == 1


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("..\\..\\windows\\win.ini.jpg", "win.ini.jpg"),
        ("...hidden.jpeg", "hidden.jpg"),
        ("a b<c>|d\x00e.jpg", "a_b_c_d_e.jpg"),
        ("车库 1.jpg", "车库_1.jpg"),
        ("../..", "image1.jpg"),
        ("x" * 300 + ".jpg", "x" * 80 + ".jpg"),
    ],
)
def test_attachment_filenames_are_sanitized(name: str, expected: str) -> None:
    msg = EmailMessage()
    msg["Subject"] = "x"
    msg.set_content("Motion")
    msg.add_attachment(jpeg(), maintype="image", subtype="jpeg", filename=name)
    alert = parse_mail(msg.as_bytes())
    assert [image.filename for image in alert.images] == [expected]


def test_fifty_images_are_capped() -> None:
    parts: list[str | bytes] = [attachment(jpeg(shade=i), f"snap{i}.jpg") for i in range(50)]
    raw = raw_mail("Subject: x\nContent-Type: multipart/mixed; boundary=b1", multipart(parts))
    alert = parse_mail(raw)
    assert len(alert.images) == MAX_IMAGES
    assert [image.filename for image in alert.images][:2] == ["snap0.jpg", "snap1.jpg"]
    assert alert.skipped_attachments == 50 - MAX_IMAGES


def test_text_part_holding_an_image_after_the_cap() -> None:
    parts: list[str | bytes] = [attachment(jpeg(), f"snap{i}.jpg") for i in range(MAX_IMAGES)]
    parts.append(attachment(jpeg(), "late.jpg", "text/plain").replace("attachment", "inline"))
    raw = raw_mail("Subject: x\nContent-Type: multipart/mixed; boundary=b1", multipart(parts))
    alert = parse_mail(raw)
    assert (len(alert.images), alert.skipped_attachments) == (MAX_IMAGES, 1)


def test_ten_megabyte_mail_parses_fast() -> None:
    big = jpeg(1920, 1080) + bytes(range(256)) * 4000
    parts: list[str | bytes] = [
        "Content-Type: text/plain\r\n\r\nAlarm Event: Motion Detection",
        *(attachment(big, f"snap{i}.jpg") for i in range(9)),
    ]
    raw = raw_mail("Subject: x\nContent-Type: multipart/mixed; boundary=b1", multipart(parts))
    assert len(raw) > 10_000_000
    alert = parse_mail(raw)
    assert len(alert.images) == 9


def test_safety_net_returns_an_alarm(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(raw: bytes) -> MailAlert:
        raise RuntimeError("bug")

    monkeypatch.setattr(mail, "_read_mail", explode)
    assert parse_mail(b"Subject: x\r\n\r\nx") == MailAlert(
        "", "", "", MailKind.ALARM, None, None, None, None, (), 0
    )
    assert "Could not read an alert mail" in caplog.text


# ------------------------------------------------------------------------------ fuzz

FUZZ = settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SAMPLES = [hikvision_nvr(images=1), dahua(), reolink(REOLINK_TEXT.format(event="Person"))]


def read_unguarded(raw: bytes) -> MailAlert:
    """``parse_mail`` without its safety net, so that a bug fails the test instead of alarming."""
    alert = mail._read_mail(mail._bounded(raw))
    check_invariants(alert)
    assert parse_mail(raw) == alert
    return alert


@FUZZ
@given(st.binary(max_size=4000))
def test_fuzz_arbitrary_bytes(raw: bytes) -> None:
    read_unguarded(raw)


@FUZZ
@given(st.sampled_from(SAMPLES), st.data())
def test_fuzz_mutated_camera_mail(sample: bytes, data: st.DataObject) -> None:
    raw = bytearray(sample)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        chunk = data.draw(
            st.sampled_from(
                [b"\r\n", b"--", b"\x00", b"=?", b"?=", b":", b"\xff", b"<br>", b"--b1"]
            )
        )
        if action == "insert":
            raw[at:at] = chunk
        elif action == "delete":
            del raw[at : at + data.draw(st.integers(1, 200))]
        else:
            raw[at : at + len(chunk)] = chunk
    read_unguarded(bytes(raw))


TOP_HEADERS = ["Subject", "From", "X-Mailer", "To", "Date", "X-Other", "Message-ID"]
CHARSETS = [
    "utf-8",
    "gb2312",
    "gb18030",
    "iso-8859-1",
    "us-ascii",
    "utf-16",
    "x-bogus",
    "zlib",
    "punycode",
    "",
]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "binary", "bogus"]
TEXTS = st.text(st.characters(codec="utf-8"), max_size=200) | st.sampled_from(
    [DAHUA_TEXT, REOLINK_TEXT.format(event="Vehicle"), HIK_NVR_BODY.format(name="车库", num="D2")]
)


@st.composite
def header_values(draw: st.DrawFn) -> str:
    text = draw(st.text(max_size=60))
    style = draw(st.sampled_from(["plain", "b", "q", "broken"]))
    charset = draw(st.sampled_from(CHARSETS)) or "utf-8"
    if style == "plain":
        return text
    raw = text.encode("utf-8", "surrogatepass")
    if style == "b":
        return f"=?{charset}?b?{base64.b64encode(raw).decode()}?="
    if style == "q":
        return f"=?{charset}?q?{raw.hex('=').upper()}?="
    return f"=?{charset}?x?{text}"


@st.composite
def leaf_parts(draw: st.DrawFn) -> bytes:
    charset = draw(st.sampled_from(CHARSETS))
    cte = draw(st.sampled_from(ENCODINGS))
    kind = draw(
        st.sampled_from(["text/plain", "text/html", "image/jpeg", "application/zip", "image/png"])
    )
    if kind.startswith("text"):
        payload = draw(TEXTS).encode("utf-8", "surrogatepass")
        if draw(st.booleans()):
            payload = payload.replace(b"\n", b"<br>")
    else:
        payload = draw(st.sampled_from([SMALL_JPEG, SMALL_PNG, SMALL_JPEG[:20], b"PK\x03\x04junk"]))
    if cte == "base64":
        body = base64.b64encode(payload) if draw(st.booleans()) else base64.encodebytes(payload)
    elif cte == "quoted-printable":
        body = payload.hex("=").upper().encode() if payload else b""
        body = b"=" + body if body else body
    else:
        body = payload
    name = draw(st.sampled_from(["", "snap.jpg", "../x.jpg", "=?utf-8?q?a=0Ab?=.png"]))
    head = f"Content-Type: {kind}" + (f"; charset={charset}" if charset else "")
    head += f"\r\nContent-Transfer-Encoding: {cte}"
    if name:
        head += f'\r\nContent-Disposition: {draw(st.sampled_from(["attachment", "inline"]))}; filename="{name}"'
    return head.encode() + b"\r\n\r\n" + body


def tree(leaves: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    def wrap(children: st.SearchStrategy[list[bytes]]) -> st.SearchStrategy[bytes]:
        @st.composite
        def build(draw: st.DrawFn) -> bytes:
            boundary = draw(st.sampled_from(["b1", "b2", "#BOUNDARY#", "=_x"]))
            sub = draw(st.sampled_from(["mixed", "alternative", "related"]))
            parts = draw(children)
            body = b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts)
            if draw(st.booleans()):
                body += b"--" + boundary.encode() + b"--\r\n"
            return f'Content-Type: multipart/{sub}; boundary="{boundary}"\r\n\r\n'.encode() + body

        return build()

    return st.recursive(
        leaves, lambda inner: wrap(st.lists(inner, min_size=0, max_size=4)), max_leaves=8
    )


@st.composite
def structured_mails(draw: st.DrawFn) -> bytes:
    headers = draw(
        st.lists(
            st.tuples(st.sampled_from(TOP_HEADERS), header_values()),
            max_size=6,
        )
    )
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("utf-8", "surrogatepass") + draw(tree(leaf_parts()))


@FUZZ
@given(structured_mails())
def test_fuzz_structured_mail(raw: bytes) -> None:
    read_unguarded(raw)


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            [
                b"\r\n",
                b"--b1",
                b"--b1--",
                b"Content-Type: multipart/mixed; boundary=b1",
                b"Content-Type: image/jpeg",
                b"Content-Transfer-Encoding: base64",
                b"/9j/",
                b"Subject: =?utf-8?b?DQo=?=",
                b"\xff\xd8\xff",
                b": ",
                b"\x00",
            ]
        ),
        max_size=80,
    )
)
def test_fuzz_mime_tokens(tokens: list[bytes]) -> None:
    read_unguarded(b"".join(tokens))
