"""HA tests: setting up, retrying and unloading the NVR entry (no camera needed)."""

from pathlib import Path
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lookback.const import DOMAIN, NAME
from custom_components.lookback.data import LookbackData
from custom_components.lookback.repairs import ISSUE_STORAGE_NOT_WRITABLE
from tests.ha_helpers import (
    UNREACHABLE_URL,
    async_setup_lookback,
    async_unload_lookback,
    nvr_entry_data,
)


def _state(hass: HomeAssistant, entry_id: str) -> ConfigEntryState:
    # A function call, so mypy does not carry a narrowed entry.state across awaits.
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    return entry.state


async def test_setup_and_unload_entry(hass: HomeAssistant, tmp_path: Path) -> None:
    entry = MockConfigEntry(domain=DOMAIN, title=NAME, data=nvr_entry_data(tmp_path / "clips"))
    entry.add_to_hass(hass)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert _state(hass, entry.entry_id) is ConfigEntryState.LOADED
    assert isinstance(entry.runtime_data, LookbackData)
    assert (tmp_path / "clips").is_dir()  # created and proven writable

    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, entry.entry_id), entry.entry_id
    )
    assert device is not None
    assert device.name == NAME
    used = hass.states.get("sensor.lookback_nvr_storage_used")
    free = hass.states.get("sensor.lookback_nvr_storage_free")
    assert used is not None
    assert free is not None
    assert used.state == "0.0"
    assert float(free.state) > 0

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert _state(hass, entry.entry_id) is ConfigEntryState.NOT_LOADED


async def test_unwritable_storage_retries_with_a_repair_issue(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    entry = MockConfigEntry(domain=DOMAIN, title=NAME, data=nvr_entry_data(blocker / "clips"))
    entry.add_to_hass(hass)

    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert _state(hass, entry.entry_id) is ConfigEntryState.SETUP_RETRY
    issue = ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_STORAGE_NOT_WRITABLE)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["path"] == str(blocker / "clips")

    blocker.unlink()  # the user fixes the folder: the next try works and clears the issue
    blocker.mkdir()
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert _state(hass, entry.entry_id) is ConfigEntryState.LOADED
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_STORAGE_NOT_WRITABLE) is None
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_issues_of_cameras_no_longer_configured_are_cleared(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    for issue_id in ("source_down_gone", "write_failed_gone", "source_down_kept"):
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=issue_id.rsplit("_", 1)[0],
        )
    entry = await async_setup_lookback(hass, tmp_path, cameras={"kept": UNREACHABLE_URL})
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, "source_down_gone") is None
    assert issues.async_get_issue(DOMAIN, "write_failed_gone") is None
    assert issues.async_get_issue(DOMAIN, "source_down_kept") is not None
    await async_unload_lookback(hass, entry)


async def test_housekeeping_survives_a_file_it_cannot_delete(
    hass: HomeAssistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await async_setup_lookback(hass, tmp_path)
    hub = entry.runtime_data.hub
    with patch.object(hub.store, "enforce_retention", side_effect=PermissionError("read-only")):
        await hub.async_housekeeping()
    assert "storage housekeeping failed: read-only" in caplog.text
    await async_unload_lookback(hass, entry)
