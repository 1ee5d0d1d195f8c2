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
        self._last_motion_request: float | None = None
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
            last = self._last_motion_request
            if last is not None and result.time - last < 0.95 / max(self.config.fps, 0.01):
                self.skipped += 1
                return
            self._last_motion_request = result.time
        boxes = [Box(b.x, b.y, b.width, b.height) for b in result.boxes]
        region = square_region(boxes, frame.width, frame.height, min_side_px=MIN_CROP_SIDE_PX)
        self._send(FramePicture(frame), region, result.time, "motion")

    def still(self, picture: Picture, time: float, reason: str) -> bool:
        """Detect in a whole picture now (alert, interval, snapshot); False if one was dropped."""
        if not self.config.enabled:
            return False
        return self._send(picture, FULL_FRAME, time, reason)

    def _send(self, picture: Picture, region: Box, time: float, reason: str) -> bool:
        self.requested += 1
        return self._submit(
            DetectionRequest(
                camera_id=self.camera_id,
                time=time,
                picture=picture,
                region=region,
                reason=reason,
                detector_key=self.config.model_path,
            )
        )
