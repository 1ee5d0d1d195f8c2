"""Config flow checks and the camera's "objects" step: the detector is tried before saving.

Local: the TFLite runtime is installed (on demand) and the model loaded, so a musl system, a
wrong path or a model that is not a detector is named in the form. Remote: the server is sent
a small picture, so a wrong URL, key or a server that is down is named too.
"""

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import Any

from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .camera_objects import object_entity_key
from .config_schemas import objects_defaults, objects_schema
from .const import (
    CONF_DETECTOR,
    CONF_DETECTOR_API_KEY,
    CONF_DETECTOR_MODEL,
    CONF_DETECTOR_URL,
    CONF_OBJECT_LABELS,
    CONF_OBJECT_MASKS,
    CONF_OBJECT_MAX_AREA,
    CONF_OBJECT_MIN_AREA,
    CONF_OBJECT_MODEL,
    DETECTOR_CHECK_TIMEOUT_S,
    DETECTOR_LOCAL,
    DETECTOR_OFF,
    DETECTOR_REMOTE,
)
from .core.objects.errors import DetectorError
from .core.objects.model import BUNDLED_LABELS, load_labels
from .core.objects.remote import RemoteDetector
from .core.polygons import PolygonError, parse_masks
from .core.urls import HTTP_SCHEMES, validate_stream_url
from .detector_hub import async_ensure_runtime, load_local_detector

_LOGGER = logging.getLogger(__name__)


def _error(err: DetectorError, placeholders: dict[str, str]) -> str:
    placeholders["detector_error"] = err.message
    return f"detector_{err.kind.value}"


async def async_local_model_errors(
    hass: HomeAssistant, model: str | None, field: str, placeholders: dict[str, str]
) -> dict[str, str]:
    """Install the runtime and load ``model`` (None: the bundled one); a form error if not."""
    try:
        await async_ensure_runtime(hass)
        detector = await hass.async_add_executor_job(load_local_detector, model)
    except DetectorError as err:
        return {field: _error(err, placeholders)}
    detector.close()
    return {}


async def async_detector_errors(
    hass: HomeAssistant, data: Mapping[str, Any], placeholders: dict[str, str]
) -> dict[str, str]:
    """Check the NVR's detector settings as the detector will use them."""
    choice = data.get(CONF_DETECTOR) or DETECTOR_OFF
    if choice == DETECTOR_LOCAL:
        model = str(data.get(CONF_DETECTOR_MODEL) or "").strip() or None
        return await async_local_model_errors(
            hass, model, CONF_DETECTOR_MODEL if model else CONF_DETECTOR, placeholders
        )
    if choice == DETECTOR_REMOTE:
        url = str(data.get(CONF_DETECTOR_URL) or "").strip()
        try:
            validate_stream_url(url, schemes=HTTP_SCHEMES)
        except ValueError:
            return {CONF_DETECTOR_URL: "invalid_detector_url"}
        remote = RemoteDetector(
            url,
            async_get_clientsession(hass),
            hass.loop,
            timeout=DETECTOR_CHECK_TIMEOUT_S,
            api_key=str(data.get(CONF_DETECTOR_API_KEY) or "") or None,
        )
        try:
            await remote.async_check()
        except DetectorError as err:
            return {CONF_DETECTOR_URL: _error(err, placeholders)}
    return {}


def _clean_labels(labels: list[Any]) -> list[str]:
    """Typed labels stripped, without blanks and without ones that share a sensor's id."""
    kept: dict[str, str] = {}
    for label in labels:
        text = str(label).strip()
        if text:
            kept.setdefault(object_entity_key(text), text)
    return list(kept.values())


def _bundled_labels() -> list[str]:
    return list(load_labels(BUNDLED_LABELS).values())


class ObjectsStep(ConfigSubentryFlow):
    """The camera's "objects" step: what to detect, how sure, where not to look."""

    async def async_step_objects(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change object detection: labels, score, box sizes, frames, masks, own model."""
        subentry = self._get_reconfigure_subentry()
        entry = self._get_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = {
                **user_input,
                CONF_OBJECT_MASKS: str(user_input.get(CONF_OBJECT_MASKS) or "").strip(),
                CONF_OBJECT_MODEL: str(user_input.get(CONF_OBJECT_MODEL) or "").strip(),
                CONF_OBJECT_LABELS: _clean_labels(user_input.get(CONF_OBJECT_LABELS) or []),
            }
            errors = await self._async_objects_errors(data, placeholders)
            if not errors:
                return self.async_update_and_abort(entry, subentry, data=dict(subentry.data) | data)
        values = user_input or (objects_defaults() | dict(subentry.data))
        labels = await self.hass.async_add_executor_job(_bundled_labels)
        detector = str(entry.data.get(CONF_DETECTOR) or DETECTOR_OFF)
        return self.async_show_form(
            step_id="objects",
            data_schema=self.add_suggested_values_to_schema(objects_schema(labels), values),
            errors=errors,
            description_placeholders={"name": subentry.title, "detector": detector} | placeholders,
        )

    async def _async_objects_errors(
        self, data: Mapping[str, Any], placeholders: dict[str, str]
    ) -> dict[str, str]:
        if not data[CONF_OBJECT_LABELS]:
            return {CONF_OBJECT_LABELS: "object_labels_empty"}
        if float(data[CONF_OBJECT_MIN_AREA]) >= float(data[CONF_OBJECT_MAX_AREA]):
            return {CONF_OBJECT_MAX_AREA: "object_area_range"}
        try:
            parse_masks(data[CONF_OBJECT_MASKS])
        except PolygonError as err:
            placeholders["line"] = str(err.line)
            placeholders["text"] = err.text
            return {CONF_OBJECT_MASKS: f"polygon_{err.problem.value}"}
        if data[CONF_OBJECT_MODEL]:
            return await async_local_model_errors(
                self.hass, data[CONF_OBJECT_MODEL], CONF_OBJECT_MODEL, placeholders
            )
        return {}
