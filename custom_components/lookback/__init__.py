"""The Lookback NVR integration: records camera clips with pre-roll."""

from homeassistant.components import webhook
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.typing import ConfigType

from . import repairs
from .camera_hub import entity_unique_id
from .const import CONF_CAMERA_ID, CONF_MAIL_ADDRESS, CONF_WEBHOOK_ID, DOMAIN, SUBENTRY_CAMERA
from .data import LookbackConfigEntry, LookbackData
from .entity import nvr_device_info
from .hub import LookbackHub
from .services import async_setup_services
from .views import async_register_views

PLATFORMS: tuple[Platform, ...] = (
    Platform.BINARY_SENSOR,
    Platform.CAMERA,
    Platform.EVENT,
    Platform.SENSOR,
    Platform.SWITCH,
)

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register services and views once, whether or not an entry loads."""
    del config
    async_setup_services(hass)
    async_register_views(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: LookbackConfigEntry) -> bool:
    """Start the NVR: storage, every camera subentry, then the entity platforms."""
    hub = LookbackHub(hass, entry)
    try:
        await hub.async_start()
    except BaseException:
        await hub.async_stop()  # cameras that did start must not leave threads behind
        raise
    entry.runtime_data = LookbackData(hub)
    # The NVR device first: camera devices name it as their via_device.
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **nvr_device_info(hub)
    )
    hub.nvr_device_id = device.id
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))

    async def _async_stop_at_shutdown(_event: Event) -> None:
        # HA does not unload entries when it stops: close open clips before it exits.
        await hub.async_stop()

    entry.async_on_unload(
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _async_stop_at_shutdown)
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_entry_updated(hass: HomeAssistant, entry: LookbackConfigEntry) -> None:
    """A camera added, changed or removed: only that camera restarts; NVR settings: reload."""
    if not await entry.runtime_data.hub.async_apply_entry_update():
        await hass.config_entries.async_reload(entry.entry_id)


async def async_migrate_entry(hass: HomeAssistant, entry: LookbackConfigEntry) -> bool:
    """1.1 -> 1.2: every camera gets its alert mail address (its id) and a webhook id."""
    if entry.version > 1:  # a newer Lookback's entry: do not guess at it
        return False
    if entry.minor_version < 2:
        for subentry in list(entry.subentries.values()):
            if subentry.subentry_type != SUBENTRY_CAMERA or CONF_WEBHOOK_ID in subentry.data:
                continue
            data = {
                CONF_MAIL_ADDRESS: subentry.data[CONF_CAMERA_ID],
                CONF_WEBHOOK_ID: webhook.async_generate_id(),
            } | dict(subentry.data)
            hass.config_entries.async_update_subentry(entry, subentry, data=data)
        # The alert sensor was created disabled while nothing fed it: it works now.
        registry = er.async_get(hass)
        alert_ids = {
            entity_unique_id(subentry.data[CONF_CAMERA_ID], "alert")
            for subentry in entry.subentries.values()
            if subentry.subentry_type == SUBENTRY_CAMERA
        }
        for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
            if (
                entity.unique_id in alert_ids
                and entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION
            ):
                registry.async_update_entity(entity.entity_id, disabled_by=None)
        hass.config_entries.async_update_entry(entry, minor_version=2)
    return True


async def async_remove_entry(hass: HomeAssistant, entry: LookbackConfigEntry) -> None:
    """The NVR entry is deleted: its repair issues go too (recorded clips stay on disk)."""
    del entry
    repairs.async_clear_all(hass)


async def async_unload_entry(hass: HomeAssistant, entry: LookbackConfigEntry) -> bool:
    """Unload the platforms, then stop every camera thread and timer."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.hub.async_stop()
    return unloaded
