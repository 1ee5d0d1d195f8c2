"""Plain data shared by the core: triggers, events, clips, stream statistics.

Times are wall-clock seconds since the epoch (``time.time()``) unless a name says otherwise:
triggers come from many places (SMTP mail, HA entities, motion) and only wall time is common.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import av
    from av.stream import Stream


class AudioPolicy(StrEnum):
    """What to do with audio a browser cannot play from MP4 (G.711 from most cameras)."""

    TRANSCODE = "transcode"  # G.711 -> AAC at the camera's own 8 kHz: cheap
    DROP = "drop"


class Transport(StrEnum):
    """RTSP lower transport."""

    TCP = "tcp"
    UDP = "udp"


OBJECT_SOURCE = "object"
"""The Trigger source of a detected object (its label is the object's)."""

Point = tuple[float, float]
"""x, y relative to the picture: 0-1 from the left and from the top."""


@dataclass(frozen=True, slots=True)
class Zone:
    """A named polygon that reports motion of its own."""

    name: str
    polygon: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class MotionConfig:
    """Motion detection settings of one camera."""

    enabled: bool = True
    sensitivity: float = 50.0
    """0-100: higher finds fainter changes (a lower difference threshold)."""
    min_area: float = 0.3
    """Percent of the picture a changed region must cover to count."""
    min_duration: float = 5.0
    """Motion stays on this long after the last moving frame (each moving frame extends it)."""
    active_fps: float = 5.0
    """Frames analysed per second while something moves (0: keyframes only, always)."""
    masks: tuple[tuple[Point, ...], ...] = ()
    zones: tuple[Zone, ...] = ()


@dataclass(frozen=True, slots=True)
class CameraConfig:
    """One camera as the core needs it (the HA layer builds it from a config subentry)."""

    camera_id: str
    name: str
    url: str
    transport: Transport = Transport.TCP
    pre_roll: float = 5.0
    post_roll: float = 10.0
    max_clip_seconds: float = 600.0
    ring_max_bytes: int = 64 * 1024 * 1024
    audio_policy: AudioPolicy = AudioPolicy.TRANSCODE
    stall_timeout: float = 10.0
    retention_days: float | None = None
    retention_bytes: int | None = None
    detect_url: str | None = None
    """A second (sub-)stream analysed instead of the main stream; None: the main stream."""
    motion: MotionConfig = field(default_factory=MotionConfig)


@dataclass(frozen=True, slots=True)
class TimedPacket:
    """One demuxed packet with the wall-clock time of its presentation.

    ``stream`` is kept so that the input container stays alive while any of its packets is
    buffered or being written (PyAV frees a stream's codec data when its container closes).
    """

    packet: av.Packet[Stream]
    stream: Stream
    time: float
    is_keyframe: bool
    is_video: bool
    size: int


@dataclass(frozen=True, slots=True)
class StreamStats:
    """What a StreamSource has seen, for sensors and diagnostics."""

    connected: bool
    fps: float | None
    bitrate_bps: float | None
    keyframe_interval_s: float | None
    reconnects: int
    stalls: int
    dropped_packets: int
    merged_packets: int
    packets: int
    last_packet_time: float | None
    video_codec: str | None
    width: int | None
    height: int | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Trigger:
    """Something happened on a camera: motion, a mail, an ONVIF event, an entity, a service."""

    camera_id: str
    source: str
    time: float
    label: str | None = None
    score: float | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the trigger as JSON-ready data."""
        return {
            "source": self.source,
            "time": self.time,
            "label": self.label,
            "score": self.score,
            "data": self.data,
        }


@dataclass(slots=True)
class Event:
    """Overlapping triggers of one camera merged into one recording."""

    event_id: str
    camera_id: str
    start_time: float
    end_time: float
    pre_roll: float
    triggers: list[Trigger] = field(default_factory=list)
    ended: bool = False

    @property
    def first_trigger_time(self) -> float:
        """Time of the trigger that opened the event."""
        return self.triggers[0].time

    @property
    def labels(self) -> dict[str, float]:
        """Each label seen in the event with its best score (0 when a source gives none)."""
        best: dict[str, float] = {}
        for trigger in self.triggers:
            if trigger.label is not None:
                best[trigger.label] = max(best.get(trigger.label, 0.0), trigger.score or 0.0)
        return best

    @property
    def objects(self) -> dict[str, dict[str, Any]]:
        """Each object label detected in the event: its best score and that detection's box."""
        best: dict[str, dict[str, Any]] = {}
        for trigger in self.triggers:
            if trigger.source != OBJECT_SOURCE or trigger.label is None:
                continue
            score = trigger.score or 0.0
            if trigger.label not in best or score > best[trigger.label]["score"]:
                best[trigger.label] = {"score": score, "box": trigger.data.get("box")}
        return best

    def as_dict(self) -> dict[str, Any]:
        """Return the event as JSON-ready data."""
        return {
            "event_id": self.event_id,
            "camera_id": self.camera_id,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "pre_roll": self.pre_roll,
            "triggers": [trigger.as_dict() for trigger in self.triggers],
            "labels": self.labels,
            "objects": self.objects,
        }


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """One closed clip file as recorded in its JSON sidecar."""

    clip_id: str
    event_id: str
    camera_id: str
    path: str
    thumbnail: str | None
    start_time: float
    end_time: float
    trigger_time: float
    pre_roll: float
    size: int
    video_frames: int
    audio: str | None
    status: str
    part: int
    event: dict[str, Any]

    @property
    def duration(self) -> float:
        """Seconds of video in the clip."""
        return self.end_time - self.start_time

    def as_dict(self) -> dict[str, Any]:
        """Return the sidecar content."""
        return {
            "clip_id": self.clip_id,
            "event_id": self.event_id,
            "camera_id": self.camera_id,
            "path": self.path,
            "thumbnail": self.thumbnail,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "trigger_time": self.trigger_time,
            "pre_roll": self.pre_roll,
            "size": self.size,
            "video_frames": self.video_frames,
            "audio": self.audio,
            "status": self.status,
            "part": self.part,
            "event": self.event,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClipInfo:
        """Build from sidecar content (raises KeyError/TypeError/ValueError when malformed)."""
        return cls(
            clip_id=str(data["clip_id"]),
            event_id=str(data["event_id"]),
            camera_id=str(data["camera_id"]),
            path=str(data["path"]),
            thumbnail=None if data.get("thumbnail") is None else str(data["thumbnail"]),
            start_time=float(data["start_time"]),
            end_time=float(data["end_time"]),
            trigger_time=float(data["trigger_time"]),
            pre_roll=float(data["pre_roll"]),
            size=int(data["size"]),
            video_frames=int(data["video_frames"]),
            audio=None if data.get("audio") is None else str(data["audio"]),
            status=str(data["status"]),
            part=int(data.get("part", 1)),
            event=dict(data.get("event", {})),
        )
