"""HA tests: diagnostics of the NVR entry and its devices, with every credential redacted."""

from collections.abc import AsyncIterator
import json
from pathlib import Path
import time
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.matchers import path_type

from custom_components.lookback.const import DOMAIN, EVENT_CLIP_SAVED
from custom_components.lookback.core.models import Trigger
from custom_components.lookback.diagnostics import redact_config
from tests.ha_helpers import (
    CAMERA_MEDIA,
    async_next_bus_event,
    async_setup_lookback,
    async_unload_lookback,
    async_wait_camera,
    async_wait_connected,
    async_wait_for,
    camera_subentry,
    lookback_hub,
)
from tests.sim.camera import CameraFactory

USER = "camadmin"
PASSWORD = "s3cret-pw"
TOKEN = "tok-123456"

# Values that depend on the machine or on timing; the snapshot keeps only their type.
VOLATILE = path_type(
    {
        "entry.data.storage_path": (str,),
        "nvr.storage_path": (str,),
        "nvr.storage_free": (int,),
        "cameras.front.state.last_error": (str,),
        "cameras.front.state.stats.last_error": (str,),
        "cameras.front.state.stats.reconnects": (int,),
        "state.last_error": (str,),
        "state.stats.last_error": (str,),
        "state.stats.reconnects": (int,),
        # The detect stream fails on its own schedule: only its presence is fixed.
        "cameras.front.state.motion.detect_stream": (dict,),
        "state.motion.detect_stream": (dict,),
    }
)


@pytest.fixture
async def offline_entry(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[MockConfigEntry]:
    """Camera "front" with credentials in every field and URL; it refuses connections."""
    entry = await async_setup_lookback(
        hass,
        tmp_path,
        subentries=[
            camera_subentry(
                "front",
                "Front",
                f"rtsp://{USER}:{PASSWORD}@127.0.0.1:9/stream1",
                detect_url=f"rtsp://{USER}:{PASSWORD}@127.0.0.1:9/sub?token={TOKEN}",
                snapshot_url=f"http://127.0.0.1:9/snap.jpg?user={USER}&password={PASSWORD}",
                username=USER,
                password=PASSWORD,
            )
        ],
    )
    camera = lookback_hub(entry).cameras["front"]
    # The first refused connection makes last_error (and the stats) settle to their shape.
    await async_wait_camera(camera, lambda: camera.last_error is not None, "a failed connect")
    yield entry
    await async_unload_lookback(hass, entry)


def assert_no_secrets(diagnostics: Any) -> None:
    text = json.dumps(diagnostics)
    for secret in (USER, PASSWORD, TOKEN):
        assert secret not in text


async def test_entry_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    offline_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, offline_entry)

    assert_no_secrets(diagnostics)
    assert diagnostics == snapshot(matcher=VOLATILE)


async def test_device_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    offline_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    camera_device = device_registry.async_get_device_by_identifier(
        (DOMAIN, "front"), offline_entry.entry_id
    )
    nvr_device = device_registry.async_get_device_by_identifier(
        (DOMAIN, offline_entry.entry_id), offline_entry.entry_id
    )
    assert camera_device is not None
    assert nvr_device is not None

    camera = await get_diagnostics_for_device(hass, hass_client, offline_entry, camera_device)
    assert_no_secrets(camera)
    assert camera == snapshot(matcher=VOLATILE)

    # The NVR device has no part of its own: it gets the whole entry.
    nvr: Any = await get_diagnostics_for_device(hass, hass_client, offline_entry, nvr_device)
    entry: Any = await get_diagnostics_for_config_entry(hass, hass_client, offline_entry)
    assert nvr.keys() == entry.keys() == {"entry", "nvr", "cameras"}
    assert nvr["cameras"]["front"]["data"] == camera["data"]


async def test_diagnostics_of_an_unloaded_entry(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, offline_entry: MockConfigEntry
) -> None:
    await async_unload_lookback(hass, offline_entry)

    diagnostics: Any = await get_diagnostics_for_config_entry(hass, hass_client, offline_entry)

    assert diagnostics["nvr"] is None
    assert diagnostics["entry"]["state"] == "not_loaded"
    front = diagnostics["cameras"]["front"]
    assert front["state"] is None
    assert front["data"]["password"] == "**REDACTED**"
    assert_no_secrets(diagnostics)


async def test_diagnostics_of_a_recording_camera(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    tmp_path: Path,
    rtsp_camera: CameraFactory,
) -> None:
    sim = rtsp_camera(mode="live", user=USER, password=PASSWORD, **CAMERA_MEDIA)
    entry = await async_setup_lookback(
        hass,
        tmp_path,
        subentries=[
            camera_subentry(
                "front", "Front", sim.url_for(auth=False), username=USER, password=PASSWORD
            )
        ],
    )
    try:
        camera = lookback_hub(entry).cameras["front"]
        await async_wait_connected(camera)
        saved = async_next_bus_event(hass, EVENT_CLIP_SAVED)
        camera.async_trigger(Trigger("front", "test", time.time()), post_roll=0.2, pre_roll=0)
        clip = (await async_wait_for(saved, "a clip")).data
        diagnostics: Any = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    finally:
        await async_unload_lookback(hass, entry)

    assert_no_secrets(diagnostics)
    front = diagnostics["cameras"]["front"]
    assert front["data"]["url"] == sim.url_for(auth=False)  # no credentials: kept as it is
    assert front["data"]["username"] == front["data"]["password"] == "**REDACTED**"
    state = front["state"]
    assert state["connected"] is True
    assert state["last_error"] is None
    assert state["recording_enabled"] is True
    stats = state["stats"]
    assert stats["connected"] is True
    assert stats["packets"] > 0
    assert (stats["video_codec"], stats["width"], stats["height"]) == ("h264", 640, 360)
    assert state["ring_bytes"] > 0
    assert state["clips_stored"] == 1
    assert state["bytes_stored"] >= clip["size"] > 0
    nvr = diagnostics["nvr"]
    assert nvr["clips"] == 1
    assert nvr["storage_used"] == state["bytes_stored"]
    assert nvr["storage_free"] > 0
    assert nvr["storage_path"] == str(tmp_path)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"url": "rtsp://u:p@cam:554/s?token=t", "username": "u", "password": "p"},
            {
                "url": "rtsp://***:***@cam:554/s?token=***",
                "username": "**REDACTED**",
                "password": "**REDACTED**",
            },
        ),
        (
            {"url": "", "detect_url": "", "snapshot_url": ""},
            {"url": "", "detect_url": "", "snapshot_url": ""},
        ),
        ({"snapshot_url": "http://cam/snap.jpg"}, {"snapshot_url": "http://cam/snap.jpg"}),
        (
            {"storage_path": "/media/lookback", "pre_roll": 5},
            {"storage_path": "/media/lookback", "pre_roll": 5},
        ),
    ],
)
def test_redact_config(data: dict[str, Any], expected: dict[str, Any]) -> None:
    assert redact_config(data) == expected
