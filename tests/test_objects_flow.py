"""Config flow of object detection: the NVR's detector is tried before saving; the camera's step.

The local detector is the real runtime and bundled model; the remote one is the local test
server (no CodeProject.AI or DeepStack server installs here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.requirements import RequirementsNotFound
import pytest

from custom_components.lookback.const import (
    CONF_DETECTOR,
    CONF_DETECTOR_API_KEY,
    CONF_DETECTOR_MODEL,
    CONF_DETECTOR_URL,
    CONF_OBJECT_FPS,
    CONF_OBJECT_INTERVAL,
    CONF_OBJECT_LABELS,
    CONF_OBJECT_MASKS,
    CONF_OBJECT_MAX_AREA,
    CONF_OBJECT_MIN_AREA,
    CONF_OBJECT_MIN_FRAMES,
    CONF_OBJECT_MIN_SCORE,
    CONF_OBJECT_MODEL,
    CONF_OBJECTS_ENABLED,
)
from tests.sim.detection_server import DetectionTestServer
from tests.test_config_flow import (
    add_nvr,
    camera_subentry,
    mock_setup,  # noqa: F401 - the autouse fixture: entries set up without camera threads
    nvr_data,
    only_subentry,
    placeholders,
    start_camera_reconfigure,
    submit,
    suggested,
)


def objects_input(**changes: Any) -> dict[str, Any]:
    return {
        CONF_OBJECTS_ENABLED: True,
        CONF_OBJECT_LABELS: ["person", "car"],
        CONF_OBJECT_MIN_SCORE: 70,
        CONF_OBJECT_MIN_AREA: 0.5,
        CONF_OBJECT_MAX_AREA: 60,
        CONF_OBJECT_MIN_FRAMES: 3,
        CONF_OBJECT_FPS: 1,
        CONF_OBJECT_INTERVAL: 30,
        CONF_OBJECT_MASKS: "",
        CONF_OBJECT_MODEL: "",
    } | changes


async def reconfigure_nvr(
    hass: HomeAssistant, tmp_path: Path, **changes: Any
) -> tuple[Any, dict[str, Any]]:
    entry = await add_nvr(hass, tmp_path)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], nvr_data(tmp_path / "clips", **changes)
    )
    return result, dict(entry.data)


async def test_local_detector_with_bundled_model_is_saved(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    result, data = await reconfigure_nvr(hass, tmp_path, **{CONF_DETECTOR: "local"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert data[CONF_DETECTOR] == "local"
    assert data[CONF_DETECTOR_MODEL] == ""


async def test_runtime_that_cannot_install_is_named_in_the_form(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    with patch(
        "custom_components.lookback.detector_hub.async_process_requirements",
        side_effect=RequirementsNotFound("lookback", ["ai-edge-litert>=2.0.0"]),
    ):
        result, data = await reconfigure_nvr(hass, tmp_path, **{CONF_DETECTOR: "local"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_DETECTOR: "detector_runtime_missing"}
    assert data[CONF_DETECTOR] == "off"  # nothing saved


@pytest.mark.parametrize(
    ("content", "labels", "error"),
    [
        (None, None, "detector_model_missing"),
        (b"garbage", "person\n", "detector_model_invalid"),
    ],
)
async def test_own_model_that_does_not_load_is_named(
    hass: HomeAssistant, tmp_path: Path, content: bytes | None, labels: str | None, error: str
) -> None:
    model = tmp_path / "mine.tflite"
    if content is not None:
        model.write_bytes(content)
    if labels is not None:
        (tmp_path / "mine.txt").write_text(labels)
    result, _ = await reconfigure_nvr(
        hass, tmp_path, **{CONF_DETECTOR: "local", CONF_DETECTOR_MODEL: f" {model} "}
    )
    assert result["errors"] == {CONF_DETECTOR_MODEL: error}
    assert placeholders(result)["detector_error"]


async def test_remote_url_must_be_http(hass: HomeAssistant, tmp_path: Path) -> None:
    result, _ = await reconfigure_nvr(
        hass, tmp_path, **{CONF_DETECTOR: "remote", CONF_DETECTOR_URL: "rtsp://host/x"}
    )
    assert result["errors"] == {CONF_DETECTOR_URL: "invalid_detector_url"}


@pytest.mark.usefixtures("socket_enabled")
async def test_remote_server_is_asked_before_saving(hass: HomeAssistant, tmp_path: Path) -> None:
    async with DetectionTestServer(api_key="k3y") as server:
        entry = await add_nvr(hass, tmp_path)
        result = await entry.start_reconfigure_flow(hass)

        def remote(key: str) -> dict[str, Any]:
            return nvr_data(
                tmp_path / "clips",
                **{
                    CONF_DETECTOR: "remote",
                    CONF_DETECTOR_URL: server.url,
                    CONF_DETECTOR_API_KEY: key,
                },
            )

        result = await hass.config_entries.flow.async_configure(result["flow_id"], remote("x"))
        assert result["errors"] == {CONF_DETECTOR_URL: "detector_unauthorized"}
        assert suggested(result, CONF_DETECTOR_URL) == server.url
        result = await hass.config_entries.flow.async_configure(result["flow_id"], remote("k3y"))
        assert result["type"] is FlowResultType.ABORT
        assert entry.data[CONF_DETECTOR_URL] == server.url
        assert entry.data[CONF_DETECTOR_API_KEY] == "k3y"
        assert len(server.requests) == 2

        # Reopened, the form never shows the key; left empty, the stored one is kept.
        result = await entry.start_reconfigure_flow(hass)
        assert suggested(result, CONF_DETECTOR_API_KEY) is None
        result = await hass.config_entries.flow.async_configure(result["flow_id"], remote(""))
        assert result["type"] is FlowResultType.ABORT
        assert entry.data[CONF_DETECTOR_API_KEY] == "k3y"


@pytest.mark.usefixtures("socket_enabled")
async def test_remote_server_down_is_named(hass: HomeAssistant, tmp_path: Path) -> None:
    result, _ = await reconfigure_nvr(
        hass, tmp_path, **{CONF_DETECTOR: "remote", CONF_DETECTOR_URL: "http://127.0.0.1:9"}
    )
    assert result["errors"] == {CONF_DETECTOR_URL: "detector_unreachable"}


async def test_camera_objects_step_saves_settings(hass: HomeAssistant, tmp_path: Path) -> None:
    entry = await add_nvr(hass, tmp_path, camera_subentry("porch", "rtsp://cam1/s"))
    result = await start_camera_reconfigure(hass, entry, only_subentry(entry, "porch"), "objects")
    assert suggested(result, CONF_OBJECT_LABELS) == [
        "person",
        "car",
        "truck",
        "bicycle",
        "motorcycle",
        "dog",
        "cat",
    ]
    assert suggested(result, CONF_OBJECT_MIN_SCORE) == 60
    assert placeholders(result)["detector"] == "off"
    options = result["data_schema"].schema[CONF_OBJECT_LABELS].config["options"]
    assert len(options) == 80  # the bundled model's labels
    assert "toothbrush" in options

    mask = "0.6,0.3 1,0.3 1,0.6 0.6,0.6"
    result = await submit(hass, result, objects_input(**{CONF_OBJECT_MASKS: f" {mask} "}))
    assert result["type"] is FlowResultType.ABORT
    data = only_subentry(entry, "porch").data
    assert data[CONF_OBJECT_LABELS] == ["person", "car"]
    assert data[CONF_OBJECT_MASKS] == mask
    assert data["url"] == "rtsp://cam1/s"  # the rest is kept


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({CONF_OBJECT_LABELS: []}, {CONF_OBJECT_LABELS: "object_labels_empty"}),
        (
            {CONF_OBJECT_MIN_AREA: 5, CONF_OBJECT_MAX_AREA: 5},
            {CONF_OBJECT_MAX_AREA: "object_area_range"},
        ),
        ({CONF_OBJECT_MASKS: "0,0 1,1"}, {CONF_OBJECT_MASKS: "polygon_too_few_points"}),
        ({CONF_OBJECT_MODEL: "/nowhere/m.tflite"}, {CONF_OBJECT_MODEL: "detector_model_missing"}),
    ],
)
async def test_camera_objects_errors(
    hass: HomeAssistant, tmp_path: Path, changes: dict[str, Any], errors: dict[str, str]
) -> None:
    entry = await add_nvr(hass, tmp_path, camera_subentry("porch", "rtsp://cam1/s"))
    before = dict(only_subentry(entry, "porch").data)
    result = await start_camera_reconfigure(hass, entry, only_subentry(entry, "porch"), "objects")
    result = await submit(hass, result, objects_input(**changes))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert dict(only_subentry(entry, "porch").data) == before
