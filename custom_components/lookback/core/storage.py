"""ClipStore: where clips live on disk, their sidecars and thumbnails, retention and recovery.

Layout: ``<root>/<camera_id>/<YYYY-MM-DD>/<HH-MM-SS>_<clip_id>.{mp4,jpg,json}`` in local time.
A clip is written as ``.mp4.part`` with a ``recording`` sidecar and renamed when closed, so a
crash leaves something ``recover`` can finish; the index is always rebuilt from sidecars.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
import itertools
import json
import logging
from pathlib import Path
import re
import shutil
import threading
from typing import Any

from .models import ClipInfo
from .remux import probe_clip, remux_readable

_LOGGER = logging.getLogger(__name__)

SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PART_SUFFIX = ".part"
SNAPSHOT_DIR = "snapshots"  # beside the day folders; never a clip folder
DAY_SECONDS = 86400.0


class StorageError(Exception):
    """The storage folder cannot be used."""


@dataclass(frozen=True, slots=True)
class RetentionLimits:
    """Per-camera limits; None means no limit."""

    max_age_days: float | None = None
    max_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class ClipPaths:
    """The files of one clip."""

    mp4: Path
    part: Path
    thumbnail: Path
    sidecar: Path


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What ``recover`` did at start-up."""

    finalised: int
    removed: int
    indexed: int


def clip_id_for(event_id: str, part: int) -> str:
    """The id of the ``part``-th file of an event (max clip length splits long events)."""
    return event_id if part == 1 else f"{event_id}-{part}"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)  # atomic: a reader sees the old or the new sidecar, never half


class ClipStore:
    """Thread-safe store of finished clips for all cameras of one NVR."""

    def __init__(
        self, root: Path, max_total_bytes: int | None = None, tz: tzinfo | None = None
    ) -> None:
        """Use ``root`` (created if missing) with an optional cap on all cameras together.

        ``tz`` names day folders and files (the user's zone, which need not be the system's;
        None: the system's).
        """
        self.root = root
        self.tz = tz
        self.max_total_bytes = max_total_bytes
        self._limits: dict[str, RetentionLimits] = {}
        self._clips: dict[str, ClipInfo] = {}  # by sidecar path relative to root
        self._open: set[Path] = set()
        self._lock = threading.Lock()

    def check_writable(self, create_parents: bool = True) -> None:
        """Create the root and prove a file can be written there.

        ``create_parents=False`` at start-up: a missing parent is most likely a disk or share
        that is not mounted, and recording onto the system disk instead could fill it.
        """
        if not create_parents and not self.root.parent.is_dir():
            msg = f"{self.root.parent} does not exist (is the disk or share mounted?)"
            raise StorageError(msg)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".lookback-write-test"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as err:
            msg = f"storage folder {self.root} is not writable: {err.strerror or err}"
            raise StorageError(msg) from err

    def set_retention(self, camera_id: str, limits: RetentionLimits) -> None:
        """Set a camera's limits (applied by ``enforce_retention``)."""
        self._limits[camera_id] = limits

    # Writing ---------------------------------------------------------------------------

    def paths_for(self, camera_id: str, clip_id: str, start_time: float) -> ClipPaths:
        """Where a clip starting at ``start_time`` goes (folders are created)."""
        if not SAFE_ID.match(camera_id):
            msg = f"camera id {camera_id!r} is not a safe folder name"
            raise ValueError(msg)
        local = datetime.fromtimestamp(start_time, self.tz).astimezone(self.tz)
        folder = self.root / camera_id / local.strftime("%Y-%m-%d")
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{local.strftime('%H-%M-%S')}_{clip_id}"
        return ClipPaths(
            mp4=folder / f"{stem}.mp4",
            part=folder / f"{stem}.mp4{PART_SUFFIX}",
            thumbnail=folder / f"{stem}.jpg",
            sidecar=folder / f"{stem}.json",
        )

    def begin(self, paths: ClipPaths, provisional: ClipInfo) -> None:
        """Mark a clip as open and leave a sidecar that recovery can complete."""
        with self._lock:
            self._open.add(paths.part)
        _write_json(paths.sidecar, provisional.as_dict())

    def save_thumbnail(self, paths: ClipPaths, jpeg: bytes) -> None:
        """Write the clip's thumbnail."""
        paths.thumbnail.write_bytes(jpeg)

    def finish(self, paths: ClipPaths, info: ClipInfo) -> ClipInfo:
        """Rename the ``.part`` file, write the final sidecar, index the clip."""
        paths.part.replace(paths.mp4)
        info = replace(
            info,
            path=self._relative(paths.mp4),
            thumbnail=self._relative(paths.thumbnail) if paths.thumbnail.exists() else None,
            size=paths.mp4.stat().st_size,
        )
        _write_json(paths.sidecar, info.as_dict())
        with self._lock:
            self._open.discard(paths.part)
            self._clips[self._relative(paths.sidecar)] = info
        return info

    def release(self, paths: ClipPaths) -> None:
        """Writing stopped without finishing (an I/O error): leave the files to ``recover``."""
        with self._lock:
            self._open.discard(paths.part)

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    # Reading ---------------------------------------------------------------------------

    def clips(self, camera_id: str | None = None) -> list[ClipInfo]:
        """Finished clips, oldest first."""
        with self._lock:
            clips = [c for c in self._clips.values() if camera_id in (None, c.camera_id)]
        return sorted(clips, key=lambda c: c.start_time)

    def clip(self, camera_id: str, clip_id: str) -> ClipInfo | None:
        """One finished clip by its ids."""
        with self._lock:
            for info in self._clips.values():
                if info.clip_id == clip_id and info.camera_id == camera_id:
                    return info
        return None

    def resolve(self, relative: str) -> Path:
        """Absolute path of a stored file; raises ValueError for paths leaving the root."""
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()):
            msg = "path leaves the storage folder"
            raise ValueError(msg)
        return path

    def bytes_used(self, camera_id: str | None = None) -> int:
        """Bytes of finished clips (and thumbnails) of one camera or all."""
        return sum(self._clip_bytes(c) for c in self.clips(camera_id))

    def usage_by_camera(self) -> dict[str, tuple[int, int]]:
        """Clips and bytes (with thumbnails) per camera, in one pass over the index."""
        usage: dict[str, tuple[int, int]] = {}
        for clip in self.clips():
            count, size = usage.get(clip.camera_id, (0, 0))
            usage[clip.camera_id] = (count + 1, size + self._clip_bytes(clip))
        return usage

    def _clip_bytes(self, clip: ClipInfo) -> int:
        thumb = self.root / clip.thumbnail if clip.thumbnail else None
        with contextlib.suppress(OSError):
            return clip.size + (thumb.stat().st_size if thumb else 0)
        return clip.size

    def disk_usage(self) -> shutil._ntuple_diskusage:
        """Total, used and free bytes of the file system the store is on."""
        return shutil.disk_usage(self.root)

    # Snapshots ---------------------------------------------------------------------------

    def save_snapshot(self, camera_id: str, when: float, jpeg: bytes) -> str:
        """Store a still as ``<camera>/snapshots/<day>/<HH-MM-SS>[_N].jpg``; returns its path."""
        if not SAFE_ID.match(camera_id):
            msg = f"camera id {camera_id!r} is not a safe folder name"
            raise ValueError(msg)
        local = datetime.fromtimestamp(when, self.tz).astimezone(self.tz)
        folder = self.root / camera_id / SNAPSHOT_DIR / local.strftime("%Y-%m-%d")
        folder.mkdir(parents=True, exist_ok=True)
        stem = local.strftime("%H-%M-%S")
        path = folder / f"{stem}.jpg"
        for number in itertools.count(2):  # two snapshots in one second: keep both
            if not path.exists():
                break
            path = folder / f"{stem}_{number}.jpg"
        path.write_bytes(jpeg)
        return self._relative(path)

    def snapshots(self, camera_id: str) -> list[str]:
        """Stored snapshots of a camera (paths below the root), oldest first."""
        if not SAFE_ID.match(camera_id):
            return []
        folder = self.root / camera_id / SNAPSHOT_DIR
        return sorted(self._relative(path) for path in folder.glob("*/*.jpg"))

    # Retention -------------------------------------------------------------------------

    def enforce_retention(self, now: float) -> list[ClipInfo]:
        """Delete clips beyond age and size limits, oldest first; open clips are never touched."""
        removed: list[ClipInfo] = []
        clips = self.clips()
        for camera_id in {c.camera_id for c in clips}:
            limits = self._limits.get(camera_id, RetentionLimits())
            mine = [c for c in clips if c.camera_id == camera_id]
            if limits.max_age_days is not None:
                cutoff = now - limits.max_age_days * DAY_SECONDS
                self._delete_snapshots_before(camera_id, cutoff)
                old = [c for c in mine if c.end_time < cutoff]
                removed += old
                mine = [c for c in mine if c.end_time >= cutoff]
            if limits.max_bytes is not None:
                removed += self._oldest_beyond(mine, limits.max_bytes)
        kept = [c for c in clips if c not in removed]
        if self.max_total_bytes is not None:
            removed += self._oldest_beyond(kept, self.max_total_bytes)
        for clip in removed:
            self._delete(clip)
        if removed:
            _LOGGER.info("retention removed %d clips", len(removed))
        return removed

    def _delete_snapshots_before(self, camera_id: str, cutoff: float) -> None:
        for relative in self.snapshots(camera_id):
            path = self.root / relative
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    path.parent.rmdir()  # only when the day folder is now empty

    def _oldest_beyond(self, clips: list[ClipInfo], limit: int) -> list[ClipInfo]:
        total = sum(self._clip_bytes(c) for c in clips)
        doomed: list[ClipInfo] = []
        for clip in clips:  # oldest first
            if total <= limit:
                break
            doomed.append(clip)
            total -= self._clip_bytes(clip)
        return doomed

    def _delete(self, clip: ClipInfo) -> None:
        mp4 = self.root / clip.path
        sidecar = mp4.with_suffix(".json")
        for path in (mp4, mp4.with_suffix(".jpg"), sidecar):
            path.unlink(missing_ok=True)
        with self._lock:
            self._clips.pop(self._relative(sidecar), None)
        with contextlib.suppress(OSError):  # an empty day folder goes too
            mp4.parent.rmdir()

    # Recovery --------------------------------------------------------------------------

    def recover(self) -> RecoveryReport:
        """Finish or remove leftover ``.part`` files, then rebuild the index from sidecars."""
        finalised = removed = 0
        for part in sorted(self.root.glob(f"*/*/*.mp4{PART_SUFFIX}")):
            if part in self._open:
                continue
            if self._recover_part(part):
                finalised += 1
            else:
                removed += 1
        clips: dict[str, ClipInfo] = {}
        for sidecar in sorted(self.root.glob("*/*/*.json")):
            info = self._read_sidecar(sidecar)
            if info is not None:
                clips[self._relative(sidecar)] = info
        with self._lock:
            self._clips = clips
        return RecoveryReport(finalised, removed, len(clips))

    def _read_sidecar(self, sidecar: Path) -> ClipInfo | None:
        mp4 = sidecar.with_suffix(".mp4")
        if not mp4.exists():
            if not sidecar.with_suffix(".mp4" + PART_SUFFIX).exists():
                sidecar.unlink(missing_ok=True)  # its clip is gone: the sidecar is an orphan
            return None
        try:
            info = ClipInfo.from_dict(json.loads(sidecar.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as err:
            _LOGGER.warning("ignoring unreadable sidecar %s: %s", sidecar, err)
            return None
        if info.status == "recording":  # renamed, but the final sidecar was never written
            info = self._complete_from_file(info, mp4, sidecar)
        return info

    def _complete_from_file(self, info: ClipInfo, mp4: Path, sidecar: Path) -> ClipInfo:
        probe = probe_clip(mp4)
        info = self._recovered(info, mp4, probe.duration, probe.video_frames)
        with contextlib.suppress(OSError):  # still no room: the index has it all the same
            _write_json(sidecar, info.as_dict())
        return info

    def _recovered(self, info: ClipInfo, mp4: Path, duration: float, frames: int) -> ClipInfo:
        """The sidecar data of a clip whose real length was read back from its file."""
        thumb = mp4.with_suffix(".jpg")
        return replace(
            info,
            path=self._relative(mp4),
            thumbnail=self._relative(thumb) if thumb.exists() else None,
            end_time=info.start_time + duration,
            size=mp4.stat().st_size,
            video_frames=frames,
            status="recovered",
        )

    def _recover_part(self, part: Path) -> bool:
        mp4 = part.with_name(part.name.removesuffix(PART_SUFFIX))
        sidecar = mp4.with_suffix(".json")
        result = remux_readable(part, mp4)
        part.unlink(missing_ok=True)
        if result is None:
            _LOGGER.warning("removed unreadable unfinished clip %s", part.name)
            sidecar.unlink(missing_ok=True)
            mp4.unlink(missing_ok=True)
            return False
        if result.thumbnail is not None and not mp4.with_suffix(".jpg").exists():
            mp4.with_suffix(".jpg").write_bytes(result.thumbnail)
        info = self._recovered(
            self._provisional_from(sidecar, mp4), mp4, result.duration, result.video_frames
        )
        _write_json(sidecar, info.as_dict())
        _LOGGER.info("finalised unfinished clip %s (%d frames)", mp4.name, result.video_frames)
        return True

    def _provisional_from(self, sidecar: Path, mp4: Path) -> ClipInfo:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            return ClipInfo.from_dict(json.loads(sidecar.read_text(encoding="utf-8")))
        # No usable sidecar: rebuild what the path tells (camera, day, time, clip id).
        camera_id = mp4.parent.parent.name
        time_part, _, clip_id = mp4.stem.partition("_")
        start = datetime.strptime(  # noqa: DTZ007 - local wall time, as the path was written
            f"{mp4.parent.name} {time_part}", "%Y-%m-%d %H-%M-%S"
        ).timestamp()
        return ClipInfo(
            clip_id=clip_id,
            event_id=clip_id,
            camera_id=camera_id,
            path=self._relative(mp4),
            thumbnail=None,
            start_time=start,
            end_time=start,
            trigger_time=start,
            pre_roll=0.0,
            size=0,
            video_frames=0,
            audio=None,
            status="recovered",
            part=1,
            event={},
        )
