"""HA tests: config flow, entry setup and unload of Lookback NVR."""

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lookback.const import DOMAIN, NAME
from custom_components.lookback.data import LookbackData


async def test_user_flow_creates_entry(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] is None

    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input={})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == NAME
    assert result["data"] == {}

    entries = hass.config_entries.async_entries(DOMAIN)
    assert len(entries) == 1
    assert entries[0].state is ConfigEntryState.LOADED


async def test_second_flow_aborts(hass: HomeAssistant) -> None:
    MockConfigEntry(domain=DOMAIN, title=NAME).add_to_hass(hass)

    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "single_instance_allowed"


def _state(hass: HomeAssistant, entry_id: str) -> ConfigEntryState:
    # A function call, so mypy does not carry a narrowed entry.state across awaits.
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    return entry.state


async def test_setup_and_unload_entry(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(domain=DOMAIN, title=NAME)
    entry.add_to_hass(hass)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert _state(hass, entry.entry_id) is ConfigEntryState.LOADED
    assert isinstance(entry.runtime_data, LookbackData)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert _state(hass, entry.entry_id) is ConfigEntryState.NOT_LOADED
