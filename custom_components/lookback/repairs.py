"""Repair issues: what the user must fix outside Lookback (storage, cameras, the SMTP port).

None is fixable from a repair flow: the fix is a disk, a folder's permissions, a camera, or
another program on the SMTP port (or another port in Lookback's settings).
Each issue is cleared by the code path that sees the problem gone.
"""

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN

ISSUE_STORAGE_NOT_WRITABLE = "storage_not_writable"
ISSUE_WRITE_FAILED = "write_failed"
ISSUE_SOURCE_DOWN = "source_down"
ISSUE_SMTP_PORT_IN_USE = "smtp_port_in_use"
ISSUE_SMTP_NOT_LISTENING = "smtp_not_listening"
ISSUE_DETECTOR_RUNTIME_MISSING = "detector_runtime_missing"
ISSUE_DETECTOR_MODEL = "detector_model"


def _create(
    hass: HomeAssistant,
    issue_id: str,
    translation_key: str,
    severity: ir.IssueSeverity,
    placeholders: dict[str, str],
) -> None:
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=severity,
        translation_key=translation_key,
        translation_placeholders=placeholders,
    )


@callback
def async_report_storage_not_writable(hass: HomeAssistant, path: str, error: str) -> None:
    """The storage folder cannot be written; setup retries until it can."""
    _create(
        hass,
        ISSUE_STORAGE_NOT_WRITABLE,
        ISSUE_STORAGE_NOT_WRITABLE,
        ir.IssueSeverity.ERROR,
        {"path": path, "error": error},
    )


@callback
def async_clear_storage_not_writable(hass: HomeAssistant) -> None:
    """The storage folder works again."""
    ir.async_delete_issue(hass, DOMAIN, ISSUE_STORAGE_NOT_WRITABLE)


@callback
def async_report_write_failed(
    hass: HomeAssistant, camera_id: str, camera: str, reason: str
) -> None:
    """A clip of this camera could not be written (disk full, I/O error); the rest is kept."""
    _create(
        hass,
        f"{ISSUE_WRITE_FAILED}_{camera_id}",
        ISSUE_WRITE_FAILED,
        ir.IssueSeverity.ERROR,
        {"camera": camera, "reason": reason},
    )


@callback
def async_clear_write_failed(hass: HomeAssistant, camera_id: str) -> None:
    """A clip of this camera was written again."""
    ir.async_delete_issue(hass, DOMAIN, f"{ISSUE_WRITE_FAILED}_{camera_id}")


def _source_down_id(camera_id: str) -> str:
    return f"{ISSUE_SOURCE_DOWN}_{camera_id}"


@callback
def async_report_source_down(hass: HomeAssistant, camera_id: str, camera: str, reason: str) -> None:
    """A camera's stream has been down for minutes."""
    _create(
        hass,
        _source_down_id(camera_id),
        ISSUE_SOURCE_DOWN,
        ir.IssueSeverity.WARNING,
        {"camera": camera, "reason": reason},
    )


@callback
def async_clear_source_down(hass: HomeAssistant, camera_id: str) -> None:
    """The camera's stream is up."""
    ir.async_delete_issue(hass, DOMAIN, _source_down_id(camera_id))


@callback
def async_report_smtp_not_listening(
    hass: HomeAssistant, host: str, port: int, error: str, *, in_use: bool
) -> None:
    """The SMTP server could not open its port: cameras' alert mail is refused."""
    async_clear_smtp_not_listening(hass)
    key = ISSUE_SMTP_PORT_IN_USE if in_use else ISSUE_SMTP_NOT_LISTENING
    _create(
        hass, key, key, ir.IssueSeverity.ERROR, {"host": host, "port": str(port), "error": error}
    )


@callback
def async_clear_smtp_not_listening(hass: HomeAssistant) -> None:
    """The SMTP server listens (or is switched off)."""
    for issue_id in (ISSUE_SMTP_PORT_IN_USE, ISSUE_SMTP_NOT_LISTENING):
        ir.async_delete_issue(hass, DOMAIN, issue_id)


@callback
def async_report_detector_runtime_missing(hass: HomeAssistant, requirement: str) -> None:
    """The TFLite runtime could not be installed (no wheel for this system, e.g. musl)."""
    _create(
        hass,
        ISSUE_DETECTOR_RUNTIME_MISSING,
        ISSUE_DETECTOR_RUNTIME_MISSING,
        ir.IssueSeverity.ERROR,
        {"requirement": requirement},
    )


@callback
def async_report_detector_model(hass: HomeAssistant, model: str, error: str) -> None:
    """The detection model does not load (missing, damaged, or not a detector)."""
    _create(
        hass,
        ISSUE_DETECTOR_MODEL,
        ISSUE_DETECTOR_MODEL,
        ir.IssueSeverity.ERROR,
        {"model": model, "error": error},
    )


@callback
def async_clear_detector(hass: HomeAssistant) -> None:
    """The detector works (or is switched off)."""
    for issue_id in (ISSUE_DETECTOR_RUNTIME_MISSING, ISSUE_DETECTOR_MODEL):
        ir.async_delete_issue(hass, DOMAIN, issue_id)


@callback
def async_clear_removed_cameras(hass: HomeAssistant, camera_ids: set[str]) -> None:
    """Drop camera issues of cameras no longer configured (only a reconnect clears them)."""
    prefixes = (f"{ISSUE_SOURCE_DOWN}_", f"{ISSUE_WRITE_FAILED}_")
    for domain, issue_id in list(ir.async_get(hass).issues):
        if domain != DOMAIN:
            continue
        for prefix in prefixes:
            if issue_id.startswith(prefix) and issue_id.removeprefix(prefix) not in camera_ids:
                ir.async_delete_issue(hass, DOMAIN, issue_id)


@callback
def async_clear_all(hass: HomeAssistant) -> None:
    """The integration is removed: none of its issues is left behind."""
    for domain, issue_id in list(ir.async_get(hass).issues):
        if domain == DOMAIN:
            ir.async_delete_issue(hass, DOMAIN, issue_id)
