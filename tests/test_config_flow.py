"""HA tests of the config flow: the NVR entry, camera subentries (probed for real) and reauth.

Streams are probed against the RTSP simulator (a separate process: PyAV's C sockets are not
blocked by the test plugin). Tests that open Python sockets themselves (a silent listener, an
HTTP server) ask for ``socket_enabled``. The integration's setup is patched out: these tests
check the flow, not the cameras the entry would start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
import json
from pathlib import Path
import socket
from typing import Any, cast
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import (
    SOURCE_USER,
    ConfigEntry,
    ConfigSubentry,
    ConfigSubentryData,
)
from homeassistant.const import CONF_NAME, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lookback import camera_flow, flow_probe
from custom_components.lookback.camera_flow import camera_id_for
from custom_components.lookback.config_flow import async_start_camera_reauth
from custom_components.lookback.config_schemas import (
    REAUTH_SCHEMA,
    camera_schema,
    motion_schema,
    nvr_defaults,
    nvr_schema,
    objects_schema,
)
from custom_components.lookback.const import (
    CONF_CAMERA_ID,
    CONF_DETECT_URL,
    CONF_MAX_CLIP_SECONDS,
    CONF_MOTION_ACTIVE_FPS,
    CONF_MOTION_MASKS,
    CONF_MOTION_MIN_AREA,
    CONF_MOTION_MIN_DURATION,
    CONF_MOTION_SENSITIVITY,
    CONF_MOTION_ZONES,
    CONF_POST_ROLL,
    CONF_PRE_ROLL,
    CONF_RETENTION_DAYS,
    CONF_RETENTION_GB,
    CONF_SMTP_ENABLED,
    CONF_SMTP_HOST,
    CONF_SMTP_PORT,
    CONF_SNAPSHOT_URL,
    CONF_STORAGE_MAX_GB,
    CONF_STORAGE_PATH,
    CONF_TRANSPORT,
    CONF_URL,
    DETECTOR_CHOICES,
    DOMAIN,
    NAME,
    SUBENTRY_CAMERA,
)
from custom_components.lookback.core.errors import SourceError, SourceErrorKind
from custom_components.lookback.core.objects.errors import DetectorErrorKind
from custom_components.lookback.core.polygons import PolygonProblem
from custom_components.lookback.core.probe import ProbeResult
from custom_components.lookback.flow_probe import PROBE_ERRORS
from tests.core.test_probe import serve_directory, silent_listener, write_media_files
from tests.sim.camera import CameraFactory
from tests.sim.media import ClipFactory
from tests.sim.onvif_server import OnvifTestServer

STRINGS = Path(__file__).parents[1] / "custom_components" / "lookback" / "strings.json"
FAKE_PROBE = ProbeResult("h264", 1920, 1080, 25.0, 2.0, None)


@pytest.fixture(autouse=True)
async def mock_setup(hass: HomeAssistant) -> AsyncIterator[AsyncMock]:
    """Entry setup and unload do nothing (no camera threads); yields the setup mock.

    Entries are unloaded before the patches end: HA's own teardown would unload them later
    with the real async_unload_entry.
    """
    with (
        patch("custom_components.lookback.async_setup", return_value=True),
        patch("custom_components.lookback.async_setup_entry", return_value=True) as setup,
        patch("custom_components.lookback.async_unload_entry", return_value=True),
    ):
        yield setup
        for entry in hass.config_entries.async_loaded_entries(DOMAIN):
            assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.fixture
def fake_probe() -> Iterator[list[str]]:
    """Probes succeed at once with FAKE_PROBE; yields the URLs probed."""
    urls: list[str] = []

    def probe(url: str, *args: Any) -> ProbeResult:
        urls.append(url)
        return FAKE_PROBE

    with patch.object(flow_probe, "probe_source", probe):
        yield urls


def nvr_data(storage: Path, **changes: Any) -> dict[str, Any]:
    return {
        CONF_STORAGE_PATH: str(storage),
        CONF_STORAGE_MAX_GB: 0.0,
        CONF_PRE_ROLL: 4.0,
        CONF_POST_ROLL: 20.0,
        CONF_SMTP_ENABLED: False,
        CONF_SMTP_HOST: "0.0.0.0",
        CONF_SMTP_PORT: 2525,
        "smtp_username": "",
        "smtp_password": "",
        "smtp_starttls": False,
        "smtp_auth_without_tls": False,
        "smtp_max_mb": 10.0,
        "smtp_rate_per_minute": 60,
        "detector": "off",
        "detector_model": "",
        "detector_url": "",
        "detector_api_key": "",
    } | changes


def camera_input(stream_url: str, /, **changes: Any) -> dict[str, Any]:
    return {
        CONF_NAME: "Front door",
        CONF_URL: stream_url,
        CONF_TRANSPORT: "tcp",
        CONF_PRE_ROLL: 5.0,
        CONF_POST_ROLL: 10.0,
        CONF_MAX_CLIP_SECONDS: 600.0,
        CONF_RETENTION_DAYS: 14.0,
        CONF_RETENTION_GB: 0.0,
    } | changes


def camera_subentry(
    camera_id: str, url: str, *, title: str | None = None, **data: Any
) -> ConfigSubentryData:
    full = (
        {
            CONF_CAMERA_ID: camera_id,
            CONF_NAME: title or camera_id,
            CONF_URL: url,
            CONF_DETECT_URL: "",
            CONF_SNAPSHOT_URL: "",
            CONF_USERNAME: "",
            CONF_PASSWORD: "",
        }
        | camera_input(url, **{CONF_NAME: title or camera_id})
        | data
    )
    return ConfigSubentryData(
        data=full, subentry_type=SUBENTRY_CAMERA, title=title or camera_id, unique_id=camera_id
    )


async def add_nvr(
    hass: HomeAssistant, tmp_path: Path, *subentries: ConfigSubentryData
) -> MockConfigEntry:
    """A loaded NVR entry (setup patched) with these cameras."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=NAME,
        data=nvr_data(tmp_path / "clips"),
        subentries_data=list(subentries),
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def start_camera_flow(hass: HomeAssistant, entry: ConfigEntry) -> Any:
    return await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_CAMERA), context={"source": SOURCE_USER}
    )


async def submit(hass: HomeAssistant, result: Any, user_input: dict[str, Any]) -> Any:
    return await hass.config_entries.subentries.async_configure(result["flow_id"], user_input)


async def camera_errors(hass: HomeAssistant, entry: ConfigEntry, user_input: dict[str, Any]) -> Any:
    """Submit the add-camera form once; the result must be the form again, with errors."""
    result = await submit(hass, await start_camera_flow(hass, entry), user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return result


def suggested(result: Any, key: str) -> Any:
    """The value a form shows in a field (its suggested value, else its default)."""
    for marker in result["data_schema"].schema:
        if marker == key:
            if marker.description and "suggested_value" in marker.description:
                return marker.description["suggested_value"]
            return marker.default() if callable(marker.default) else None
    raise KeyError(key)


async def start_camera_reconfigure(
    hass: HomeAssistant, entry: MockConfigEntry, subentry: ConfigSubentry, choice: str
) -> Any:
    """Open a camera's Reconfigure menu and pick ``choice``; returns that step's form."""
    result = await entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "reconfigure"
    result = await submit(hass, result, {"next_step_id": choice})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == choice
    return result


def placeholders(result: Mapping[str, Any]) -> Mapping[str, str]:
    """A form's description placeholders (errors use them too)."""
    values = result["description_placeholders"]
    assert values is not None
    return cast(Mapping[str, str], values)


def only_subentry(entry: ConfigEntry, camera_id: str) -> ConfigSubentry:
    (subentry,) = [s for s in entry.subentries.values() if s.unique_id == camera_id]
    return subentry


# The NVR entry ----------------------------------------------------------------------------------


async def test_user_flow_creates_entry(
    hass: HomeAssistant, tmp_path: Path, mock_setup: AsyncMock
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    assert suggested(result, CONF_STORAGE_PATH) == str(
        Path(hass.config.media_dirs["local"]) / "lookback"
    )
    assert suggested(result, CONF_SMTP_PORT) == 2525

    storage = tmp_path / "nested" / "clips"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], nvr_data(storage, **{CONF_SMTP_HOST: " 127.0.0.1 "})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == NAME
    assert result["data"] == nvr_data(storage, **{CONF_SMTP_HOST: "127.0.0.1"})
    assert storage.is_dir()
    assert list(storage.iterdir()) == []  # the write test left nothing behind
    await hass.async_block_till_done()
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1
    assert mock_setup.call_count == 1


async def test_second_flow_aborts(hass: HomeAssistant) -> None:
    MockConfigEntry(domain=DOMAIN, title=NAME).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "single_instance_allowed"


def test_default_storage_path(hass: HomeAssistant) -> None:
    hass.config.media_dirs = {"recordings": "/srv/nvr", "local": "/media"}
    assert nvr_defaults(hass)[CONF_STORAGE_PATH] == "/srv/nvr/lookback"
    hass.config.media_dirs = {}
    assert nvr_defaults(hass)[CONF_STORAGE_PATH] == hass.config.path("media", "lookback")


async def test_storage_not_writable(hass: HomeAssistant, tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], nvr_data(a_file / "clips")
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_STORAGE_PATH: "storage_not_writable"}
    assert placeholders(result)["storage_error"] == "Not a directory"
    assert suggested(result, CONF_STORAGE_PATH) == str(a_file / "clips")  # input kept

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], nvr_data(tmp_path / "clips")
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_relative_storage_path_is_below_the_config_folder(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    hass.config.config_dir = str(tmp_path)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], nvr_data(Path("media/lookback"))
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_STORAGE_PATH] == str(tmp_path / "media" / "lookback")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (CONF_PRE_ROLL, -1),
        (CONF_PRE_ROLL, 31),
        (CONF_POST_ROLL, 301),
        (CONF_SMTP_PORT, 0),
        (CONF_SMTP_PORT, 65536),
        (CONF_STORAGE_MAX_GB, -0.5),
    ],
)
async def test_out_of_range_values_are_refused(
    hass: HomeAssistant, tmp_path: Path, key: str, value: float
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    with pytest.raises(InvalidData) as info:
        await hass.config_entries.flow.async_configure(
            result["flow_id"], nvr_data(tmp_path, **{key: value})
        )
    assert key in info.value.schema_errors


async def test_edges_of_ranges_are_accepted(hass: HomeAssistant, tmp_path: Path) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    data = nvr_data(tmp_path, **{CONF_PRE_ROLL: 30, CONF_POST_ROLL: 0, CONF_SMTP_PORT: 65535.0})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], data)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_SMTP_PORT] == 65535
    assert isinstance(result["data"][CONF_SMTP_PORT], int)


async def test_reconfigure_entry(hass: HomeAssistant, tmp_path: Path) -> None:
    entry = await add_nvr(hass, tmp_path)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    assert suggested(result, CONF_STORAGE_PATH) == str(tmp_path / "clips")
    assert suggested(result, CONF_POST_ROLL) == 20.0

    blocker = tmp_path / "blocker"
    blocker.write_text("")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], nvr_data(blocker))
    assert result["errors"] == {CONF_STORAGE_PATH: "storage_not_writable"}

    new = nvr_data(tmp_path / "elsewhere", **{CONF_SMTP_ENABLED: True, CONF_PRE_ROLL: 8.0})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], new)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert dict(entry.data) == new
    assert (tmp_path / "elsewhere").is_dir()


# Adding a camera -----------------------------------------------------------------------------


async def test_add_camera_probes_and_confirms(
    hass: HomeAssistant, tmp_path: Path, rtsp_camera: CameraFactory, make_media: ClipFactory
) -> None:
    main = make_media(width=640, height=360, fps=10, seconds=6, gop_seconds=2, audio="aac")
    sub = make_media(width=320, height=180, fps=10, seconds=6, gop_seconds=2)
    camera = rtsp_camera({"/main": main, "/sub": sub}, user="admin", password="p@ss:w/rd")
    entry = await add_nvr(hass, tmp_path)

    result = await start_camera_flow(hass, entry)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert suggested(result, CONF_PRE_ROLL) == 4.0  # the NVR's defaults
    assert suggested(result, CONF_POST_ROLL) == 20.0
    assert suggested(result, CONF_TRANSPORT) == "tcp"

    user_input = camera_input(
        camera.url_for("/main", auth=False),
        **{
            CONF_DETECT_URL: camera.url_for("/nope", auth=False),
            CONF_SNAPSHOT_URL: "http://127.0.0.1/snap.jpg",
            CONF_USERNAME: "admin",
            CONF_PASSWORD: "p@ss:w/rd",
        },
    )
    # The main stream is fine, the detection stream's path is wrong: the error is on its field.
    result = await submit(hass, result, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_DETECT_URL: "not_found"}

    user_input[CONF_DETECT_URL] = camera.url_for("/sub", auth=False)
    result = await submit(hass, result, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"] == {
        "name": "Front door",
        "video_codec": "H.264",
        "resolution": "640x360",
        "fps": "10",
        "keyframe_interval": "2 s",
        "audio": "AAC",
    }

    result = await submit(hass, result, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Front door"
    subentry = only_subentry(entry, "front_door")
    assert subentry.title == "Front door"
    webhook_id = subentry.data["webhook_id"]
    assert len(webhook_id) >= 32  # the webhook's only secret
    assert dict(subentry.data) == user_input | {
        CONF_CAMERA_ID: "front_door",
        "mail_address": "front_door",
        "webhook_id": webhook_id,
    }


async def test_credentials_in_the_url_move_to_the_fields(
    hass: HomeAssistant, tmp_path: Path, fake_probe: list[str]
) -> None:
    entry = await add_nvr(hass, tmp_path)
    result = await start_camera_flow(hass, entry)
    result = await submit(
        hass,
        result,
        camera_input(
            " rtsp://admin:s%40cret@cam.lan/s1 ", **{CONF_DETECT_URL: "rtsp://cam.lan/s2"}
        ),
    )
    assert result["step_id"] == "confirm"
    assert fake_probe == ["rtsp://admin:s%40cret@cam.lan/s1", "rtsp://admin:s%40cret@cam.lan/s2"]
    result = await submit(hass, result, {})
    data = only_subentry(entry, "front_door").data
    assert (data[CONF_URL], data[CONF_USERNAME], data[CONF_PASSWORD]) == (
        "rtsp://cam.lan/s1",
        "admin",
        "s@cret",
    )
    assert data[CONF_SNAPSHOT_URL] == ""


async def test_fields_win_over_url_credentials(
    hass: HomeAssistant, tmp_path: Path, fake_probe: list[str]
) -> None:
    entry = await add_nvr(hass, tmp_path)
    result = await start_camera_flow(hass, entry)
    user_input = camera_input(
        "rtsp://old:old@cam.lan/s1", **{CONF_USERNAME: "new", CONF_PASSWORD: "n:w"}
    )
    result = await submit(hass, result, user_input)
    assert fake_probe == ["rtsp://new:n%3Aw@cam.lan/s1"]


async def test_wrong_password_then_right_one(
    hass: HomeAssistant, tmp_path: Path, rtsp_camera: CameraFactory
) -> None:
    camera = rtsp_camera(fps=10, seconds=4, gop_seconds=1, user="admin", password="right")
    entry = await add_nvr(hass, tmp_path)
    user_input = camera_input(
        camera.url_for(auth=False), **{CONF_USERNAME: "admin", CONF_PASSWORD: "wrong"}
    )
    result = await camera_errors(hass, entry, user_input)
    assert result["errors"] == {"base": "auth_failed"}
    assert "wrong" not in placeholders(result)["error"]
    assert suggested(result, CONF_URL) == user_input[CONF_URL]  # what was typed stays

    result = await submit(hass, result, user_input | {CONF_PASSWORD: "right"})
    assert result["step_id"] == "confirm"
    assert placeholders(result)["audio"] == "—"


async def test_wrong_path_is_not_found(
    hass: HomeAssistant, tmp_path: Path, rtsp_camera: CameraFactory
) -> None:
    camera = rtsp_camera(seconds=4)
    entry = await add_nvr(hass, tmp_path)
    result = await camera_errors(hass, entry, camera_input(camera.url_for("/nope")))
    assert result["errors"] == {"base": "not_found"}


async def test_stopped_camera_is_unreachable(
    hass: HomeAssistant, tmp_path: Path, rtsp_camera: CameraFactory
) -> None:
    camera = rtsp_camera(seconds=4)
    url = camera.url
    camera.stop()
    entry = await add_nvr(hass, tmp_path)
    result = await camera_errors(hass, entry, camera_input(url))
    assert result["errors"] == {"base": "unreachable"}


@pytest.mark.usefixtures("socket_enabled")
async def test_silent_camera_is_a_timeout(
    hass: HomeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flow_probe, "PROBE_TIMEOUT_S", 1.0)
    entry = await add_nvr(hass, tmp_path)
    with silent_listener() as port:
        result = await camera_errors(hass, entry, camera_input(f"rtsp://127.0.0.1:{port}/x"))
    assert result["errors"] == {"base": "timeout"}


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("audio.m4a", "not_video"),
        ("login.html", "not_video"),
        ("mjpeg.avi", "unsupported_codec"),
        ("error500", "unknown"),
    ],
)
async def test_http_urls_that_are_not_camera_video(
    hass: HomeAssistant, tmp_path: Path, path: str, error: str
) -> None:
    media = tmp_path / "www"
    media.mkdir()
    write_media_files(media)
    entry = await add_nvr(hass, tmp_path)
    with serve_directory(media) as base:
        result = await camera_errors(hass, entry, camera_input(f"{base}/{path}"))
    assert result["errors"] == {"base": error}
    if error == "unknown":  # FFmpeg's words help where no translated reason fits
        assert "5XX" in placeholders(result)["error"]


async def test_unexpected_probe_failure_is_unknown(
    hass: HomeAssistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await add_nvr(hass, tmp_path)
    with patch.object(flow_probe, "probe_source", side_effect=RuntimeError("bug")):
        result = await camera_errors(hass, entry, camera_input("rtsp://cam.lan/s1"))
    assert result["errors"] == {"base": "unknown"}
    assert placeholders(result)["error"] == "unexpected error, see the log"
    assert "Unexpected error probing a camera" in caplog.text


async def test_stalled_or_ended_probe_is_unknown(hass: HomeAssistant, tmp_path: Path) -> None:
    entry = await add_nvr(hass, tmp_path)
    error = SourceError(SourceErrorKind.ENDED, "the stream ended")
    with patch.object(flow_probe, "probe_source", side_effect=error):
        result = await camera_errors(hass, entry, camera_input("rtsp://cam.lan/s1"))
    assert result["errors"] == {"base": "unknown"}
    assert placeholders(result)["error"] == "the stream ended"


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({CONF_URL: "ftp://cam.lan/s1"}, {CONF_URL: "invalid_url"}),
        ({CONF_URL: "cam.lan/s1"}, {CONF_URL: "invalid_url"}),
        ({CONF_URL: "rtsp://cam.lan:99999/s1"}, {CONF_URL: "invalid_url"}),
        ({CONF_DETECT_URL: "rtsp:///sub"}, {CONF_DETECT_URL: "invalid_url"}),
        ({CONF_SNAPSHOT_URL: "rtsp://cam.lan/s1"}, {CONF_SNAPSHOT_URL: "invalid_snapshot_url"}),
        ({CONF_SNAPSHOT_URL: "http://"}, {CONF_SNAPSHOT_URL: "invalid_snapshot_url"}),
        (
            {CONF_URL: "http//cam", CONF_SNAPSHOT_URL: "ftp://x"},
            {CONF_URL: "invalid_url", CONF_SNAPSHOT_URL: "invalid_snapshot_url"},
        ),
    ],
)
async def test_invalid_urls_are_refused_before_probing(
    hass: HomeAssistant,
    tmp_path: Path,
    fake_probe: list[str],
    changes: dict[str, str],
    errors: dict[str, str],
) -> None:
    entry = await add_nvr(hass, tmp_path)
    result = await camera_errors(hass, entry, camera_input("rtsp://cam.lan/s1", **changes))
    assert result["errors"] == errors
    assert fake_probe == []


async def test_duplicate_url_is_an_error_on_the_field(
    hass: HomeAssistant, tmp_path: Path, fake_probe: list[str]
) -> None:
    entry = await add_nvr(hass, tmp_path, camera_subentry("gate", "rtsp://cam.lan/s1"))
    result = await start_camera_flow(hass, entry)
    result = await submit(hass, result, camera_input("rtsp://admin:pw@CAM.lan:554/s1"))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_URL: "url_taken"}
    assert suggested(result, CONF_NAME) == "Front door"  # what was typed is kept
    assert fake_probe == []


async def test_camera_ids_are_unique_slugs(
    hass: HomeAssistant, tmp_path: Path, fake_probe: list[str]
) -> None:
    entry = await add_nvr(
        hass,
        tmp_path,
        camera_subentry("front_door", "rtsp://cam1/s"),
        camera_subentry("front_door_2", "rtsp://cam2/s"),
    )
    for name, url, expected in (
        ("Front door", "rtsp://cam3/s", "front_door_3"),
        ("📷 !!!", "rtsp://cam4/s", "camera"),
        ("📷", "rtsp://cam5/s", "camera_2"),
    ):
        result = await submit(
            hass, await start_camera_flow(hass, entry), camera_input(url, **{CONF_NAME: name})
        )
        result = await submit(hass, result, {})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        subentry = only_subentry(entry, expected)
        assert subentry.data[CONF_CAMERA_ID] == expected
        assert subentry.title == name


@pytest.mark.parametrize(
    ("name", "taken", "expected"),
    [
        ("Front Door", set(), "front_door"),
        ("Caméra Jardín", set(), "camera_jardin"),
        ("Garage-2", set(), "garage_2"),
        ("  _Back yard_ ", set(), "back_yard"),
        ("unknown", set(), "unknown"),
        ("!!!", set(), "camera"),
        ("", {"camera"}, "camera_2"),
        ("x" * 80, set(), "x" * 64),
        ("x" * 80, {"x" * 64}, "x" * 62 + "_2"),
        ("a", {"a", "a_2", "a_3"}, "a_4"),
    ],
)
def test_camera_id_for(name: str, taken: set[str], expected: str) -> None:
    camera_id = camera_id_for(name, taken)
    assert camera_id == expected
    assert camera_flow.CAMERA_ID_PATTERN.match(camera_id)


def test_confirm_placeholders_format() -> None:
    assert flow_probe.describe_probe(ProbeResult("hevc", 2560, 1440, 29.97, 1.0, "pcm_mulaw")) == {
        "video_codec": "H.265",
        "resolution": "2560x1440",
        "fps": "30",
        "keyframe_interval": "1 s",
        "audio": "G.711 µ-law",
    }
    assert flow_probe.describe_probe(ProbeResult("h264", 0, 0, None, None, "adpcm_g722")) == {
        "video_codec": "H.264",
        "resolution": "—",
        "fps": "—",
        "keyframe_interval": "—",
        "audio": "ADPCM_G722",
    }


# Reconfiguring a camera -------------------------------------------------------------------------


async def test_reconfigure_camera_keeps_password_and_id(
    hass: HomeAssistant, tmp_path: Path, rtsp_camera: CameraFactory
) -> None:
    camera = rtsp_camera(seconds=4, gop_seconds=1, user="admin", password="s3cret")
    url = camera.url_for(auth=False)
    entry = await add_nvr(
        hass,
        tmp_path,
        camera_subentry(
            "porch",
            url,
            title="Porch",
            **{
                CONF_USERNAME: "admin",
                CONF_PASSWORD: "s3cret",
                CONF_MOTION_ZONES: "door: 0,0 1,0 1,1",
                "mail_channel": 4,
            },
        ),
    )
    subentry = only_subentry(entry, "porch")
    webhook_id = subentry.data["webhook_id"]
    result = await start_camera_reconfigure(hass, entry, subentry, "camera")
    assert suggested(result, CONF_URL) == url
    assert suggested(result, CONF_USERNAME) == "admin"
    assert suggested(result, CONF_PASSWORD) is None  # never sent to the browser

    # An empty password keeps the stored one: the probe only passes with it.
    changes = {CONF_NAME: "Porch (east)", CONF_USERNAME: "admin", CONF_POST_ROLL: 42.0}
    result = await submit(hass, result, camera_input(url, **changes))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    subentry = only_subentry(entry, "porch")
    assert subentry.title == "Porch (east)"
    assert subentry.data[CONF_CAMERA_ID] == "porch"
    assert subentry.data[CONF_PASSWORD] == "s3cret"
    assert subentry.data[CONF_POST_ROLL] == 42.0
    # The other steps' settings stay: motion zones, the mail channel, the webhook.
    assert subentry.data[CONF_MOTION_ZONES] == "door: 0,0 1,0 1,1"
    assert subentry.data["mail_channel"] == 4
    assert subentry.data["webhook_id"] == webhook_id


async def test_reconfigure_camera_probe_failure_and_duplicate(
    hass: HomeAssistant, tmp_path: Path, fake_probe: list[str]
) -> None:
    entry = await add_nvr(
        hass,
        tmp_path,
        camera_subentry("porch", "rtsp://cam1/s", **{CONF_USERNAME: "u", CONF_PASSWORD: "p"}),
        camera_subentry("gate", "rtsp://cam2/s"),
    )
    subentry = only_subentry(entry, "porch")
    result = await start_camera_reconfigure(hass, entry, subentry, "camera")
    with patch.object(
        flow_probe, "probe_source", side_effect=SourceError(SourceErrorKind.AUTH_FAILED, "401")
    ):
        result = await submit(
            hass, result, camera_input("rtsp://cam1/s", **{CONF_PASSWORD: "typo"})
        )
    assert result["step_id"] == "camera"
    assert result["errors"] == {"base": "auth_failed"}
    assert suggested(result, CONF_PASSWORD) == "typo"  # the user's own input, shown back

    result = await submit(hass, result, camera_input("rtsp://cam2/s"))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_URL: "url_taken"}
    assert only_subentry(entry, "porch").data[CONF_URL] == "rtsp://cam1/s"


# Motion settings ------------------------------------------------------------------------------


def motion_input(**changes: Any) -> dict[str, Any]:
    return {
        CONF_MOTION_SENSITIVITY: 60,
        CONF_MOTION_MIN_AREA: 0.5,
        CONF_MOTION_MIN_DURATION: 8,
        CONF_MOTION_ACTIVE_FPS: 3,
    } | changes


async def test_motion_settings_saved_with_masks_and_zones(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    entry = await add_nvr(hass, tmp_path, camera_subentry("porch", "rtsp://cam1/s"))
    subentry = only_subentry(entry, "porch")
    result = await start_camera_reconfigure(hass, entry, subentry, "motion")
    assert suggested(result, CONF_MOTION_SENSITIVITY) == 50.0  # defaults for a new camera
    assert suggested(result, CONF_MOTION_ACTIVE_FPS) == 5.0
    assert placeholders(result)["name"] == subentry.title

    masks = "  0,0 1,0 1,0.1 0,0.1\n\n0.8,0.8 1,0.8 1,1  "
    zones = "driveway: 0,0.6 1,0.6 1,1 0,1\nPorch steps: 0.2,0.2 0.4,0.2 0.4,0.5"
    result = await submit(
        hass, result, motion_input(**{CONF_MOTION_MASKS: masks, CONF_MOTION_ZONES: zones})
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    data = only_subentry(entry, "porch").data
    assert data[CONF_MOTION_MASKS] == masks.strip()
    assert data[CONF_MOTION_ZONES] == zones
    assert data[CONF_MOTION_SENSITIVITY] == 60
    assert data[CONF_URL] == "rtsp://cam1/s"  # the stream settings are untouched

    # Reopened, the form shows what was saved.
    result = await start_camera_reconfigure(hass, entry, only_subentry(entry, "porch"), "motion")
    assert suggested(result, CONF_MOTION_ZONES) == zones
    assert suggested(result, CONF_MOTION_MIN_DURATION) == 8


@pytest.mark.parametrize(
    ("field", "text", "error", "line", "shown"),
    [
        (CONF_MOTION_MASKS, "0,0 1,0 1,1\n0,0 0.5;0.5 1,1", "polygon_bad_point", "2", "0.5;0.5"),
        (CONF_MOTION_MASKS, "0,0 1.5,0 1,1", "polygon_out_of_range", "1", "1.5,0"),
        (CONF_MOTION_MASKS, "0,0 1,1", "polygon_too_few_points", "1", "0,0 1,1"),
        (CONF_MOTION_MASKS, "0,0 0.5,0.5 1,1", "polygon_no_area", "1", "0,0 0.5,0.5 1,1"),
        (CONF_MOTION_ZONES, "0,0 1,0 1,1", "polygon_missing_name", "1", "0,0 1,0 1,1"),
        (CONF_MOTION_ZONES, "a: 0,0 1,0 1,1\nA: 0,0 1,0 0,1", "polygon_duplicate_name", "2", "A"),
        (CONF_MOTION_ZONES, "#door: 0,0 1,0 1,1", "polygon_bad_name", "1", "#door"),
    ],
)
async def test_motion_settings_errors_name_the_line(
    hass: HomeAssistant,
    tmp_path: Path,
    field: str,
    text: str,
    error: str,
    line: str,
    shown: str,
) -> None:
    entry = await add_nvr(hass, tmp_path, camera_subentry("porch", "rtsp://cam1/s"))
    before = dict(only_subentry(entry, "porch").data)
    result = await start_camera_reconfigure(hass, entry, only_subentry(entry, "porch"), "motion")
    result = await submit(hass, result, motion_input(**{field: text}))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}
    assert placeholders(result)["line"] == line
    assert placeholders(result)["text"] == shown
    assert suggested(result, field) == text  # what was typed stays in the form
    assert dict(only_subentry(entry, "porch").data) == before


# Reauth -------------------------------------------------------------------------------------------


def reauth_flows(hass: HomeAssistant) -> list[Any]:
    return [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == "reauth"
    ]


async def start_reauth(hass: HomeAssistant, entry: ConfigEntry, subentry_id: str) -> Any:
    async_start_camera_reauth(hass, entry, subentry_id)
    await hass.async_block_till_done()
    (flow,) = reauth_flows(hass)
    return flow


async def test_reauth_updates_the_camera(
    hass: HomeAssistant, tmp_path: Path, rtsp_camera: CameraFactory, mock_setup: AsyncMock
) -> None:
    camera = rtsp_camera(seconds=4, gop_seconds=1, user="admin", password="new-pw")
    url = camera.url_for(auth=False)
    stored = {CONF_USERNAME: "admin", CONF_PASSWORD: "old-pw"}
    entry = await add_nvr(hass, tmp_path, camera_subentry("yard", url, title="Yard", **stored))
    subentry = only_subentry(entry, "yard")

    flow = await start_reauth(hass, entry, subentry.subentry_id)
    assert flow["step_id"] == "reauth_confirm"
    assert flow["context"]["title_placeholders"] == {"name": "Yard"}
    result = await hass.config_entries.flow.async_configure(flow["flow_id"])
    assert placeholders(result)["camera"] == "Yard"
    assert suggested(result, CONF_USERNAME) == "admin"
    assert suggested(result, CONF_PASSWORD) is None

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_USERNAME: "admin", CONF_PASSWORD: "still-wrong"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "auth_failed"}
    assert only_subentry(entry, "yard").data[CONF_PASSWORD] == "old-pw"

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_USERNAME: " admin ", CONF_PASSWORD: "new-pw"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    data = only_subentry(entry, "yard").data
    assert (data[CONF_USERNAME], data[CONF_PASSWORD]) == ("admin", "new-pw")
    assert dict(data) == dict(subentry.data) | {CONF_PASSWORD: "new-pw"}
    await hass.async_block_till_done()
    # The changed subentry reloads the entry through the integration's update listener
    # (patched out here): the flow itself does not reload as well.
    assert mock_setup.call_count == 1


async def test_reauth_with_unchanged_credentials_reloads(
    hass: HomeAssistant, tmp_path: Path, fake_probe: list[str], mock_setup: AsyncMock
) -> None:
    stored = {CONF_USERNAME: "admin", CONF_PASSWORD: "pw"}
    entry = await add_nvr(hass, tmp_path, camera_subentry("yard", "rtsp://cam/s", **stored))
    flow = await start_reauth(hass, entry, only_subentry(entry, "yard").subentry_id)
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], stored)
    assert result["reason"] == "reauth_successful"
    assert fake_probe == ["rtsp://admin:pw@cam/s"]
    await hass.async_block_till_done()
    assert mock_setup.call_count == 2  # reloaded, so the camera is tried again at once


async def test_reauth_of_a_removed_camera(
    hass: HomeAssistant, tmp_path: Path, fake_probe: list[str]
) -> None:
    entry = await add_nvr(hass, tmp_path, camera_subentry("yard", "rtsp://cam/s"))
    subentry_id = only_subentry(entry, "yard").subentry_id

    async_start_camera_reauth(hass, entry, "no-such-subentry")
    await hass.async_block_till_done()
    assert reauth_flows(hass) == []

    flow = await start_reauth(hass, entry, subentry_id)
    assert hass.config_entries.async_remove_subentry(entry, subentry_id)
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "camera_not_found"
    assert fake_probe == []


async def test_reauth_without_a_camera_aborts(hass: HomeAssistant, tmp_path: Path) -> None:
    entry = await add_nvr(hass, tmp_path)
    entry.async_start_reauth(hass)  # e.g. HA's own ConfigEntryAuthFailed handling
    await hass.async_block_till_done()
    assert reauth_flows(hass) == []  # aborted at once


async def test_one_reauth_at_a_time(
    hass: HomeAssistant, tmp_path: Path, fake_probe: list[str]
) -> None:
    entry = await add_nvr(
        hass,
        tmp_path,
        camera_subentry("yard", "rtsp://cam1/s"),
        camera_subentry("gate", "rtsp://cam2/s"),
    )
    flow = await start_reauth(hass, entry, only_subentry(entry, "yard").subentry_id)
    async_start_camera_reauth(hass, entry, only_subentry(entry, "gate").subentry_id)
    await hass.async_block_till_done()
    assert [f["flow_id"] for f in reauth_flows(hass)] == [flow["flow_id"]]


# Strings -------------------------------------------------------------------------------------


def test_every_field_error_and_abort_is_translated(hass: HomeAssistant) -> None:
    strings = json.loads(STRINGS.read_text())
    config = strings["config"]
    camera = strings["config_subentries"]["camera"]
    forms = [
        (config, "user", nvr_schema(nvr_defaults(hass))),
        (config, "reconfigure", nvr_schema(nvr_defaults(hass))),
        (config, "reauth_confirm", REAUTH_SCHEMA),
        (camera, "user", camera_schema()),
        (camera, "camera", camera_schema()),
        (camera, "motion", motion_schema()),
        (camera, "objects", objects_schema(["person"])),
    ]
    for section, step, schema in forms:
        fields = {str(key) for key in schema.schema}
        assert set(section["step"][step]["data"]) == fields, step
        assert set(section["step"][step]["data_description"]) == fields, step
    assert "confirm" in camera["step"]
    assert set(camera["step"]["reconfigure"]["menu_options"]) == {
        "camera",
        "motion",
        "alerts",
        "objects",
    }
    # Every way a detector can fail has its form error, in the NVR form and the camera form.
    detector_errors = {f"detector_{kind.value}" for kind in DetectorErrorKind}
    assert detector_errors <= set(config["error"])
    assert set(strings["selector"]["detector"]["options"]) == set(DETECTOR_CHOICES)
    assert {f"polygon_{problem.value}" for problem in PolygonProblem} <= set(camera["error"])
    probe_errors = {kind.value for kind in PROBE_ERRORS} | {"unknown"}
    assert probe_errors <= set(config["error"])
    assert probe_errors | {"invalid_url", "invalid_snapshot_url"} <= set(camera["error"])
    assert "storage_not_writable" in config["error"]
    assert {"single_instance_allowed", "reauth_successful", "camera_not_found"} <= set(
        config["abort"]
    )
    assert "url_taken" in camera["error"]
    assert set(strings["selector"]["transport"]["options"]) == {"tcp", "udp"}


# The NVR's SMTP settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"smtp_host": "my host"}, {"smtp_host": "invalid_bind_address"}),
        ({"smtp_username": "cam"}, {"smtp_password": "smtp_password_missing"}),
        (
            {"smtp_username": "cam", "smtp_password": "pw"},
            {"smtp_auth_without_tls": "smtp_auth_needs_tls"},
        ),
    ],
)
async def test_smtp_settings_that_cannot_work_are_refused(
    hass: HomeAssistant, tmp_path: Path, changes: dict[str, Any], errors: dict[str, str]
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], nvr_data(tmp_path, **{CONF_SMTP_ENABLED: True} | changes)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors


async def test_smtp_password_is_kept_and_never_shown(hass: HomeAssistant, tmp_path: Path) -> None:
    entry = await add_nvr(hass, tmp_path)
    result = await entry.start_reconfigure_flow(hass)
    login = {"smtp_username": "cam", "smtp_password": "s3cret", "smtp_starttls": True}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], nvr_data(tmp_path / "clips", **login)
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["smtp_password"] == "s3cret"
    result = await entry.start_reconfigure_flow(hass)
    assert suggested(result, "smtp_username") == "cam"
    assert suggested(result, "smtp_password") is None  # the stored password stays server-side
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], nvr_data(tmp_path / "clips", **login | {"smtp_password": ""})
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["smtp_password"] == "s3cret"


# A camera's alerts ------------------------------------------------------------------------------


def alerts_input(**changes: Any) -> dict[str, Any]:
    return {
        "mail_address": "frontdoor",
        "mail_channel": 0,
        "onvif_enabled": False,
        "onvif_port": 80,
        "onvif_events": ["motion", "person"],
        "trigger_entities": [],
        "alert_hold": 20,
    } | changes


async def test_alerts_step_shows_where_to_send_and_saves(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    entry = await add_nvr(hass, tmp_path, camera_subentry("porch", "rtsp://cam1/s"))
    subentry = only_subentry(entry, "porch")
    assert subentry.data["mail_address"] == "porch"  # given by the 1.2 migration
    result = await start_camera_reconfigure(hass, entry, subentry, "alerts")
    assert suggested(result, "mail_address") == "porch"
    assert suggested(result, "onvif_enabled") is False
    shown = placeholders(result)
    assert shown["mail_address"] == "porch@lookback"
    assert shown["smtp_server"] == "10.10.10.10:2525"  # the LAN address (mocked in tests)
    assert shown["webhook_url"].endswith(f"/api/webhook/{subentry.data['webhook_id']}")

    result = await submit(
        hass,
        result,
        alerts_input(
            mail_address=" Front.Door@nvr.local ",
            mail_channel=3,
            trigger_entities=["binary_sensor.pir"],
        ),
    )
    assert result["type"] is FlowResultType.ABORT
    data = only_subentry(entry, "porch").data
    assert data["mail_address"] == "Front.Door"
    assert data["mail_channel"] == 3
    assert data["trigger_entities"] == ["binary_sensor.pir"]
    assert data["onvif_events"] == ["motion", "person"]
    assert data[CONF_URL] == "rtsp://cam1/s"


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"mail_address": "front door"}, {"mail_address": "invalid_mail_address"}),
        ({"mail_address": "<x>"}, {"mail_address": "invalid_mail_address"}),
        ({"mail_address": "dvr", "mail_channel": 2}, {"mail_channel": "mail_channel_taken"}),
    ],
)
async def test_alerts_step_errors(
    hass: HomeAssistant, tmp_path: Path, changes: dict[str, Any], errors: dict[str, str]
) -> None:
    entry = await add_nvr(
        hass,
        tmp_path,
        camera_subentry("porch", "rtsp://cam1/s"),
        camera_subentry("yard", "rtsp://cam2/s", mail_address="DVR", mail_channel=2),
    )
    result = await start_camera_reconfigure(hass, entry, only_subentry(entry, "porch"), "alerts")
    result = await submit(hass, result, alerts_input(**changes))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors


@pytest.mark.usefixtures("socket_enabled")
async def test_alerts_step_checks_onvif(hass: HomeAssistant, tmp_path: Path) -> None:
    onvif = OnvifTestServer("admin", "secret")
    port = await onvif.start()
    try:
        entry = await add_nvr(
            hass,
            tmp_path,
            camera_subentry(
                "porch", "rtsp://127.0.0.1:554/s", **{CONF_USERNAME: "admin", CONF_PASSWORD: "x"}
            ),
        )
        result = await start_camera_reconfigure(
            hass, entry, only_subentry(entry, "porch"), "alerts"
        )
        # The stream's login is wrong for ONVIF: the form says so.
        result = await submit(hass, result, alerts_input(onvif_enabled=True, onvif_port=port))
        assert result["errors"] == {"base": "onvif_auth_failed"}
        # Nothing listens on this port.
        result = await submit(
            hass,
            result,
            alerts_input(onvif_enabled=True, onvif_port=unused_port(), onvif_password="secret"),
        )
        assert result["errors"] == {"base": "onvif_unreachable"}
        assert placeholders(result)["error"]
        result = await submit(
            hass,
            result,
            alerts_input(onvif_enabled=True, onvif_port=port, onvif_password="secret"),
        )
        assert result["type"] is FlowResultType.ABORT
        data = only_subentry(entry, "porch").data
        assert data["onvif_port"] == port
        assert data["onvif_password"] == "secret"
        assert data["onvif_host"] == ""  # the stream URL's host
    finally:
        await onvif.stop()


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_alerts_step_onvif_needs_an_event(hass: HomeAssistant, tmp_path: Path) -> None:
    entry = await add_nvr(hass, tmp_path, camera_subentry("porch", "rtsp://cam1/s"))
    result = await start_camera_reconfigure(hass, entry, only_subentry(entry, "porch"), "alerts")
    result = await submit(hass, result, alerts_input(onvif_enabled=True, onvif_events=[]))
    assert result["errors"] == {"onvif_events": "onvif_events_empty"}
