"""ClipStore on a real temporary folder: layout, retention, recovery after a crash."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
import json
import os
from pathlib import Path
import time
from zoneinfo import ZoneInfo

import pytest

from custom_components.lookback.core.models import AudioPolicy, ClipInfo
from custom_components.lookback.core.mp4 import Mp4Writer
from custom_components.lookback.core.remux import probe_clip
from custom_components.lookback.core.storage import (
    ClipPaths,
    ClipStore,
    RetentionLimits,
    StorageError,
    clip_id_for,
)
from tests.sim.media import make_clip

from .clipcheck import inspect_clip, write_audio_only
from .test_mp4 import demux_all

DAY = 86400.0


def info(camera: str, clip_id: str, start: float, end: float) -> ClipInfo:
    return ClipInfo(
        clip_id=clip_id,
        event_id=clip_id,
        camera_id=camera,
        path="",
        thumbnail=None,
        start_time=start,
        end_time=end,
        trigger_time=start + 1,
        pre_roll=1.0,
        size=0,
        video_frames=10,
        audio=None,
        status="complete",
        part=1,
        event={"event_id": clip_id},
    )


def store_clip(store: ClipStore, camera: str, clip_id: str, start: float, size: int) -> ClipInfo:
    paths = store.paths_for(camera, clip_id, start)
    store.begin(paths, info(camera, clip_id, start, start))
    paths.part.write_bytes(b"\0" * size)
    store.save_thumbnail(paths, b"\xff\xd8jpeg")
    return store.finish(paths, info(camera, clip_id, start, start + 10))


def test_layout_and_sidecar(tmp_path: Path) -> None:
    store = ClipStore(tmp_path)
    store.check_writable()
    start = time.mktime((2026, 11, 22, 14, 5, 9, 0, 0, -1))
    clip = store_clip(store, "front_door", "abc", start, 1000)
    assert clip.path == "front_door/2026-11-22/14-05-09_abc.mp4"
    assert clip.thumbnail == "front_door/2026-11-22/14-05-09_abc.jpg"
    assert clip.size == 1000
    sidecar = json.loads((tmp_path / "front_door/2026-11-22/14-05-09_abc.json").read_text())
    assert sidecar["status"] == "complete"
    assert sidecar["event"] == {"event_id": "abc"}
    assert store.clips("front_door") == [clip]
    assert store.bytes_used() == 1000 + len(b"\xff\xd8jpeg")
    assert clip_id_for("abc", 1) == "abc"
    assert clip_id_for("abc", 3) == "abc-3"


def test_unsafe_camera_ids_and_paths_are_refused(tmp_path: Path) -> None:
    store = ClipStore(tmp_path)
    for bad in ("../etc", "a/b", "", "A"):
        with pytest.raises(ValueError, match="safe"):
            store.paths_for(bad, "x", 0)
    with pytest.raises(ValueError, match="leaves"):
        store.resolve("../../etc/passwd")
    assert store.resolve("cam/x.mp4") == (tmp_path / "cam/x.mp4").resolve()


def test_not_writable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="not writable"):
        ClipStore(blocker / "sub").check_writable()


def test_retention_by_age_size_and_total_oldest_first(tmp_path: Path) -> None:
    now = time.time()
    store = ClipStore(tmp_path, max_total_bytes=None)
    store.set_retention("a", RetentionLimits(max_age_days=2))
    store.set_retention("b", RetentionLimits(max_bytes=2500))
    old_a = store_clip(store, "a", "a-old", now - 3 * DAY, 100)
    new_a = store_clip(store, "a", "a-new", now - 1 * DAY, 100)
    b1 = store_clip(store, "b", "b1", now - 300, 1000)
    b2 = store_clip(store, "b", "b2", now - 200, 1000)
    b3 = store_clip(store, "b", "b3", now - 100, 1000)
    removed = store.enforce_retention(now)
    assert {c.clip_id for c in removed} == {old_a.clip_id, b1.clip_id}
    assert not (tmp_path / old_a.path).exists()
    assert not (tmp_path / old_a.path).with_suffix(".json").exists()
    assert not (tmp_path / old_a.path).with_suffix(".jpg").exists()
    assert [c.clip_id for c in store.clips()] == [new_a.clip_id, b2.clip_id, b3.clip_id]

    store.max_total_bytes = 1200
    removed = store.enforce_retention(now)
    assert [c.clip_id for c in removed] == [new_a.clip_id, b2.clip_id]
    assert [c.clip_id for c in store.clips()] == [b3.clip_id]


def test_retention_never_touches_an_open_clip(tmp_path: Path) -> None:
    store = ClipStore(tmp_path, max_total_bytes=0)
    paths = store.paths_for("cam", "open", time.time())
    store.begin(paths, info("cam", "open", time.time(), time.time()))
    paths.part.write_bytes(b"\0" * 5000)
    store_clip(store, "cam", "done", time.time() - 50, 10)
    assert [c.clip_id for c in store.enforce_retention(time.time())] == ["done"]
    assert paths.part.exists()
    assert store.recover().finalised == 0  # open clips are not "leftovers"
    assert paths.part.exists()


def write_part(
    store: ClipStore, media_dir: Path, clip_id: str, start: float, keep: float
) -> ClipPaths:
    """An unfinished clip as a crash leaves it: fragments written, file cut mid-fragment."""
    packets = demux_all(make_clip(media_dir, seconds=6, gop_seconds=1).path)
    paths = store.paths_for("cam", clip_id, start)
    writer = Mp4Writer(paths.part, packets[0].stream, None, AudioPolicy.DROP)
    for timed in packets:
        writer.write(timed)
    writer.close()
    size = paths.part.stat().st_size
    with paths.part.open("r+b") as f:
        f.truncate(int(size * keep))
    return paths


def test_recovery_finalises_salvageable_parts_and_rebuilds_index(
    tmp_path: Path, media_dir: Path
) -> None:
    first = ClipStore(tmp_path)
    kept = store_clip(first, "cam", "kept", time.time() - 600, 100)
    start = time.time() - 60
    salvage = write_part(first, media_dir, "crashed", start, keep=0.6)
    first.begin(salvage, info("cam", "crashed", start, start))
    write_part(first, media_dir, "nosidecar", start + 20, keep=0.8)
    garbage = first.paths_for("cam", "garbage", start + 30)
    first.begin(garbage, info("cam", "garbage", start + 30, start + 30))
    garbage.part.write_bytes(b"not an mp4 at all")
    orphan = first.paths_for("cam", "orphan", start + 40).sidecar
    orphan.write_text(json.dumps(info("cam", "orphan", 1, 2).as_dict()))
    bad_sidecar = first.paths_for("cam", "badjson", start + 50)
    bad_sidecar.mp4.write_bytes(b"x")
    bad_sidecar.sidecar.write_text("{")

    second = ClipStore(tmp_path)  # a new start after the crash
    report = second.recover()
    assert (report.finalised, report.removed) == (2, 1)
    assert not list(tmp_path.rglob("*.part"))
    assert not garbage.sidecar.exists()
    assert not orphan.exists()
    clips = {c.clip_id: c for c in second.clips("cam")}
    assert set(clips) == {"kept", "crashed", "nosidecar"}
    assert clips["kept"] == kept
    crashed = clips["crashed"]
    assert crashed.status == "recovered"
    assert crashed.thumbnail is not None
    assert (tmp_path / crashed.thumbnail).read_bytes()[:2] == b"\xff\xd8"
    report_mp4 = inspect_clip(tmp_path / crashed.path)
    assert report_mp4.first_packet_is_keyframe
    assert 0 < report_mp4.decoded_frames == crashed.video_frames < 6 * 25
    assert crashed.end_time > crashed.start_time
    assert clips["nosidecar"].start_time == pytest.approx(start + 20, abs=1.0)
    assert report.indexed == 3


def test_probe_clip_reads_without_decoding(tmp_path: Path, media_dir: Path) -> None:
    clip = make_clip(media_dir, seconds=2, fps=10)
    probe = probe_clip(clip.path)
    assert probe.video_frames == 20
    assert probe.duration == pytest.approx(1.9)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\0" * 100)
    assert probe_clip(garbage).video_frames == 0


def test_clip_renamed_before_its_final_sidecar_is_completed_from_the_file(
    tmp_path: Path, media_dir: Path
) -> None:
    first = ClipStore(tmp_path)
    start = time.time() - 30
    paths = first.paths_for("cam", "cut", start)
    first.begin(paths, replace(info("cam", "cut", start, start), status="recording"))
    paths.mp4.write_bytes(make_clip(media_dir, seconds=2, fps=10).path.read_bytes())
    second = ClipStore(tmp_path)
    assert second.recover().indexed == 1
    (clip,) = second.clips()
    assert clip.status == "recovered"
    assert clip.video_frames == 20
    assert clip.end_time == pytest.approx(start + 1.9)
    assert json.loads(paths.sidecar.read_text())["status"] == "recovered"


def test_recovery_of_h265_and_audio_only_parts(tmp_path: Path, media_dir: Path) -> None:
    store = ClipStore(tmp_path)
    start = time.time() - 100
    hevc = store.paths_for("cam", "hevc", start)
    hevc.part.write_bytes(make_clip(media_dir, codec="h265", seconds=2, fps=10).path.read_bytes())
    audio_only = store.paths_for("cam", "audio", start + 10)
    write_audio_only(audio_only.part)
    report = store.recover()
    assert (report.finalised, report.removed) == (1, 1)
    (clip,) = store.clips()
    assert clip.clip_id == "hevc"
    assert inspect_clip(tmp_path / clip.path).codec_tag == "hvc1"


def test_snapshots_are_stored_listed_and_expire_by_age(tmp_path: Path) -> None:
    store = ClipStore(tmp_path)
    now = time.time()
    old = store.save_snapshot("cam", now - 3 * DAY, b"\xff\xd8old")
    new = store.save_snapshot("cam", now, b"\xff\xd8new")
    assert old.startswith("cam/snapshots/")
    assert old.endswith(".jpg")
    same_second = store.save_snapshot("cam", now, b"\xff\xd8again")
    assert same_second != new  # nothing overwritten
    assert (tmp_path / new).read_bytes() == b"\xff\xd8new"
    (tmp_path / same_second).unlink()
    assert store.snapshots("cam") == sorted([old, new])
    assert store.snapshots("../etc") == []
    with pytest.raises(ValueError, match="safe folder"):
        store.save_snapshot("../x", now, b"")
    (tmp_path / old).touch()  # the file's time is what ages it: make the old one old
    os.utime(tmp_path / old, (now - 3 * DAY, now - 3 * DAY))
    store.set_retention("cam", RetentionLimits(max_age_days=2))
    store_clip(store, "cam", "c1", now, 10)  # retention visits cameras that have clips
    store.enforce_retention(now)
    assert store.snapshots("cam") == [new]
    assert (tmp_path / new).read_bytes() == b"\xff\xd8new"
    assert not (tmp_path / old).parent.exists()  # its empty day folder went too
    assert store.recover().indexed == 1  # snapshots are never taken for clips


def test_clip_lookup_and_disk_usage(tmp_path: Path) -> None:
    store = ClipStore(tmp_path)
    clip = store_clip(store, "cam", "c1", time.time(), 10)
    assert store.clip("cam", "c1") == clip
    assert store.clip("other", "c1") is None
    assert store.clip("cam", "nope") is None
    assert store.disk_usage().free > 0


def test_folders_are_named_in_the_stores_time_zone(tmp_path: Path) -> None:
    # 2026-11-21 20:00 UTC is already the 22nd at UTC+14: the user's zone decides the day.
    when = datetime(2026, 11, 21, 20, 0, tzinfo=UTC).timestamp()
    store = ClipStore(tmp_path, tz=ZoneInfo("Pacific/Kiritimati"))
    assert store.paths_for("cam", "c1", when).mp4.parent.name == "2026-11-22"
    assert store.save_snapshot("cam", when, b"x") == "cam/snapshots/2026-11-22/10-00-00.jpg"
    utc = ClipStore(tmp_path / "utc", tz=UTC)
    assert utc.paths_for("cam", "c1", when).mp4.name.startswith("20-00-00_")


def test_a_missing_parent_is_not_created_at_start_up(tmp_path: Path) -> None:
    # An unmounted disk: recording onto the system disk instead could fill it.
    store = ClipStore(tmp_path / "usb" / "lookback")
    with pytest.raises(StorageError, match="mounted"):
        store.check_writable(create_parents=False)
    assert not (tmp_path / "usb").exists()
    store.check_writable()  # the config flow may create the whole path
    store.check_writable(create_parents=False)


def test_usage_by_camera_counts_clips_and_bytes(tmp_path: Path) -> None:
    store = ClipStore(tmp_path)
    now = time.time()
    store_clip(store, "a", "a1", now, 100)
    store_clip(store, "a", "a2", now + 1, 50)
    store_clip(store, "b", "b1", now, 10)
    usage = store.usage_by_camera()
    assert usage == {"a": (2, store.bytes_used("a")), "b": (1, store.bytes_used("b"))}
    assert sum(size for _n, size in usage.values()) == store.bytes_used()
