"""HA tests: browsing and resolving stored clips and snapshots through the media source.

A camera-less NVR entry is set up for real over a storage folder that already holds clips, so
start-up indexes them from their sidecars. Named cameras are CameraHubs added to the running
hub but never started: the media source only reads their names, and no stream is opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
import io
from pathlib import Path
import shutil
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.components import media_source
from homeassistant.components.media_player.const import MediaClass
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.lookback.camera_hub import CameraHub
from custom_components.lookback.const import CONF_CAMERA_ID, CONF_URL, DOMAIN
from custom_components.lookback.core.models import ClipInfo
from custom_components.lookback.core.storage import ClipStore
from custom_components.lookback.hub import LookbackHub
from custom_components.lookback.media_source import (
    MAX_FOLDER_ITEMS,
    RECENT_CLIPS,
    snapshot_identifier,
)
from custom_components.lookback.media_titles import clip_title, recent_clip_title
from custom_components.lookback.paths import file_path
from tests.ha_helpers import nvr_entry_data
from tests.sim.media import ClipFactory

ZONE = "Europe/Berlin"  # HA's zone in these tests; the process runs in its own (often UTC)
BERLIN = ZoneInfo(ZONE)
PREFIX = "media-source://lookback"


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> float:
    """Epoch seconds of a wall time in HA's zone, in 2026."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=BERLIN).timestamp()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


def add_clip(
    store: ClipStore,
    mp4: Path,
    camera_id: str,
    clip_id: str,
    start: float,
    *,
    duration: float = 12.0,
    triggers: Sequence[str] = ("motion",),
    labels: dict[str, Any] | None = None,
    part: int = 1,
    thumbnail: bool = True,
) -> ClipInfo:
    """Store a real MP4 as a finished clip the way the recorder does (part file, rename)."""
    paths = store.paths_for(camera_id, clip_id, start)
    info = ClipInfo(
        clip_id=clip_id,
        event_id=clip_id,
        camera_id=camera_id,
        path="",
        thumbnail=None,
        start_time=start,
        end_time=start + duration,
        trigger_time=start + 1,
        pre_roll=1.0,
        size=0,
        video_frames=10,
        audio=None,
        status="recording",
        part=part,
        event={
            "triggers": [{"source": source} for source in triggers],
            "labels": labels or {},
        },
    )
    store.begin(paths, info)
    shutil.copyfile(mp4, paths.part)
    if thumbnail:
        store.save_thumbnail(paths, jpeg())
    return store.finish(paths, replace(info, status="complete"))


@pytest.fixture
def mp4(make_media: ClipFactory) -> Path:
    return make_media(width=160, height=96, fps=10, seconds=1.0, gop_seconds=1.0).path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def store(root: Path) -> ClipStore:
    """A store to write clips with before the NVR starts (which indexes them).

    Named in HA's zone like the hub's own store, not in the process's zone (often UTC).
    """
    return ClipStore(root, tz=BERLIN)


@pytest.fixture(autouse=True)
async def time_zone(hass: HomeAssistant) -> None:
    await hass.config.async_set_time_zone(ZONE)


async def start(hass: HomeAssistant, root: Path, cameras: dict[str, str]) -> LookbackHub:
    """Set up media_source and a camera-less NVR entry; add named, never started cameras."""
    assert await async_setup_component(hass, "media_source", {})
    entry = MockConfigEntry(
        domain=DOMAIN,
        data=nvr_entry_data(root),
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hub: LookbackHub = entry.runtime_data.hub
    for camera_id, name in cameras.items():
        subentry = ConfigSubentry(
            data=MappingProxyType(
                {CONF_CAMERA_ID: camera_id, CONF_NAME: name, CONF_URL: "rtsp://127.0.0.1:1/"}
            ),
            subentry_type="camera",
            title=name,
            unique_id=camera_id,
        )
        hub.cameras[camera_id] = CameraHub(hub, subentry)
    return hub


async def browse(hass: HomeAssistant, identifier: str = "") -> media_source.BrowseMediaSource:
    node = await media_source.async_browse_media(
        hass, f"{PREFIX}/{identifier}" if identifier else PREFIX
    )
    assert isinstance(node, media_source.BrowseMediaSource)
    return node


def titles(node: media_source.BrowseMediaSource) -> list[str]:
    return [child.title for child in node.children or []]


def ids(node: media_source.BrowseMediaSource) -> list[str]:
    return [child.media_content_id.removeprefix(PREFIX + "/") for child in node.children or []]


async def test_root_lists_recent_then_cameras_with_newest_thumbnails(
    hass: HomeAssistant, root: Path, store: ClipStore, mp4: Path
) -> None:
    add_clip(store, mp4, "front", "a", at(21, 9))
    newest_front = add_clip(store, mp4, "front", "b", at(21, 10))
    old = add_clip(store, mp4, "old", "c", at(20, 8))  # its camera was removed
    await start(hass, root, {"front": "Front door", "back": "Back garden"})

    sources = await media_source.async_browse_media(hass, None)
    assert "Lookback" in titles(sources)  # type: ignore[arg-type]

    node = await browse(hass)
    assert node.title == "Lookback"
    assert node.media_class == MediaClass.DIRECTORY
    assert titles(node) == ["Recent, all cameras", "Front door", "Back garden", "old"]
    assert ids(node) == ["recent", "camera/front", "camera/back", "camera/old"]
    thumbnails = [child.thumbnail for child in node.children or []]
    assert newest_front.thumbnail is not None
    assert old.thumbnail is not None
    assert thumbnails == [
        file_path(newest_front.thumbnail),
        file_path(newest_front.thumbnail),
        None,  # no clips yet
        file_path(old.thumbnail),
    ]
    assert all(child.can_expand and not child.can_play for child in node.children or [])


async def test_recent_shows_newest_clips_of_all_cameras(
    hass: HomeAssistant, root: Path, store: ClipStore, mp4: Path
) -> None:
    for n in range(RECENT_CLIPS + 5):
        camera_id = "front" if n % 2 else "back"
        add_clip(store, mp4, camera_id, f"c{n:02d}", at(21, 8, n), triggers=())
    add_clip(
        store, mp4, "front", "last", at(21, 14, 3, 21), triggers=["motion"], labels={"person": 0.82}
    )
    await start(hass, root, {"front": "Front door", "back": "Back garden"})

    node = await browse(hass, "recent")
    assert len(node.children or []) == RECENT_CLIPS
    assert titles(node)[0] == "14:03:21 · Sat 21 Nov · Front door · motion · person 0.82"
    assert titles(node)[1] == "08:54:00 · Sat 21 Nov · Back garden"
    assert titles(node)[2] == "08:53:00 · Sat 21 Nov · Front door"
    # Newest first; the 5 oldest clips are left out.
    assert ids(node)[:2] == ["clip/front/last", "clip/back/c54"]
    assert ids(node)[-1] == "clip/back/c06"


async def test_camera_lists_snapshots_and_days_newest_first_in_ha_time_zone(
    hass: HomeAssistant, root: Path, store: ClipStore, mp4: Path
) -> None:
    add_clip(store, mp4, "front", "a", at(21, 9))
    add_clip(store, mp4, "front", "b", at(21, 23, 30))
    # 00:30 in Berlin is still the 21st in UTC: the day is HA's, not the server's.
    newest = add_clip(store, mp4, "front", "c", at(22, 0, 30))
    add_clip(store, mp4, "back", "d", at(23, 9))
    hub = await start(hass, root, {"front": "Front door", "back": "Back garden"})

    node = await browse(hass, "camera/front")
    assert node.title == "Front door"
    assert titles(node) == ["Sun 22 Nov 2026 (1 clip)", "Sat 21 Nov 2026 (2 clips)"]
    assert ids(node) == ["day/front/2026-11-22", "day/front/2026-11-21"]
    assert newest.thumbnail is not None
    assert (node.children or [])[0].thumbnail == file_path(newest.thumbnail)

    shot = hub.store.save_snapshot("front", at(22, 7), jpeg())
    node = await browse(hass, "camera/front")
    assert titles(node)[0] == "Snapshots"
    assert ids(node)[0] == "snapshots/front"
    assert (node.children or [])[0].thumbnail == file_path(shot)

    empty = await browse(hass, "camera/back")  # configured, days of its own only
    assert titles(empty) == ["Mon 23 Nov 2026 (1 clip)"]


async def test_day_lists_clips_newest_first_with_titles_and_thumbnails(
    hass: HomeAssistant, root: Path, store: ClipStore, mp4: Path
) -> None:
    first = add_clip(store, mp4, "front", "first", at(21, 9, 0, 5), thumbnail=False, triggers=())
    second = add_clip(
        store,
        mp4,
        "front",
        "second",
        at(21, 14, 3, 21),
        triggers=["service", "motion", "motion"],
        labels={"car": 0.4, "person": 0.82},
    )
    add_clip(store, mp4, "front", "other-day", at(22, 9))
    await start(hass, root, {"front": "Front door"})

    node = await browse(hass, "day/front/2026-11-21")
    assert node.title == "Front door · Sat 21 Nov 2026"
    assert titles(node) == [
        "14:03:21 · 12 s · action, motion · person 0.82, car 0.40",
        "09:00:05 · 12 s",
    ]
    assert ids(node) == ["clip/front/second", "clip/front/first"]
    newer, older = node.children or []
    assert newer.media_class == MediaClass.VIDEO
    assert newer.media_content_type == "video/mp4"
    assert newer.can_play
    assert not newer.can_expand
    assert second.thumbnail is not None
    assert newer.thumbnail == file_path(second.thumbnail)
    assert first.thumbnail is None
    assert older.thumbnail is None

    leaf = await browse(hass, "clip/front/second")
    assert leaf.title == newer.title
    assert leaf.can_play


async def test_busy_day_is_grouped_by_hour_and_nothing_is_left_out(
    hass: HomeAssistant, root: Path, store: ClipStore, mp4: Path
) -> None:
    # MAX_FOLDER_ITEMS + 1 clips over three hours of one day; the next day has exactly the limit.
    busy = [
        add_clip(store, mp4, "front", f"b{n:02d}", at(21, 10 + n % 3, n)).clip_id
        for n in range(MAX_FOLDER_ITEMS + 1)
    ]
    for n in range(MAX_FOLDER_ITEMS):
        add_clip(store, mp4, "front", f"q{n:02d}", at(22, 10, n))
    await start(hass, root, {"front": "Front door"})

    day = await browse(hass, "day/front/2026-11-21")
    assert ids(day) == [
        "hour/front/2026-11-21/12",
        "hour/front/2026-11-21/11",
        "hour/front/2026-11-21/10",
    ]
    assert titles(day) == [
        "12:00-12:59 (16 clips)",
        "11:00-11:59 (16 clips)",
        "10:00-10:59 (17 clips)",
    ]
    seen: list[str] = []
    for hour_id in ids(day):
        hour = await browse(hass, hour_id)
        assert hour.title.startswith("Front door · Sat 21 Nov 2026 ")
        seen += [clip_id.rsplit("/", 1)[-1] for clip_id in ids(hour)]
    assert sorted(seen) == sorted(busy)

    flat = await browse(hass, "day/front/2026-11-22")
    assert len(ids(flat)) == MAX_FOLDER_ITEMS
    assert all(child_id.startswith("clip/") for child_id in ids(flat))


async def test_clip_resolves_to_its_file_and_the_url_plays(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    root: Path,
    store: ClipStore,
    mp4: Path,
) -> None:
    clip = add_clip(store, mp4, "front", "abc", at(21, 9))
    await start(hass, root, {"front": "Front door"})

    media = await media_source.async_resolve_media(hass, f"{PREFIX}/clip/front/abc", None)
    assert media.url == file_path(clip.path)
    assert media.mime_type == "video/mp4"
    assert media.path == root / clip.path

    client = await hass_client()
    response = await client.get(media.url)
    assert response.status == 200
    assert await response.read() == await hass.async_add_executor_job(mp4.read_bytes)


async def test_snapshots_browse_and_resolve_in_ha_time(
    hass: HomeAssistant, root: Path, mp4: Path, store: ClipStore
) -> None:
    add_clip(store, mp4, "front", "a", at(21, 9))
    hub = await start(hass, root, {"front": "Front door"})
    older = hub.store.save_snapshot("front", at(21, 14, 3, 21), jpeg())
    newer = hub.store.save_snapshot("front", at(22, 0, 15), jpeg())
    # Not a name save_snapshot makes: never listed (its identifier could not resolve).
    (root / "front" / "snapshots" / "2026-11-21" / "copy.jpg").write_bytes(jpeg())

    node = await browse(hass, "snapshots/front")
    assert node.title == "Front door · Snapshots"
    assert titles(node) == ["Sun 22 Nov 2026 00:15:00", "Sat 21 Nov 2026 14:03:21"]
    assert ids(node) == [snapshot_identifier("front", newer), snapshot_identifier("front", older)]
    child = (node.children or [])[0]
    assert child.media_class == MediaClass.IMAGE
    assert child.media_content_type == "image/jpeg"
    assert child.can_play
    assert child.thumbnail == file_path(newer)

    leaf = await browse(hass, snapshot_identifier("front", older))
    assert leaf.title == "Sat 21 Nov 2026 14:03:21"

    media = await media_source.async_resolve_media(
        hass, f"{PREFIX}/{snapshot_identifier('front', older)}", None
    )
    assert media.url == file_path(older)
    assert media.mime_type == "image/jpeg"
    assert media.path == root / older


async def test_many_snapshots_are_grouped_by_day(
    hass: HomeAssistant, root: Path, store: ClipStore
) -> None:
    store.save_snapshot("front", at(20, 12), jpeg())
    for n in range(MAX_FOLDER_ITEMS):
        store.save_snapshot("front", at(21, 12, n), jpeg())
    await start(hass, root, {"front": "Front door"})

    node = await browse(hass, "snapshots/front")
    assert titles(node) == ["Sat 21 Nov 2026 (48 snapshots)", "Fri 20 Nov 2026 (1 snapshot)"]
    assert ids(node) == ["snapshots/front/2026-11-21", "snapshots/front/2026-11-20"]

    day = await browse(hass, "snapshots/front/2026-11-21")
    assert day.title == "Front door · Snapshots · Sat 21 Nov 2026"
    assert len(titles(day)) == MAX_FOLDER_ITEMS
    assert titles(day)[:2] == ["12:47:00", "12:46:00"]


@pytest.mark.parametrize(
    ("identifier", "key"),
    [
        ("nope", "media_unknown_item"),
        ("recent/extra", "media_unknown_item"),
        ("camera/ghost", "media_unknown_item"),
        ("day/front/2026-01-01", "media_unknown_item"),
        ("day/front/yesterday", "media_unknown_item"),
        ("hour/front/2026-11-21/23", "media_unknown_item"),
        ("hour/front/2026-01-01/09", "media_unknown_item"),
        ("clip/front/missing", "media_clip_not_found"),
        ("snapshots/front", "media_unknown_item"),
        ("snapshots/front/2026-11-21/x", "media_unknown_item"),
        ("snapshot/front/2026-11-21/09-00-00.jpg", "media_snapshot_not_found"),
        ("snapshot/front/../../../etc/passwd", "media_unknown_item"),
        ("snapshot/front/2026-11-21/../../a/b.jpg", "media_unknown_item"),
        ("snapshot/../2026-11-21/09-00-00.jpg", "media_unknown_item"),
        ("snapshot/front/2026-13-45/09-00-00.jpg", "media_unknown_item"),
    ],
)
async def test_unknown_items_are_translated_browse_errors(
    hass: HomeAssistant, root: Path, store: ClipStore, mp4: Path, identifier: str, key: str
) -> None:
    add_clip(store, mp4, "front", "a", at(21, 9))
    await start(hass, root, {"front": "Front door"})

    with pytest.raises(BrowseError) as err:
        await browse(hass, identifier)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key


@pytest.mark.parametrize(
    ("identifier", "key"),
    [
        ("recent", "media_unknown_item"),
        ("camera/front", "media_unknown_item"),
        ("day/front/2026-11-21", "media_unknown_item"),
        ("clip/front", "media_unknown_item"),
        ("clip/front/missing", "media_clip_not_found"),
        ("snapshot/front/2026-11-21/09-00-00.jpg", "media_snapshot_not_found"),
        ("snapshot/front/passwd", "media_unknown_item"),
    ],
)
async def test_only_clips_and_snapshots_resolve(
    hass: HomeAssistant, root: Path, store: ClipStore, mp4: Path, identifier: str, key: str
) -> None:
    add_clip(store, mp4, "front", "a", at(21, 9))
    await start(hass, root, {"front": "Front door"})

    with pytest.raises(media_source.Unresolvable) as err:
        await media_source.async_resolve_media(hass, f"{PREFIX}/{identifier}", None)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key


async def test_nothing_is_shown_while_the_entry_is_not_loaded(
    hass: HomeAssistant, root: Path, store: ClipStore, mp4: Path
) -> None:
    add_clip(store, mp4, "front", "a", at(21, 9))
    hub = await start(hass, root, {})
    assert ids(await browse(hass)) == ["recent", "camera/front"]
    assert await hass.config_entries.async_unload(hub.entry.entry_id)

    with pytest.raises(BrowseError) as browse_err:
        await browse(hass)
    assert browse_err.value.translation_key == "media_not_loaded"
    with pytest.raises(media_source.Unresolvable) as resolve_err:
        await media_source.async_resolve_media(hass, f"{PREFIX}/clip/front/a", None)
    assert resolve_err.value.translation_key == "media_not_loaded"
    # The message comes from the strings (HA drops the final full stop).
    assert str(resolve_err.value).startswith("Lookback NVR is not running")


@pytest.mark.parametrize(
    ("duration", "event", "part", "title"),
    [
        (12.4, {}, 1, "14:03:21 · 12 s"),
        (65, {"triggers": [{"source": "smtp"}]}, 1, "14:03:21 · 1 min 05 s · e-mail"),
        (
            3700,
            {"labels": {"dog": 0, "cat": "high"}},
            2,
            "14:03:21 · 1 h 01 min · dog, cat · part 2",
        ),
        # Sidecars come from disk: odd shapes are skipped, not fatal.
        (5, {"triggers": "motion", "labels": ["person"]}, 1, "14:03:21 · 5 s"),
        (
            5,
            {"triggers": [{"label": "x"}, "motion", {"source": "entity"}]},
            1,
            "14:03:21 · 5 s · entity",
        ),
        # Motion names the zones it was seen in (once each, in order).
        (
            9,
            {
                "triggers": [
                    {"source": "motion", "data": {"zones": ["drive"]}},
                    {"source": "service", "data": "odd"},
                    {"source": "motion", "data": {"zones": ["porch", "drive"]}},
                ]
            },
            1,
            "14:03:21 · 9 s · motion (drive, porch), action",
        ),
    ],
)
async def test_clip_titles(
    hass: HomeAssistant, duration: float, event: dict[str, Any], part: int, title: str
) -> None:
    start_time = at(21, 14, 3, 21)
    clip = ClipInfo(
        clip_id="x",
        event_id="x",
        camera_id="front",
        path="front/x.mp4",
        thumbnail=None,
        start_time=start_time,
        end_time=start_time + duration,
        trigger_time=start_time,
        pre_roll=0.0,
        size=1,
        video_frames=1,
        audio=None,
        status="complete",
        part=part,
        event=event,
    )
    assert clip_title(clip) == title
    assert recent_clip_title("Front", clip).startswith("14:03:21 · Sat 21 Nov · Front")
