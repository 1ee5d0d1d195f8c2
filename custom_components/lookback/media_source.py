"""Browse and play stored clips and snapshots in HA's media browser.

Identifiers (below ``media-source://lookback``):

- ``""``: the root, a "recent" folder and one folder per camera;
- ``recent``: the newest clips of all cameras;
- ``camera/<camera>``: the camera's days, newest first, and its snapshots;
- ``day/<camera>/<YYYY-MM-DD>``: the day's clips, newest first, or its hours on busy days;
- ``hour/<camera>/<YYYY-MM-DD>/<HH>``: the clips of one hour;
- ``clip/<camera>/<clip>``: one clip (plays);
- ``snapshots/<camera>`` and ``snapshots/<camera>/<YYYY-MM-DD>``: stored snapshots;
- ``snapshot/<camera>/<YYYY-MM-DD>/<HH-MM-SS>.jpg``: one snapshot (shows).

Days and hours are those of HA's time zone. Clips come from the store's in-memory index, so
browsing does no file I/O on the event loop; only snapshots are read from disk (in an
executor). Large groups are split into folders, never cut short.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
import re
from typing import TYPE_CHECKING, Final

from homeassistant.components.media_player.const import MediaClass
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.components.media_source import (
    BrowseMediaSource,
    MediaSource,
    MediaSourceItem,
    PlayMedia,
    Unresolvable,
)
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from . import media_titles as titles
from .const import DOMAIN
from .core.storage import SAFE_ID, SNAPSHOT_DIR
from .paths import clip_identifier, file_path
from .views import servable_file

if TYPE_CHECKING:
    from .core.models import ClipInfo
    from .data import LookbackConfigEntry
    from .hub import LookbackHub

RECENT: Final = "recent"
RECENT_TITLE: Final = "Recent, all cameras"
RECENT_CLIPS: Final = 50
# A day with more clips than this is shown as hour folders; likewise days of snapshots.
MAX_FOLDER_ITEMS: Final = 48

VIDEO_MIME: Final = "video/mp4"
IMAGE_MIME: Final = "image/jpeg"

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
HOUR = re.compile(r"^\d{2}$")
# ``<YYYY-MM-DD>/<HH-MM-SS>[_N].jpg`` as ClipStore.save_snapshot names them: nothing else.
SNAPSHOT_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})/(\d{2})-(\d{2})-(\d{2})(?:_\d+)?\.jpg$")


async def async_get_media_source(hass: HomeAssistant) -> LookbackMediaSource:
    """Set up the Lookback media source."""
    return LookbackMediaSource(hass)


def snapshot_identifier(camera_id: str, relative: str) -> str:
    """Media source identifier of a snapshot given its path below the storage folder.

    ``relative`` is what ``ClipStore.save_snapshot`` returns:
    ``<camera>/snapshots/<YYYY-MM-DD>/<HH-MM-SS>.jpg``.
    """
    return f"snapshot/{camera_id}/{_snapshot_name(relative)}"


class _NotFoundError(Exception):
    """An identifier names nothing (raised as BrowseError or Unresolvable by the caller)."""

    def __init__(self, key: str, **placeholders: str) -> None:
        super().__init__(key)
        self.key = key
        self.placeholders = placeholders


# Nodes ------------------------------------------------------------------------------------


def _folder(
    identifier: str | None,
    title: str,
    *,
    children: Sequence[BrowseMediaSource] | None = None,
    children_class: MediaClass = MediaClass.VIDEO,
    thumbnail: str | None = None,
) -> BrowseMediaSource:
    return BrowseMediaSource(
        domain=DOMAIN,
        identifier=identifier,
        media_class=MediaClass.DIRECTORY,
        media_content_type="",
        title=title,
        can_play=False,
        can_expand=True,
        children=children,
        children_media_class=children_class,
        thumbnail=thumbnail,
    )


def _thumbnail(clip: ClipInfo | None) -> str | None:
    # Relative API paths: the frontend fetches thumbnails with the user's own token.
    return file_path(clip.thumbnail) if clip is not None and clip.thumbnail else None


def _clip_node(clip: ClipInfo, title: str) -> BrowseMediaSource:
    return BrowseMediaSource(
        domain=DOMAIN,
        identifier=clip_identifier(clip.camera_id, clip.clip_id),
        media_class=MediaClass.VIDEO,
        media_content_type=VIDEO_MIME,
        title=title,
        can_play=True,
        can_expand=False,
        thumbnail=_thumbnail(clip),
    )


def _snapshot_node(camera_id: str, snapshot: _Snapshot, *, with_day: bool) -> BrowseMediaSource:
    taken = snapshot.taken
    title = f"{titles.day_title(taken)} {taken:%H:%M:%S}" if with_day else f"{taken:%H:%M:%S}"
    return BrowseMediaSource(
        domain=DOMAIN,
        identifier=snapshot_identifier(camera_id, snapshot.relative),
        media_class=MediaClass.IMAGE,
        media_content_type=IMAGE_MIME,
        title=title,
        can_play=True,
        can_expand=False,
        thumbnail=file_path(snapshot.relative),
    )


def _group[T](items: Iterable[T], key: Callable[[T], str]) -> dict[str, list[T]]:
    """Items by key, keeping their order (so groups of oldest-first items are oldest first)."""
    groups: dict[str, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


def _day_of(clip: ClipInfo) -> str:
    return titles.local(clip.start_time).strftime("%Y-%m-%d")


def _snapshot_name(relative: str) -> str:
    """``<YYYY-MM-DD>/<HH-MM-SS>.jpg`` of a snapshot's path below the storage folder."""
    return relative.split("/", 2)[-1]


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """A stored snapshot: its path below the storage folder and when it was taken."""

    relative: str
    taken: datetime  # in HA's time zone

    @property
    def day(self) -> str:
        """Local date in HA's time zone, as identifiers write it."""
        return self.taken.strftime("%Y-%m-%d")


def _parse_snapshot(relative: str) -> _Snapshot | None:
    """The snapshot at ``relative``, or None when the name is not one ``save_snapshot`` makes.

    The hub's store names files in HA's time zone, so the name is read back in it.
    """
    match = SNAPSHOT_FILE.match(_snapshot_name(relative))
    if match is None:
        return None
    day, hours, minutes, seconds = match.groups()
    try:
        named = datetime.fromisoformat(f"{day}T{hours}:{minutes}:{seconds}")
    except ValueError:  # a name of the right shape, but no time (month 13)
        return None
    return _Snapshot(relative, named.replace(tzinfo=dt_util.get_default_time_zone()))


# The media source -------------------------------------------------------------------------


class LookbackMediaSource(MediaSource):
    """Stored clips and snapshots by camera, day and hour, plus the newest of all cameras."""

    name = "Lookback"

    def __init__(self, hass: HomeAssistant) -> None:
        """Find the loaded entry on each request (the source outlives entry reloads)."""
        super().__init__(DOMAIN)
        self.hass = hass

    async def async_resolve_media(self, item: MediaSourceItem) -> PlayMedia:
        """A clip's or snapshot's URL (relative: HA signs it for whoever plays it)."""
        try:
            return await self._resolve(item.identifier or "")
        except _NotFoundError as err:
            raise Unresolvable(
                translation_domain=DOMAIN,
                translation_key=err.key,
                translation_placeholders=err.placeholders,
            ) from err

    async def async_browse_media(self, item: MediaSourceItem) -> BrowseMediaSource:
        """One level of the tree described in the module docstring."""
        try:
            return await self._browse(item.identifier or "")  # None for the bare source
        except _NotFoundError as err:
            raise BrowseError(
                translation_domain=DOMAIN,
                translation_key=err.key,
                translation_placeholders=err.placeholders,
            ) from err

    # Lookups --------------------------------------------------------------------------

    def _hub(self) -> LookbackHub:
        entries: list[LookbackConfigEntry] = self.hass.config_entries.async_loaded_entries(DOMAIN)
        if not entries:
            raise _NotFoundError("media_not_loaded")
        return entries[0].runtime_data.hub

    @staticmethod
    def _camera_name(hub: LookbackHub, camera_id: str) -> str:
        # Clips of a camera removed from the configuration stay browsable under their id.
        camera = hub.cameras.get(camera_id)
        return camera.name if camera is not None else camera_id

    @staticmethod
    def _camera_ids(hub: LookbackHub, clips: Iterable[ClipInfo]) -> list[str]:
        """Configured cameras in their order, then cameras that only have clips left."""
        extra = {clip.camera_id for clip in clips} - hub.cameras.keys()
        return [*hub.cameras, *sorted(extra)]

    def _clip(self, hub: LookbackHub, camera_id: str, clip_id: str) -> ClipInfo:
        clip = hub.store.clip(camera_id, clip_id)
        if clip is None:
            raise _NotFoundError(
                "media_clip_not_found", camera=self._camera_name(hub, camera_id), clip_id=clip_id
            )
        return clip

    async def _snapshots(self, hub: LookbackHub, camera_id: str) -> list[_Snapshot]:
        """The camera's snapshots, oldest first (a glob of the disk: in an executor).

        Only files named as ``save_snapshot`` names them: their identifiers must resolve.
        """
        paths = await self.hass.async_add_executor_job(hub.store.snapshots, camera_id)
        snapshots = [snapshot for path in paths if (snapshot := _parse_snapshot(path))]
        return sorted(snapshots, key=lambda snapshot: snapshot.taken)

    async def _snapshot(self, hub: LookbackHub, camera_id: str, rest: str) -> _Snapshot:
        """The existing snapshot an identifier names (``rest``: ``<date>/<time>.jpg``)."""
        relative = f"{camera_id}/{SNAPSHOT_DIR}/{rest}"
        # Both checks keep the path to our own names: no ``..``, no other folders.
        if not SAFE_ID.match(camera_id) or (snapshot := _parse_snapshot(relative)) is None:
            raise _NotFoundError("media_unknown_item", identifier=f"snapshot/{camera_id}/{rest}")
        if await self.hass.async_add_executor_job(servable_file, hub.store, relative) is None:
            raise _NotFoundError(
                "media_snapshot_not_found", camera=self._camera_name(hub, camera_id), name=rest
            )
        return snapshot

    # Resolve --------------------------------------------------------------------------

    async def _resolve(self, identifier: str) -> PlayMedia:
        hub = self._hub()
        kind, _, rest = identifier.partition("/")
        camera_id, _, name = rest.partition("/")
        if kind == "clip" and camera_id and name:
            clip = self._clip(hub, camera_id, name)
            # ``path`` lets local consumers (AI tasks, uploads) read the file directly.
            return PlayMedia(file_path(clip.path), VIDEO_MIME, path=hub.store.root / clip.path)
        if kind == "snapshot":
            relative = (await self._snapshot(hub, camera_id, name)).relative
            return PlayMedia(file_path(relative), IMAGE_MIME, path=hub.store.root / relative)
        raise _NotFoundError("media_unknown_item", identifier=identifier)

    # Browse ---------------------------------------------------------------------------

    async def _browse(self, identifier: str) -> BrowseMediaSource:
        hub = self._hub()
        kind, _, rest = identifier.partition("/")
        parts = rest.split("/") if rest else []
        match kind, parts:
            case "", []:
                return self._browse_root(hub)
            case "recent", []:
                return self._browse_recent(hub)
            case "camera", [camera_id]:
                return await self._browse_camera(hub, camera_id, identifier)
            case "day", [camera_id, day] if DATE.match(day):
                return self._browse_day(hub, camera_id, day, identifier)
            case "hour", [camera_id, day, hour] if DATE.match(day) and HOUR.match(hour):
                return self._browse_hour(hub, camera_id, day, hour, identifier)
            case "clip", [camera_id, clip_id]:
                clip = self._clip(hub, camera_id, clip_id)
                return _clip_node(clip, titles.clip_title(clip))
            case "snapshots", [camera_id, *day] if len(day) <= 1:
                return await self._browse_snapshots(hub, camera_id, day[0] if day else None)
            case "snapshot", [camera_id, *_]:
                snapshot = await self._snapshot(hub, camera_id, rest.partition("/")[2])
                return _snapshot_node(camera_id, snapshot, with_day=True)
        raise _NotFoundError("media_unknown_item", identifier=identifier)

    def _browse_root(self, hub: LookbackHub) -> BrowseMediaSource:
        clips = hub.store.clips()
        newest: dict[str, ClipInfo] = {clip.camera_id: clip for clip in clips}  # oldest first
        children = [
            _folder(
                RECENT,
                RECENT_TITLE,
                thumbnail=_thumbnail(clips[-1] if clips else None),
            ),
            *(
                _folder(
                    f"camera/{camera_id}",
                    self._camera_name(hub, camera_id),
                    children_class=MediaClass.DIRECTORY,
                    thumbnail=_thumbnail(newest.get(camera_id)),
                )
                for camera_id in self._camera_ids(hub, clips)
            ),
        ]
        return _folder(
            None, self.name or DOMAIN, children=children, children_class=MediaClass.DIRECTORY
        )

    def _browse_recent(self, hub: LookbackHub) -> BrowseMediaSource:
        clips = hub.store.clips()[-RECENT_CLIPS:][::-1]
        children = [
            _clip_node(clip, titles.recent_clip_title(self._camera_name(hub, clip.camera_id), clip))
            for clip in clips
        ]
        return _folder(
            RECENT,
            RECENT_TITLE,
            children=children,
            thumbnail=_thumbnail(clips[0] if clips else None),
        )

    async def _browse_camera(
        self, hub: LookbackHub, camera_id: str, identifier: str
    ) -> BrowseMediaSource:
        clips = hub.store.clips(camera_id)
        if camera_id not in hub.cameras and not clips:
            raise _NotFoundError("media_unknown_item", identifier=identifier)
        children: list[BrowseMediaSource] = []
        if snapshots := await self._snapshots(hub, camera_id):
            children.append(
                _folder(
                    f"snapshots/{camera_id}",
                    "Snapshots",
                    children_class=MediaClass.IMAGE,
                    thumbnail=file_path(snapshots[-1].relative),
                )
            )
        days = _group(clips, _day_of)
        for day, day_clips in reversed(days.items()):
            title = f"{titles.day_title(date.fromisoformat(day))} ({titles.count(len(day_clips), 'clip')})"
            busy = len(day_clips) > MAX_FOLDER_ITEMS
            children.append(
                _folder(
                    f"day/{camera_id}/{day}",
                    title,
                    children_class=MediaClass.DIRECTORY if busy else MediaClass.VIDEO,
                    thumbnail=_thumbnail(day_clips[-1]),
                )
            )
        newest = clips[-1] if clips else None
        return _folder(
            f"camera/{camera_id}",
            self._camera_name(hub, camera_id),
            children=children,
            children_class=MediaClass.DIRECTORY,
            thumbnail=_thumbnail(newest),
        )

    def _day_clips(
        self, hub: LookbackHub, camera_id: str, day: str, identifier: str
    ) -> list[ClipInfo]:
        clips = [clip for clip in hub.store.clips(camera_id) if _day_of(clip) == day]
        if not clips:  # a stale link: retention removed the day
            raise _NotFoundError("media_unknown_item", identifier=identifier)
        return clips

    def _browse_day(
        self, hub: LookbackHub, camera_id: str, day: str, identifier: str
    ) -> BrowseMediaSource:
        clips = self._day_clips(hub, camera_id, day, identifier)
        title = f"{self._camera_name(hub, camera_id)} · {titles.day_title(date.fromisoformat(day))}"
        if len(clips) <= MAX_FOLDER_ITEMS:
            return _folder(
                identifier,
                title,
                children=[_clip_node(clip, titles.clip_title(clip)) for clip in reversed(clips)],
                thumbnail=_thumbnail(clips[-1]),
            )
        hours = _group(clips, lambda clip: f"{titles.local(clip.start_time).hour:02d}")
        children = [
            _folder(
                f"hour/{camera_id}/{day}/{hour}",
                f"{hour}:00-{hour}:59 ({titles.count(len(hour_clips), 'clip')})",
                thumbnail=_thumbnail(hour_clips[-1]),
            )
            for hour, hour_clips in reversed(hours.items())
        ]
        return _folder(
            identifier,
            title,
            children=children,
            children_class=MediaClass.DIRECTORY,
            thumbnail=_thumbnail(clips[-1]),
        )

    def _browse_hour(
        self, hub: LookbackHub, camera_id: str, day: str, hour: str, identifier: str
    ) -> BrowseMediaSource:
        clips = [
            clip
            for clip in self._day_clips(hub, camera_id, day, identifier)
            if f"{titles.local(clip.start_time).hour:02d}" == hour
        ]
        if not clips:
            raise _NotFoundError("media_unknown_item", identifier=identifier)
        day_title = titles.day_title(date.fromisoformat(day))
        return _folder(
            identifier,
            f"{self._camera_name(hub, camera_id)} · {day_title} {hour}:00",
            children=[_clip_node(clip, titles.clip_title(clip)) for clip in reversed(clips)],
            thumbnail=_thumbnail(clips[-1]),
        )

    async def _browse_snapshots(
        self, hub: LookbackHub, camera_id: str, day: str | None
    ) -> BrowseMediaSource:
        identifier = f"snapshots/{camera_id}" + (f"/{day}" if day else "")
        snapshots = await self._snapshots(hub, camera_id)
        if day is not None:
            snapshots = [snapshot for snapshot in snapshots if snapshot.day == day]
        if not snapshots:
            raise _NotFoundError("media_unknown_item", identifier=identifier)
        title = f"{self._camera_name(hub, camera_id)} · Snapshots"
        if day is not None:
            title += f" · {titles.day_title(snapshots[0].taken)}"
        thumbnail = file_path(snapshots[-1].relative)
        if day is None and len(snapshots) > MAX_FOLDER_ITEMS:
            days = _group(snapshots, lambda snapshot: snapshot.day)
            children = [
                _folder(
                    f"snapshots/{camera_id}/{snapshot_day}",
                    f"{titles.day_title(group[0].taken)} ({titles.count(len(group), 'snapshot')})",
                    children_class=MediaClass.IMAGE,
                    thumbnail=file_path(group[-1].relative),
                )
                for snapshot_day, group in reversed(days.items())
            ]
            return _folder(
                identifier,
                title,
                children=children,
                children_class=MediaClass.DIRECTORY,
                thumbnail=thumbnail,
            )
        children = [
            _snapshot_node(camera_id, snapshot, with_day=day is None)
            for snapshot in reversed(snapshots)
        ]
        return _folder(
            identifier,
            title,
            children=children,
            children_class=MediaClass.IMAGE,
            thumbnail=thumbnail,
        )
