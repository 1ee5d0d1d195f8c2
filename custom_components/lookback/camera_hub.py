"""CameraHub: one camera's state in HA, fed by its core CameraPipeline.

The core calls it (a PipelineListener) on the event loop; it keeps what entities show, fires
the bus events, raises and clears the camera's repair issues and pushes to its entities.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
import logging
import time
from typing import TYPE_CHECKING, Any

import av
from homeassistant.const import CONF_NAME
from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_call_later

from . import repairs
from .bus_data import clip_data, event_data
from .camera_alerts import CameraAlerts
from .camera_config import camera_config_from, stream_url
from .camera_objects import CameraObjects
from .const import (
    CONF_CAMERA_ID,
    DOMAIN,
    EVENT_CLIP_SAVED,
    EVENT_EVENT_ENDED,
    EVENT_EVENT_STARTED,
    SOURCE_DOWN_REPAIR_AFTER_S,
)
from .core.errors import SourceErrorKind
from .core.models import Trigger
from .core.motion_state import MotionPhase, MotionUpdate, motion_trigger
from .core.polygons import zone_key
from .listeners import Listeners

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigSubentry
    from homeassistant.helpers.entity import Entity

    from .core.errors import SourceError
    from .core.models import CameraConfig, ClipInfo, Event, StreamStats
    from .core.nvr import CameraPipeline
    from .core.storage import ClipStore
    from .detector_hub import DetectorHub
    from .hub import LookbackHub

_LOGGER = logging.getLogger(__name__)

FIRST_STATS_AFTER_S = 5.0  # after a connection: long enough for a GOP of statistics
MOTION_ATTRIBUTES_EVERY_S = 5.0
ZONE_KEY_PREFIX = "motion_zone_"

type EventListener = Callable[[str, dict[str, Any]], None]


def entity_unique_id(camera_id: str, key: str) -> str:
    """Unique id of a camera's entity: the camera id never changes, so neither does this."""
    return f"{camera_id}_{key}"


def zone_entity_key(zone: str) -> str:
    """The entity key of a motion zone's binary sensor."""
    return ZONE_KEY_PREFIX + zone_key(zone)


class CameraHub(Listeners):
    """One camera's state in HA, fed by its CameraPipeline."""

    def __init__(self, hub: LookbackHub, subentry: ConfigSubentry) -> None:
        """Read the subentry; the pipeline starts in ``async_start``."""
        super().__init__()
        self.hass = hub.hass
        self._hub = hub
        self.subentry_id = subentry.subentry_id
        self.camera_id: str = subentry.data[CONF_CAMERA_ID]
        self.name: str = subentry.data.get(CONF_NAME) or subentry.title
        self.config: CameraConfig = camera_config_from(subentry.data)
        self.stream_url = stream_url(subentry.data)
        self.subentry_data = dict(subentry.data)  # what it was started with
        self.entities: set[Entity] = set()
        self.pipeline: CameraPipeline | None = None
        self.connected = False
        self.last_error: SourceError | None = None
        self.recording_enabled = True
        self.current_event: Event | None = None
        self.last_event: Event | None = None
        self.last_event_time: float | None = None  # survives restarts: seeded from the store
        self.clips_stored = 0
        self.bytes_stored = 0
        self.stats: StreamStats | None = None
        self.ring_bytes = 0
        self.motion_enabled = True
        # None: no detect stream (the main stream is analysed); else whether it is up.
        self.detect_connected: bool | None = None if not self.config.detect_url else False
        self.motion: MotionUpdate | None = None  # the latest while motion is on, else None
        self._motion_shown_at = 0.0
        self._event_listeners: list[EventListener] = []
        self._still: tuple[float, int, bytes] | None = None  # keyframe time, width, JPEG
        self._down_timer: CALLBACK_TYPE | None = None
        self._first_stats: CALLBACK_TYPE | None = None
        self._reported_down = False
        self._stopped = False
        self.alerts = CameraAlerts(self, subentry.data)
        self.objects = CameraObjects(self, subentry.data)

    # Life ------------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Start recording into the ring (connecting happens in the demux thread)."""
        if clips := self._hub.store.clips(self.camera_id):  # in memory, sorted by start
            self.last_event_time = clips[-1].trigger_time
        self.async_remove_stale_entities(
            ZONE_KEY_PREFIX, {zone_entity_key(zone) for zone in self.zone_names}
        )
        self.pipeline = await self._hub.nvr.async_add_camera(self.config, self)
        self.pipeline.set_motion_enabled(self.motion_enabled)
        self.async_refresh_stats()  # counters read 0 from the start, not "unknown"
        self._arm_down_timer()
        await self.alerts.async_start()
        await self.objects.async_start()

    @callback
    def async_remove_stale_entities(self, key_prefix: str, wanted_keys: set[str]) -> None:
        """Drop this camera's registry entries under ``key_prefix`` not in ``wanted_keys``.

        For entities made per zone or per label: renamed or deleted ones would linger. Only
        this camera's subentry is looked at (camera "front_object" is not "front"'s object).
        """
        registry = er.async_get(self.hass)
        prefix = entity_unique_id(self.camera_id, key_prefix)
        wanted = {entity_unique_id(self.camera_id, key) for key in wanted_keys}
        for entry in er.async_entries_for_config_entry(registry, self.config_entry_id):
            if (
                entry.config_subentry_id == self.subentry_id
                and entry.unique_id.startswith(prefix)
                and entry.unique_id not in wanted
            ):
                registry.async_remove(entry.entity_id)

    async def async_stop(self) -> None:
        """Cancel timers; the Nvr stops the pipeline's threads."""
        self._stopped = True
        self._cancel_down_timer()
        self._cancel_first_stats()
        await self.alerts.async_stop()
        await self.objects.async_stop()

    async def async_remove(self) -> None:
        """Stop this camera alone: its entities go, its pipeline stops, the others go on."""
        await self.async_stop()
        for entity in list(self.entities):
            await entity.async_remove()
        await self._hub.nvr.async_remove_camera(self.camera_id)
        self.pipeline = None

    async def async_apply_alert_settings(self, subentry: ConfigSubentry) -> None:
        """Only alert settings changed: restart the alert sources, not the stream.

        The pre-roll ring, an open clip and motion detection go on untouched.
        """
        await self.alerts.async_stop()
        self.subentry_data = dict(subentry.data)
        self.alerts = CameraAlerts(self, subentry.data)
        await self.alerts.async_start()
        self.async_notify()

    def _cancel_first_stats(self) -> None:
        if self._first_stats is not None:
            self._first_stats()
            self._first_stats = None

    @callback
    def _refresh_first_stats(self, _now: datetime) -> None:
        self._first_stats = None
        self.async_refresh_stats()

    @property
    def store(self) -> ClipStore:
        """Where this camera's clips and snapshots go."""
        return self._hub.store

    @property
    def detector(self) -> DetectorHub | None:
        """The NVR's object detector (None: none configured)."""
        return self._hub.detector

    @callback
    def async_background(self, target: Coroutine[Any, Any, Any], name: str) -> None:
        """Run ``target`` as a task the NVR entry cancels when it unloads."""
        self._hub.entry.async_create_background_task(self.hass, target, name)

    @property
    def config_entry_id(self) -> str:
        """The NVR entry this camera belongs to."""
        return self._hub.entry.entry_id

    @property
    def nvr_device_id(self) -> str:
        """Device registry id of the NVR device this camera hangs below."""
        return self._hub.nvr_device_id

    @property
    def recording(self) -> bool:
        """Whether an event is open (a clip is being written)."""
        return self.current_event is not None

    @callback
    def async_add_event_listener(self, listener: EventListener) -> CALLBACK_TYPE:
        """Hear ``event_started`` / ``clip_saved`` with their data (for the event entity)."""
        self._event_listeners.append(listener)
        return lambda: self._event_listeners.remove(listener)

    def _emit(self, event_type: str, data: dict[str, Any]) -> None:
        for listener in list(self._event_listeners):
            listener(event_type, data)

    @property
    def camera_entity_id(self) -> str | None:
        """Entity id of this camera's camera entity (users may rename it)."""
        return er.async_get(self.hass).async_get_entity_id(
            "camera", DOMAIN, entity_unique_id(self.camera_id, "camera")
        )

    # Triggers and stills ---------------------------------------------------------------

    @callback
    def async_trigger(
        self, trigger: Trigger, post_roll: float | None = None, pre_roll: float | None = None
    ) -> Event | None:
        """Start or extend an event; None when recording is switched off (logged)."""
        if self._stopped:  # a trigger that reached a camera being restarted or removed
            return None
        if not self.recording_enabled or self.pipeline is None:
            _LOGGER.info(
                "%s: recording is off, %s trigger makes no clip", self.name, trigger.source
            )
            return None
        return self.pipeline.trigger(trigger, post_roll, pre_roll)

    @property
    def max_pre_roll(self) -> float:
        """The longest pre-roll a service call may ask for."""
        return self.pipeline.max_pre_roll if self.pipeline else self.config.pre_roll

    async def async_still_image(self, width: int | None = None) -> bytes | None:
        """JPEG of the newest keyframe in the ring, decoded in an executor and cached."""
        if self.pipeline is None:
            return None
        max_width = width or 1920
        keyframe = self.pipeline.ring.latest_keyframe()
        if keyframe is None:
            return None
        if self._still and self._still[:2] == (keyframe.time, max_width):
            return self._still[2]
        try:
            still = await self.hass.async_add_executor_job(self.pipeline.still_jpeg, max_width)
        except (av.error.FFmpegError, ValueError) as err:  # a keyframe that does not decode
            _LOGGER.debug("%s: no still from the newest keyframe: %s", self.name, err)
            return None
        if still is None:
            return None
        self._still = (still[0], max_width, still[1])
        return still[1]

    async def async_save_snapshot(self) -> str:
        """Store the newest keyframe as a JPEG; returns its path below the storage folder."""
        jpeg = await self.async_still_image()
        if jpeg is None:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="no_picture_yet",
                translation_placeholders={"camera": self.name},
            )
        try:
            return await self.hass.async_add_executor_job(
                self._hub.store.save_snapshot, self.camera_id, time.time(), jpeg
            )
        except OSError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="snapshot_not_saved",
                translation_placeholders={"camera": self.name, "error": str(err)},
            ) from err

    # Motion ----------------------------------------------------------------------------

    @property
    def motion_available(self) -> bool:
        """Whether motion detection runs on a live picture (the detect stream's, if any)."""
        return self.connected and self.motion_enabled and self.detect_connected is not False

    def detect_connection_changed(self, connected: bool, error: SourceError | None) -> None:
        """The detect stream came up or went down: motion entities follow it."""
        if self._stopped or connected == self.detect_connected:
            return
        if connected:
            _LOGGER.info("%s: detection stream is back", self.name)
        else:
            _LOGGER.warning("%s: detection stream unavailable: %s", self.name, error)
        self.detect_connected = connected
        self.async_notify()

    @property
    def motion_on(self) -> bool:
        """Whether motion is on now."""
        return self.motion is not None

    @property
    def zone_names(self) -> tuple[str, ...]:
        """The camera's motion zones, in the order they were typed."""
        return tuple(zone.name for zone in self.config.motion.zones)

    @callback
    def async_set_recording_enabled(self, enabled: bool) -> None:
        """Let triggers make clips, or only log them (an open clip still ends normally)."""
        self.recording_enabled = enabled
        self.async_notify()

    @callback
    def async_set_motion_enabled(self, enabled: bool) -> None:
        """Run motion detection or not; off ends motion at once and decodes nothing."""
        self.motion_enabled = enabled
        if self.pipeline is not None:
            self.pipeline.set_motion_enabled(enabled)
        if not enabled:
            self.motion = None
        self.async_notify()

    async def async_motion_debug_image(self) -> bytes | None:
        """The tuning picture of the last analysed frame (drawn in an executor)."""
        if self.pipeline is None or not self.motion_enabled:
            return None
        return await self.hass.async_add_executor_job(self.pipeline.motion_debug_jpeg)

    def motion_changed(self, update: MotionUpdate) -> None:
        """Motion started, went on or ended: sensors, and the event pipeline's trigger."""
        if self._stopped or not self.motion_enabled:
            return
        if update.phase is MotionPhase.ENDED:
            self.motion = None
            self.async_notify()
            return
        # A moving frame after the event's post-roll ran out (motion held on meanwhile) opens
        # a new event; within one, it keeps the clip going. (With recording off, only a start
        # or a new zone is logged, not every moving frame.)
        if (
            update.phase is MotionPhase.STARTED
            or update.new_zones
            or (update.boxes and self.current_event is None and self.recording_enabled)
        ):
            self.async_trigger(motion_trigger(self.camera_id, update))
        elif update.boxes and self.pipeline is not None and self.recording_enabled:
            self.pipeline.extend(update.time)
        previous, self.motion = self.motion, update
        # Moving frames come several a second: the sensors' score and boxes (recorded to the
        # database) follow at most every MOTION_ATTRIBUTES_EVERY_S, zone changes at once.
        if (
            previous is None
            or previous.zones != update.zones
            or update.time - self._motion_shown_at >= MOTION_ATTRIBUTES_EVERY_S
        ):
            self._motion_shown_at = update.time
            self.async_notify()

    # PipelineListener: called on the loop ---------------------------------------------

    def event_started(self, event: Event) -> None:
        """An event opened: fire the bus event, tell the entities."""
        self.current_event = event
        self.last_event = event
        self.last_event_time = event.first_trigger_time
        data = event_data(self, event)
        self.hass.bus.async_fire(EVENT_EVENT_STARTED, data)
        self._emit("event_started", data)
        self.async_notify()

    def event_ended(self, event: Event) -> None:
        """An event's post-roll ran out."""
        if self.current_event is event:
            self.current_event = None
        if self._stopped:
            return
        self.hass.bus.async_fire(EVENT_EVENT_ENDED, event_data(self, event))
        self.async_notify()

    def clip_saved(self, clip: ClipInfo) -> None:
        """A clip is complete: bus event with signed URLs, storage figures, retention."""
        repairs.async_clear_write_failed(self.hass, self.camera_id)
        data = clip_data(self, clip)
        self.hass.bus.async_fire(EVENT_CLIP_SAVED, data)
        # The entity's attributes are recorded to the database: no URLs that grant access.
        self._emit("clip_saved", {k: v for k, v in data.items() if not k.endswith("_url")})
        self._hub.async_schedule_housekeeping()
        self.async_notify()

    def connection_changed(self, connected: bool, error: SourceError | None) -> None:
        """The stream came up or went down: availability, logs, repairs, reauth."""
        if self._stopped:
            return
        self.connected = connected
        self.last_error = error
        if connected:
            self._cancel_down_timer()
            # Rates need a GOP or two of video: read them soon rather than at the next tick.
            self._cancel_first_stats()
            self._first_stats = async_call_later(
                self.hass, FIRST_STATS_AFTER_S, self._refresh_first_stats
            )
            repairs.async_clear_source_down(self.hass, self.camera_id)
            if self._reported_down:
                _LOGGER.info("%s: stream is back", self.name)
                self._reported_down = False
        else:
            if not self._reported_down:
                _LOGGER.warning("%s: stream unavailable: %s", self.name, error)
                self._reported_down = True
            self._arm_down_timer()
            if error is not None and error.kind is SourceErrorKind.AUTH_FAILED:
                self._hub.async_start_reauth(self.subentry_id)
        self.async_notify()

    def write_failed(self, reason: str) -> None:
        """A clip could not be written: a repair issue says why."""
        repairs.async_report_write_failed(self.hass, self.camera_id, self.name, reason)
        self._hub.async_schedule_housekeeping()  # size caps may free room for the next clip
        self.async_notify()

    # Statistics ------------------------------------------------------------------------

    @callback
    def async_refresh_stats(self) -> None:
        """Read the stream statistics and ring size (memory only) and push them."""
        if self.pipeline is None:
            return
        stats, ring_bytes = self.pipeline.stats, self.pipeline.ring.bytes
        if (stats, ring_bytes) != (self.stats, self.ring_bytes):
            self.stats, self.ring_bytes = stats, ring_bytes
            self.async_notify()

    @callback
    def async_set_stored(self, clips: int, size: int) -> None:
        """Clips and bytes this camera has in storage."""
        if (clips, size) != (self.clips_stored, self.bytes_stored):
            self.clips_stored, self.bytes_stored = clips, size
            self.async_notify()

    # Source down for long: a repair ---------------------------------------------------

    def _arm_down_timer(self) -> None:
        if self._down_timer is None and not self.connected:
            self._down_timer = async_call_later(
                self.hass, SOURCE_DOWN_REPAIR_AFTER_S, self._report_down
            )

    def _cancel_down_timer(self) -> None:
        if self._down_timer is not None:
            self._down_timer()
            self._down_timer = None

    @callback
    def _report_down(self, _now: datetime) -> None:
        self._down_timer = None
        if not self.connected:
            reason = str(self.last_error) if self.last_error else "no answer"
            repairs.async_report_source_down(self.hass, self.camera_id, self.name, reason)
