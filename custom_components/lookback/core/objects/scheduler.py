"""CameraDetection: which of one camera's pictures go to the shared detector worker, and how.

Moving frames come from the camera's analysis thread: at most ``fps`` a second are sent, each
cropped to a padded square around the union of the motion boxes, so a small person far away
fills the model's input instead of a few pixels of it. Stills (an alert's moment, the periodic
check, a snapshot camera's new image) are sent whole. Submitting never waits: the worker's
queue is bounded and counts what it drops.
"""

from __future__ import annotations

from collections.abc import Callable
import threading
from typing import TYPE_CHECKING

from .picture import FramePicture, square_region
from .types import FULL_FRAME, Box
from .worker import DetectionRequest

if TYPE_CHECKING:
    from av.video.frame import VideoFrame

    from ..motion import MotionResult
    from .types import ObjectConfig, Picture

# The crop's smallest side in pixels: around the detector's input (300 for the bundled
# model), so a tiny object is not blown up into mush.
MIN_CROP_SIDE_PX = 300

Submit = Callable[[DetectionRequest], bool]


class CameraDetection:
    """One camera's door to the shared detector worker (thread-safe)."""

    def __init__(self, camera_id: str, config: ObjectConfig, submit: Submit) -> None:
        """Send requests for ``camera_id`` with ``submit`` (the worker's, or a test's)."""
        self.camera_id = camera_id
        self.config = config
        self._submit = submit
        self._lock = threading.Lock()
        self._due: float | None = None  # frame time of the next moving frame to send
        self.requested = 0
        self.skipped = 0
        """Moving frames not sent because the camera's ``fps`` was reached."""

    @property
    def enabled(self) -> bool:
        """Whether the camera detects objects at all."""
        return self.config.enabled

    def moving_frame(self, frame: VideoFrame, result: MotionResult) -> None:
        """A frame in which motion was found (analysis thread): maybe detect, cropped."""
        if not self.config.enabled or not result.boxes:
            return
        with self._lock:
            if not self._take_slot(result.time):
                self.skipped += 1
                return
        boxes = [Box(b.x, b.y, b.width, b.height) for b in result.boxes]
        region = square_region(boxes, frame.width, frame.height, min_side_px=MIN_CROP_SIDE_PX)
        self._send(FramePicture(frame), region, result.time, "motion")

    def _take_slot(self, time: float) -> bool:
        """Whether a moving frame at ``time`` may go: at most ``fps`` a second on average.

        Slots follow each other at 1/fps, so a frame a little early (5 % of the period: frame
        timing jitters) does not drift the rate up; after a gap, or when the clock stepped
        back, the slots start again from this frame.
        """
        period = 1.0 / max(self.config.fps, 0.01)
        due = self._due
        if due is not None and due - 2 * period < time < due - 0.05 * period:
            return False
        on_time = due is not None and abs(time - due) < period
        self._due = (due if on_time and due is not None else time) + period
        return True

    def still(self, picture: Picture, time: float, reason: str) -> bool:
        """Detect in a whole picture now (alert, interval, snapshot); False if one was dropped."""
        if not self.config.enabled:
            return False
        return self._send(picture, FULL_FRAME, time, reason)

    def _send(self, picture: Picture, region: Box, time: float, reason: str) -> bool:
        with self._lock:  # moving frames come from the analysis thread, stills from the loop
            self.requested += 1
        return self._submit(
            DetectionRequest(
                camera_id=self.camera_id,
                time=time,
                picture=picture,
                region=region,
                reason=reason,
                detector_key=self.config.model_path,
                owner=self,
            )
        )
