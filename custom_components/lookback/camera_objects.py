"""CameraObjects: one camera's object detection in HA: what to detect, labels, sensors, pictures.

Pictures reach the shared detector worker from three places: moving frames (from the analysis
thread, cropped around the motion), the newest keyframe when an alert arrives or the periodic
check is due. Results come back on the loop: they are filtered by the camera's settings and
tracked; a label seen in enough consecutive frames becomes a Trigger with its label and score
(so the clip gets the label), its occupancy sensor turns on, ``lookback_object_detected`` is
fired, and the best detection of the event is drawn and becomes the clip's thumbnail.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
import logging
import time
from typing import TYPE_CHECKING, Any

import av
from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers.event import async_call_later, async_track_time_interval

from .bus_data import camera_fields, iso_time
from .camera_config import object_config_from
from .const import EVENT_OBJECT_DETECTED
from .core.frames import decode_keyframe
from .core.objects.annotate import annotated_jpeg
from .core.objects.filters import filter_detections
from .core.objects.picture import FramePicture
from .core.objects.scheduler import CameraDetection
from .core.objects.tracker import LabelState, ObjectTracker, ObjectUpdate, object_trigger
from .core.polygons import zone_key

if TYPE_CHECKING:
    from .camera_hub import CameraHub
    from .core.objects.types import Detection, ObjectConfig, Picture
    from .core.objects.worker import DetectionOutcome

_LOGGER = logging.getLogger(__name__)

OBJECT_KEY_PREFIX = "object_"
# Alerts are the camera's own word that something is there: one frame confirms a label.
CORROBORATED_REASONS = frozenset({"alert"})
# A label's sensor attributes (recorded) follow its best score at most this often.
ATTRIBUTES_EVERY_S = 5.0


def object_entity_key(label: str) -> str:
    """The entity key of a label's occupancy sensor."""
    return OBJECT_KEY_PREFIX + zone_key(label)


def presence_hold(config: ObjectConfig, motion_hold: float) -> float:
    """How long a label seen on motion stays present after it was last seen.

    At least the motion hold, and long enough to span the gap between two detections while
    something moves (``fps``), so a label does not flicker between them.
    """
    return max(motion_hold, 2.5 / config.fps if config.fps > 0 else 0.0)


def check_hold(config: ObjectConfig) -> float | None:
    """How long a label seen by the periodic check stays present: until the next check."""
    return 1.5 * config.interval if config.interval > 0 else None


class CameraObjects:
    """What one camera detects and what it has found."""

    def __init__(self, camera: CameraHub, data: Mapping[str, Any]) -> None:
        """Read the camera's object settings; nothing runs before ``async_start``."""
        self._camera = camera
        self.hass = camera.hass
        detector = camera.detector
        self.config: ObjectConfig = object_config_from(
            data, detector_on=detector is not None and detector.enabled
        )
        hold = presence_hold(self.config, camera.config.motion.min_duration)
        self.tracker = ObjectTracker(
            self.config.min_frames, hold, streak_gap=max(hold, check_hold(self.config) or 0.0)
        )
        self.detection: CameraDetection | None = None
        self.detections = 0  # filtered detections received
        self._event_best: tuple[str, float] | None = None  # event id, its drawn best score
        self._last_still: float | None = None  # time of the last keyframe sent whole
        self._expire_timer: CALLBACK_TYPE | None = None
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._stopped = False
        self._shown_at = 0.0

    # Life ------------------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        """Whether the camera stopped (results and pictures are dropped from then on)."""
        return self._stopped

    @property
    def enabled(self) -> bool:
        """Whether this camera detects objects (its setting, and the NVR has a detector)."""
        return self.config.enabled

    @property
    def available(self) -> bool:
        """Whether detection runs: enabled, the detector loaded, the picture live."""
        detector = self._camera.detector
        return (
            self.enabled
            and detector is not None
            and detector.available
            and detector.healthy
            and self._camera.connected
            and self._camera.detect_connected is not False
        )

    @property
    def labels(self) -> tuple[str, ...]:
        """Labels with an occupancy sensor (the ones tracked)."""
        return self.config.labels if self.enabled else ()

    async def async_start(self) -> None:
        """Send moving frames to the detector; start the periodic check."""
        self._camera.async_remove_stale_entities(
            OBJECT_KEY_PREFIX, {object_entity_key(label) for label in self.labels}
        )
        detector = self._camera.detector
        pipeline = self._camera.pipeline
        if not self.enabled or detector is None or pipeline is None:
            return
        self.detection = CameraDetection(self._camera.camera_id, self.config, detector.submit)
        pipeline.analysis.on_moving_frame = self.detection.moving_frame
        if self.config.interval > 0:
            self._unsubscribe.append(
                async_track_time_interval(
                    self.hass,
                    self._interval_due,
                    timedelta(seconds=self.config.interval),
                    name=f"lookback {self._camera.camera_id} object check",
                )
            )

    async def async_stop(self) -> None:
        """Stop sending pictures; labels go off."""
        self._stopped = True
        pipeline = self._camera.pipeline
        if pipeline is not None:
            pipeline.analysis.on_moving_frame = None
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self._cancel_expiry()
        if (detector := self._camera.detector) is not None:
            detector.forget_camera(self._camera.camera_id)

    # Pictures in -----------------------------------------------------------------------

    async def async_detect_now(self, reason: str) -> bool:
        """Detect on the newest keyframe (an alert arrived, the periodic check); False if none."""
        pipeline = self._camera.pipeline
        detector = self._camera.detector
        if (
            self.detection is None
            or pipeline is None
            or self._stopped
            or detector is None
            or not detector.available  # nothing would look at it: do not decode
        ):
            return False
        keyframe = pipeline.ring.latest_keyframe()
        # The same keyframe twice (a check sooner than the next keyframe) is not a 2nd frame.
        if keyframe is None or keyframe.time == self._last_still:
            return False
        self._last_still = keyframe.time
        try:
            frame = await self.hass.async_add_executor_job(decode_keyframe, keyframe)
        except (av.error.FFmpegError, ValueError) as err:
            _LOGGER.debug("%s: newest keyframe does not decode: %s", self._camera.name, err)
            return False
        if self.stopped:  # while decoding
            return False
        return self.detection.still(FramePicture(frame), keyframe.time, reason)

    async def _interval_due(self, _now: datetime) -> None:
        await self.async_detect_now("interval")

    # Results on the loop ---------------------------------------------------------------

    @callback
    def async_outcome(self, outcome: DetectionOutcome) -> None:
        """A picture of this camera was analysed."""
        request = outcome.request
        if self._stopped or request.owner is not self.detection:  # an old camera's picture
            return
        if outcome.error is not None:
            _LOGGER.debug("%s: detection failed: %s", self._camera.name, outcome.error)
            return
        found = filter_detections(outcome.detections, self.config)
        self.detections += len(found)
        if request.reason == "motion":  # a crop of the moving frame, at the frame's time
            update = self.tracker.update(found, request.time)
        else:
            # The whole newest keyframe, maybe a keyframe interval old: it counts from now,
            # and what it no longer shows is gone.
            update = self.tracker.update(
                found,
                time.time(),
                confirmed_at_once=request.reason in CORROBORATED_REASONS,
                hold=check_hold(self.config) if request.reason == "interval" else None,
                whole_picture=True,
            )
        if update is not None:
            self._apply(update, request.reason)
            if found and (update.new or update.improved):
                self._draw_best(found, request.picture)
        self._schedule_expiry()

    def _apply(self, update: ObjectUpdate, reason: str) -> None:
        camera = self._camera
        for detection in update.new:
            event = camera.async_trigger(
                object_trigger(camera.camera_id, detection, update.time, reason)
            )
            self.hass.bus.async_fire(
                EVENT_OBJECT_DETECTED,
                camera_fields(camera)
                | {
                    "label": detection.label,
                    "score": round(detection.score, 3),
                    "box": detection.box.as_list(),
                    "reason": reason,
                    "time": iso_time(update.time),
                    "event_id": event.event_id if event else None,
                },
            )
        # Presence changes are shown at once; score and count updates at most every few s.
        if update.new or update.cleared or update.time - self._shown_at >= ATTRIBUTES_EVERY_S:
            self._shown_at = update.time
            camera.async_notify()

    def _draw_best(self, found: list[Detection], picture: Picture) -> None:
        """Draw this picture's detections when it holds the event's best so far."""
        event = self._camera.current_event
        if event is None or self._camera.pipeline is None:
            return
        best = max(detection.score for detection in found)
        drawn = self._event_best
        if drawn is not None and drawn[0] == event.event_id and drawn[1] >= best:
            return
        self._event_best = (event.event_id, best)
        self._camera.async_background(
            self._async_save_picture(event.event_id, picture, found),
            f"lookback {self._camera.camera_id} detection picture",
        )

    async def _async_save_picture(
        self, event_id: str, picture: Picture, detections: list[Detection]
    ) -> None:
        try:
            jpeg = await self.hass.async_add_executor_job(annotated_jpeg, picture, detections)
        except (av.error.FFmpegError, ValueError, OSError) as err:
            _LOGGER.warning("%s: detection picture not drawn: %s", self._camera.name, err)
            return
        if (pipeline := self._camera.pipeline) is not None:
            pipeline.recorder.set_thumbnail(event_id, jpeg)

    # Labels run out --------------------------------------------------------------------

    def _schedule_expiry(self) -> None:
        self._cancel_expiry()
        due = self.tracker.next_expiry()
        if due is None:
            return
        self._expire_timer = async_call_later(
            self.hass, max(0.0, due - time.time()) + 0.05, self._expire
        )

    def _cancel_expiry(self) -> None:
        if self._expire_timer is not None:
            self._expire_timer()
            self._expire_timer = None

    @callback
    def _expire(self, _now: datetime) -> None:
        self._expire_timer = None
        if self._stopped:
            return
        if self.tracker.expire(time.time()) is not None:
            self._camera.async_notify()
        self._schedule_expiry()

    # What entities show ----------------------------------------------------------------

    def state_of(self, label: str) -> LabelState | None:
        """The label's presence now (None: not present)."""
        return self.tracker.present.get(label)

    def attributes(self) -> dict[str, Any]:
        """For diagnostics."""
        detection = self.detection
        return {
            "enabled": self.enabled,
            "labels": list(self.labels),
            "present": sorted(self.tracker.present),
            "detections": self.detections,
            "requested": detection.requested if detection else 0,
            "skipped_for_fps": detection.skipped if detection else 0,
        }
