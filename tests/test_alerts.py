"""Camera alerts in HA: mail, ONVIF, entities, the webhook and the action each make a clip.

The camera is the real RTSP simulator (tests/sim); mail goes through Lookback's own SMTP server
with Python's smtplib; ONVIF events come from tests/sim/onvif_server.py, a local SOAP server
that answers as a camera does (no ONVIF device simulator installs here).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
import io
import json
from pathlib import Path
import smtplib
import socket
from typing import Any

from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.lookback.camera_alerts import Alert
from custom_components.lookback.camera_hub import CameraHub
from custom_components.lookback.const import DOMAIN, EVENT_ALERT, EVENT_CLIP_SAVED
from custom_components.lookback.core.models import ClipInfo
from tests.core.clipcheck import inspect_clip
from tests.ha_helpers import (
    UNREACHABLE_URL,
    async_next_bus_event,
    async_setup_lookback,
    async_unload_lookback,
    async_wait_camera,
    async_wait_connected,
    async_wait_for,
    camera_subentry,
    lookback_hub,
    nvr_entry_data,
)
from tests.sim.camera import CameraFactory
from tests.sim.onvif_server import OnvifTestServer

PRE_ROLL = 2.0
POST_ROLL = 1.0
CELL_MOTION = "tns1:RuleEngine/CellMotionDetector/Motion"
# The NVR entry's SMTP server on this machine, on any free port (see mail_port).
MAIL_SERVER: dict[str, Any] = {"smtp_enabled": True, "smtp_host": "127.0.0.1", "smtp_port": 0}


def jpeg(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def alarm_mail(to: str, subject: str = "Motion alarm", picture: bytes | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = "camera@example.com"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("EVENT TYPE: Motion Detection\nCAMERA NAME(NUM): Front(1)\n")
    if picture is not None:
        message.add_attachment(picture, maintype="image", subtype="jpeg", filename="snap.jpg")
    return bytes(message)


def send_mail(port: int, to: str, mail: bytes) -> None:
    """A camera's delivery (blocking: run it in the executor)."""
    # local_hostname: HA tests forbid name lookups, and cameras say "localhost" anyway.
    with smtplib.SMTP("127.0.0.1", port, local_hostname="localhost", timeout=10) as client:
        client.sendmail("camera@example.com", [to], mail)


async def async_setup_yard_with_mail(hass: HomeAssistant, tmp_path: Path) -> MockConfigEntry:
    """An NVR entry with its SMTP server on and one camera, "yard", that needs no video."""
    return await async_setup_lookback(hass, tmp_path, {"yard": UNREACHABLE_URL}, **MAIL_SERVER)


def mail_port(entry: Any) -> int:
    server = lookback_hub(entry).mail_server
    assert server is not None
    assert server.server is not None
    return server.server.port


async def async_clip_of(hass: HomeAssistant, source: str, action: Any) -> dict[str, Any]:
    """Run ``action`` (a coroutine function) and return the saved clip its trigger made."""
    saved = async_next_bus_event(
        hass,
        EVENT_CLIP_SAVED,
        lambda data: any(t["source"] == source for t in data["triggers"]),
    )
    await action()
    return (await async_wait_for(saved, f"a clip from a {source} trigger")).data


def check_pre_roll(storage: Path, clip: dict[str, Any]) -> None:
    """The clip starts at least the pre-roll before its trigger, and decodes."""
    # The bus event carries ISO times: the sidecar has the exact ones.
    sidecars = list(storage.rglob(f"*{clip['clip_id']}.json"))
    assert len(sidecars) == 1
    stored = ClipInfo.from_dict(json.loads(sidecars[0].read_text()))
    assert stored.trigger_time - stored.start_time >= PRE_ROLL - 0.05
    report = inspect_clip(storage / stored.path)
    assert report.first_packet_is_keyframe
    assert report.duration >= PRE_ROLL + POST_ROLL - 0.3


@pytest.mark.usefixtures("socket_enabled")
async def test_every_alert_source_makes_a_clip_with_pre_roll(
    hass: HomeAssistant,
    tmp_path: Path,
    rtsp_camera: CameraFactory,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    sim = rtsp_camera(
        mode="live", codec="h264", width=640, height=360, fps=10, seconds=60, gop_seconds=1
    )
    onvif = OnvifTestServer("admin", "secret")
    onvif_port = await onvif.start()
    hass.states.async_set("binary_sensor.hall_pir", STATE_OFF)
    entry = await async_setup_lookback(
        hass,
        tmp_path,
        subentries=[
            camera_subentry(
                "front",
                "Front",
                sim.url,
                pre_roll=PRE_ROLL,
                post_roll=POST_ROLL,
                mail_address="frontdoor",
                onvif_enabled=True,
                onvif_host="127.0.0.1",
                onvif_port=onvif_port,
                onvif_username="admin",
                onvif_password="secret",
                trigger_entities=["binary_sensor.hall_pir"],
                webhook_id="front-hook",
            )
        ],
        **MAIL_SERVER,
    )
    try:
        camera = lookback_hub(entry).cameras["front"]
        await async_wait_connected(camera)
        pipeline = camera.pipeline
        assert pipeline is not None
        await async_wait_camera(
            camera, lambda: pipeline.ring.duration >= PRE_ROLL + 1, "the pre-roll in the ring"
        )
        subscriber = camera.alerts.onvif
        assert subscriber is not None
        await async_wait_camera(
            camera, lambda: subscriber.stats.connected, "the ONVIF subscription"
        )
        port = mail_port(entry)

        # 1. Mail with a picture: the picture is stored and announced with a signed URL.
        alerted = async_next_bus_event(hass, EVENT_ALERT)
        picture = jpeg()

        async def mail() -> None:
            await hass.async_add_executor_job(
                send_mail, port, "frontdoor@lookback", alarm_mail("x", picture=picture)
            )

        clip = await async_clip_of(hass, "smtp", mail)
        alert = (await async_wait_for(alerted, "lookback_alert")).data
        assert alert["source"] == "smtp"
        assert alert["label"] == "motion"
        assert alert["camera_entity_id"] == "camera.front"
        assert alert["event_id"] == clip["event_id"]
        anonymous = await hass_client_no_auth()
        served = await anonymous.get(alert["snapshot_urls"][0])
        assert served.status == 200
        assert await served.read() == picture
        check_pre_roll(tmp_path, clip)
        assert state_of(hass, "binary_sensor.front_camera_alert").state == STATE_ON

        # 2. ONVIF: a cell motion event.
        async def onvif_event() -> None:
            onvif.push(CELL_MOTION)

        clip = await async_clip_of(hass, "onvif", onvif_event)
        assert clip["labels"] == {"cell_motion": 0.0}
        check_pre_roll(tmp_path, clip)

        # 3. An HA entity turning on.
        async def entity_on() -> None:
            hass.states.async_set("binary_sensor.hall_pir", STATE_ON)

        clip = await async_clip_of(hass, "entity", entity_on)
        check_pre_roll(tmp_path, clip)

        # 4. The webhook, as a camera's HTTP notification with a JSON label.
        async def hook() -> None:
            response = await anonymous.post(
                "/api/webhook/front-hook", json={"label": "doorbell", "message": "ring"}
            )
            assert response.status == 200
            assert (await response.json())["event_id"]

        clip = await async_clip_of(hass, "webhook", hook)
        assert clip["labels"] == {"doorbell": 0.0}
        check_pre_roll(tmp_path, clip)

        # 5. The action.
        async def action() -> None:
            result = await hass.services.async_call(
                DOMAIN,
                "trigger",
                {"entity_id": "camera.front", "label": "visitor"},
                blocking=True,
                return_response=True,
            )
            assert result is not None
            assert result["event_id"]

        clip = await async_clip_of(hass, "service", action)
        check_pre_roll(tmp_path, clip)
    finally:
        await async_unload_lookback(hass, entry)
        await onvif.stop()
    assert onvif.unsubscribe_count >= 1


@pytest.mark.usefixtures("socket_enabled")
async def test_alert_sensor_holds_then_goes_off_and_recording_off_still_alerts(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    entry = await async_setup_lookback(
        hass, tmp_path, subentries=[camera_subentry("yard", "Yard", UNREACHABLE_URL, alert_hold=5)]
    )
    try:
        camera = lookback_hub(entry).cameras["yard"]
        await hass.services.async_call(
            "switch", "turn_off", {"entity_id": "switch.yard_recording_enabled"}, blocking=True
        )
        alerted = async_next_bus_event(hass, EVENT_ALERT)
        result = await hass.services.async_call(
            DOMAIN,
            "trigger",
            {"entity_id": "camera.yard", "label": "doorbell", "message": "Ding"},
            blocking=True,
            return_response=True,
        )
        assert result == {
            "events": {"camera.yard": {"event_id": None, "media_content_id": None}},
            "event_id": None,
            "media_content_id": None,
        }
        alert = (await async_wait_for(alerted, "lookback_alert")).data
        assert alert["event_id"] is None
        assert alert["message"] == "Ding"
        sensor = hass.states.get("binary_sensor.yard_camera_alert")
        assert sensor is not None
        assert sensor.state == STATE_ON
        assert sensor.attributes["source"] == "service"
        assert sensor.attributes["label"] == "doorbell"
        # Still on within the hold time, off after it.
        async_fire_time_changed(hass, later(4))
        await hass.async_block_till_done()
        assert state_of(hass, "binary_sensor.yard_camera_alert").state == STATE_ON
        async_fire_time_changed(hass, later(6))
        await hass.async_block_till_done()
        assert state_of(hass, "binary_sensor.yard_camera_alert").state == STATE_OFF
        assert camera.alerts.counts == {"service": 1}
    finally:
        await async_unload_lookback(hass, entry)


def last_alert(camera: CameraHub) -> Alert:
    """The camera's latest alert (read anew each time: mypy must not narrow it)."""
    alert = camera.alerts.last
    assert alert is not None
    return alert


def state_of(hass: HomeAssistant, entity_id: str) -> State:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state


def block_folder(path: Path) -> None:
    """Put a file where a folder must go."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")


def later(seconds: float) -> datetime:
    return dt_util.utcnow() + timedelta(seconds=seconds)


@pytest.mark.usefixtures("socket_enabled")
async def test_entity_coming_back_or_staying_on_does_not_trigger(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    hass.states.async_set("binary_sensor.pir", "unavailable")
    entry = await async_setup_lookback(
        hass,
        tmp_path,
        subentries=[
            camera_subentry("yard", "Yard", UNREACHABLE_URL, trigger_entities=["binary_sensor.pir"])
        ],
    )
    try:
        camera = lookback_hub(entry).cameras["yard"]
        hass.states.async_set("binary_sensor.pir", STATE_ON)  # from unavailable: not news
        hass.states.async_set("binary_sensor.pir", STATE_ON, {"changed": "attribute"})
        await hass.async_block_till_done()
        assert camera.alerts.counts == {}
        hass.states.async_set("binary_sensor.pir", STATE_OFF)
        hass.states.async_set("binary_sensor.pir", STATE_ON)
        await hass.async_block_till_done()
        assert camera.alerts.counts == {"entity": 1}
        assert last_alert(camera).data == {"entity_id": "binary_sensor.pir"}
    finally:
        await async_unload_lookback(hass, entry)


@pytest.mark.usefixtures("socket_enabled")
async def test_webhook_takes_form_query_text_within_limits(
    hass: HomeAssistant, tmp_path: Path, hass_client_no_auth: ClientSessionGenerator
) -> None:
    entry = await async_setup_lookback(
        hass,
        tmp_path,
        subentries=[camera_subentry("yard", "Yard", UNREACHABLE_URL, webhook_id="yard-hook")],
    )
    try:
        camera = lookback_hub(entry).cameras["yard"]
        client = await hass_client_no_auth()
        response = await client.post("/api/webhook/yard-hook", data={"label": "gate"})
        assert response.status == 200
        assert last_alert(camera).label == "gate"
        response = await client.get("/api/webhook/yard-hook?event=VMD&message=hello")
        assert response.status == 200
        assert last_alert(camera).label == "VMD"
        assert last_alert(camera).message == "hello"
        response = await client.put("/api/webhook/yard-hook", data=b"x" * 2000)
        assert response.status == 200
        assert last_alert(camera).label is None
        message = last_alert(camera).message
        assert message is not None
        assert len(message) == 500
        response = await client.post(
            "/api/webhook/yard-hook", data=b"{not json", headers={"Content-Type": "text/plain"}
        )
        assert response.status == 200
        assert last_alert(camera).message == "{not json"
        response = await client.post("/api/webhook/yard-hook", data=b"x" * (65 * 1024))
        assert response.status == 413
        assert camera.alerts.counts == {"webhook": 4}
    finally:
        await async_unload_lookback(hass, entry)
    # Unloaded: the webhook is gone.
    client = await hass_client_no_auth()
    response = await client.post("/api/webhook/yard-hook", json={})
    assert camera.alerts.counts == {"webhook": 4}
    del response


@pytest.mark.usefixtures("socket_enabled")
async def test_mail_server_port_in_use_is_a_repair_not_a_failure(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        entry = await async_setup_lookback(
            hass,
            tmp_path,
            {"yard": UNREACHABLE_URL},
            smtp_enabled=True,
            smtp_host="127.0.0.1",
            smtp_port=port,
        )
        try:
            issue = ir.async_get(hass).async_get_issue(DOMAIN, "smtp_port_in_use")
            assert issue is not None
            assert issue.translation_placeholders is not None
            assert issue.translation_placeholders["port"] == str(port)
            mail_server = lookback_hub(entry).mail_server
            assert mail_server is not None
            assert mail_server.server is None
            assert mail_server.error
            state = hass.states.get("sensor.lookback_nvr_alert_mails_accepted")
            assert state is not None
            assert state.state == "unknown"
        finally:
            await async_unload_lookback(hass, entry)


@pytest.mark.usefixtures("socket_enabled")
async def test_mail_counts_reach_sensors_and_unknown_recipients_are_refused(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    entry = await async_setup_yard_with_mail(hass, tmp_path)
    try:
        port = mail_port(entry)
        camera = lookback_hub(entry).cameras["yard"]
        alerted = async_next_bus_event(hass, EVENT_ALERT)
        await hass.async_add_executor_job(send_mail, port, "yard@lookback", alarm_mail("yard"))
        await async_wait_for(alerted, "lookback_alert")
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            await hass.async_add_executor_job(
                send_mail, port, "nobody@lookback", alarm_mail("nobody")
            )
        async_fire_time_changed(hass, later(31))  # sensors read counts every 30 s
        await hass.async_block_till_done()
        accepted = hass.states.get("sensor.lookback_nvr_alert_mails_accepted")
        rejected = hass.states.get("sensor.lookback_nvr_alert_mails_rejected")
        assert accepted is not None
        assert rejected is not None
        assert accepted.state == "1"
        assert rejected.state == "1"
        reasons = rejected.attributes["reasons"]
        assert reasons["unknown_recipient"] == 1
        assert sum(reasons.values()) == 1
        assert camera.alerts.counts == {"smtp": 1}
    finally:
        await async_unload_lookback(hass, entry)


async def test_migration_gives_cameras_an_address_a_webhook_and_enables_the_alert_sensor(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    registry = er.async_get(hass)
    data = camera_subentry("yard", "Yard", UNREACHABLE_URL)
    old = dict(data["data"])
    old.pop("webhook_id", None)
    old.pop("mail_address", None)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Lookback NVR",
        data=nvr_entry_data(tmp_path),
        minor_version=1,
        subentries_data=[{**data, "data": old}],
    )
    entry.add_to_hass(hass)
    subentry_id = next(iter(entry.subentries))
    registry.async_get_or_create(
        "binary_sensor",
        DOMAIN,
        "yard_alert",
        config_entry=entry,
        config_subentry_id=subentry_id,
        disabled_by=er.RegistryEntryDisabler.INTEGRATION,
        suggested_object_id="yard_camera_alert",
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    try:
        assert entry.minor_version == 2
        subentry = entry.subentries[subentry_id]
        assert subentry.data["mail_address"] == "yard"
        assert len(subentry.data["webhook_id"]) >= 16
        alert = registry.async_get("binary_sensor.yard_camera_alert")
        assert alert is not None
        assert alert.disabled_by is None
    finally:
        await async_unload_lookback(hass, entry)


@pytest.mark.usefixtures("socket_enabled")
async def test_mail_server_retries_until_its_port_is_free(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        entry = await async_setup_lookback(
            hass, tmp_path, smtp_enabled=True, smtp_host="127.0.0.1", smtp_port=port
        )
    finally:
        taken.close()
    try:
        assert ir.async_get(hass).async_get_issue(DOMAIN, "smtp_port_in_use") is not None
        async_fire_time_changed(hass, later(61))
        await hass.async_block_till_done()
        assert mail_port(entry) == port
        assert ir.async_get(hass).async_get_issue(DOMAIN, "smtp_port_in_use") is None
    finally:
        await async_unload_lookback(hass, entry)


@pytest.mark.usefixtures("socket_enabled")
async def test_starttls_certificate_that_cannot_be_made_is_a_repair(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    # The certificate's folder is a file: it cannot be created there.
    await hass.async_add_executor_job(block_folder, Path(hass.config.path(".storage", DOMAIN)))
    entry = await async_setup_lookback(
        hass,
        tmp_path,
        **MAIL_SERVER,
        smtp_starttls=True,
    )
    try:
        issue = ir.async_get(hass).async_get_issue(DOMAIN, "smtp_not_listening")
        assert issue is not None
        mail_server = lookback_hub(entry).mail_server
        assert mail_server is not None
        assert mail_server.server is None
    finally:
        await async_unload_lookback(hass, entry)


@pytest.mark.usefixtures("socket_enabled")
async def test_mail_pictures_png_becomes_jpeg_and_a_broken_one_is_skipped(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    entry = await async_setup_yard_with_mail(hass, tmp_path)
    try:
        png = io.BytesIO()
        Image.new("RGB", (32, 24), (0, 90, 200)).save(png, "PNG")
        good = png.getvalue()
        broken = good[:33] + b"\x00" * 40 + good[-12:]  # a valid header, no picture data
        message = EmailMessage()
        message["From"] = "cam@example.com"
        message["Subject"] = "Alarm"
        message.set_content("Motion")
        message.add_attachment(good, maintype="image", subtype="png", filename="a.png")
        message.add_attachment(broken, maintype="image", subtype="png", filename="b.png")
        alerted = async_next_bus_event(hass, EVENT_ALERT)
        await hass.async_add_executor_job(send_mail, mail_port(entry), "yard@x", bytes(message))
        alert = (await async_wait_for(alerted, "lookback_alert")).data
        assert len(alert["snapshots"]) == 1
        with Image.open(tmp_path / alert["snapshots"][0]) as stored:
            assert stored.format == "JPEG"
            assert stored.size == (32, 24)
    finally:
        await async_unload_lookback(hass, entry)


@pytest.mark.usefixtures("socket_enabled")
async def test_onvif_outage_shows_on_the_alert_sensor(hass: HomeAssistant, tmp_path: Path) -> None:
    onvif = OnvifTestServer("admin", "secret")
    port = await onvif.start()
    entry = await async_setup_lookback(
        hass,
        tmp_path,
        subentries=[
            camera_subentry(
                "yard",
                "Yard",
                UNREACHABLE_URL,
                onvif_enabled=True,
                onvif_host="127.0.0.1",
                onvif_port=port,
                onvif_username="admin",
                onvif_password="secret",
            )
        ],
    )
    try:
        camera = lookback_hub(entry).cameras["yard"]
        subscriber = camera.alerts.onvif
        assert subscriber is not None
        await async_wait_camera(camera, lambda: subscriber.stats.connected, "ONVIF up")
        assert state_of(hass, "binary_sensor.yard_camera_alert").attributes["onvif_connected"]
        await onvif.stop()  # the camera goes away
        await async_wait_camera(
            camera, lambda: camera.alerts.onvif_error is not None, "ONVIF reported down"
        )
        attributes = state_of(hass, "binary_sensor.yard_camera_alert").attributes
        assert attributes["onvif_connected"] is False
        assert attributes["onvif_error"]
    finally:
        await async_unload_lookback(hass, entry)
        await onvif.stop()


async def test_alert_settings_change_restarts_alerts_not_the_stream(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    entry = await async_setup_lookback(hass, tmp_path, {"yard": UNREACHABLE_URL})
    try:
        hub = lookback_hub(entry)
        camera = hub.cameras["yard"]
        pipeline = camera.pipeline
        subentry = next(iter(entry.subentries.values()))
        hass.config_entries.async_update_subentry(
            entry, subentry, data=dict(subentry.data) | {"trigger_entities": ["input_boolean.x"]}
        )
        await hass.async_block_till_done()
        assert hub.cameras["yard"] is camera
        assert camera.pipeline is pipeline  # no restart: the pre-roll ring is kept
        hass.states.async_set("input_boolean.x", STATE_OFF)
        hass.states.async_set("input_boolean.x", STATE_ON)
        await hass.async_block_till_done()
        assert camera.alerts.counts == {"entity": 1}
        # A stream setting restarts the camera as before.
        subentry = next(iter(entry.subentries.values()))
        hass.config_entries.async_update_subentry(
            entry, subentry, data=dict(subentry.data) | {"post_roll": 7}
        )
        await hass.async_block_till_done()
        assert hub.cameras["yard"] is not camera
        # The old camera's alerts are stopped: a late alert changes nothing.
        assert camera.alerts.async_alert(Alert(source="service", time=0)) is None
        assert not camera.alerts.on
    finally:
        await async_unload_lookback(hass, entry)
