"""HA tests: the file view serves stored clips and pictures, and nothing else.

Clips are real MP4s written into the store layout before a camera-less NVR entry starts (which
indexes them). Traversal attempts go over real HTTP, where HA's security filter may refuse
them first (400), and straight to ``servable_file``, which must refuse them on its own.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
import io
import os
from pathlib import Path
import shutil
import time

import av
from homeassistant.components.http.auth import async_sign_path
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from yarl import URL

from custom_components.lookback.const import DOMAIN, FILE_URL_PREFIX
from custom_components.lookback.core.models import ClipInfo
from custom_components.lookback.core.storage import ClipStore
from custom_components.lookback.paths import file_path, signed_file_path
from custom_components.lookback.views import servable_file
from tests.ha_helpers import nvr_entry_data
from tests.sim.media import Clip, ClipFactory

SECRET = b"outside the storage folder"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (30, 200, 30)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def media(make_media: ClipFactory) -> Clip:
    return make_media(width=160, height=96, fps=10, seconds=1.0, gop_seconds=1.0)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def clip(root: Path, media: Clip) -> ClipInfo:
    """One finished clip with a thumbnail, stored as the recorder stores it."""
    store = ClipStore(root)
    start = time.time() - 60
    paths = store.paths_for("front", "abc", start)
    info = ClipInfo(
        clip_id="abc",
        event_id="abc",
        camera_id="front",
        path="",
        thumbnail=None,
        start_time=start,
        end_time=start + media.duration,
        trigger_time=start,
        pre_roll=0.0,
        size=0,
        video_frames=media.frames,
        audio=None,
        status="recording",
        part=1,
        event={},
    )
    store.begin(paths, info)
    shutil.copyfile(media.path, paths.part)
    store.save_thumbnail(paths, jpeg())
    return store.finish(paths, replace(info, status="complete"))


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file beside (not below) the storage folder, named like a clip."""
    path = tmp_path / "secret.mp4"
    path.write_bytes(SECRET)
    return path


def nvr_entry(root: Path) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        data=nvr_entry_data(root),
    )


@pytest.fixture
async def entry(hass: HomeAssistant, root: Path, clip: ClipInfo) -> MockConfigEntry:
    """The NVR entry, loaded after ``clip`` was stored."""
    del clip
    entry = nvr_entry(root)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def test_404_while_no_entry_is_loaded(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, root: Path, clip: ClipInfo
) -> None:
    assert await async_setup_component(hass, DOMAIN, {})  # registers the view, no entry yet
    client = await hass_client()
    assert (await client.get(file_path(clip.path))).status == 404

    entry = nvr_entry(root)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert (await client.get(file_path(clip.path))).status == 200

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert (await client.get(file_path(clip.path))).status == 404


async def test_clip_is_served_whole_and_decodes(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    entry: MockConfigEntry,
    clip: ClipInfo,
    media: Clip,
) -> None:
    del entry
    client = await hass_client()
    response = await client.get(file_path(clip.path))
    assert response.status == 200
    assert response.headers["Content-Type"] == "video/mp4"
    assert response.headers["Accept-Ranges"] == "bytes"
    body = await response.read()
    assert int(response.headers["Content-Length"]) == len(body) == clip.size

    with av.open(io.BytesIO(body), mode="r") as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == media.frames


async def test_range_request_gets_partial_content(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, entry: MockConfigEntry, clip: ClipInfo
) -> None:
    client = await hass_client()
    response = await client.get(file_path(clip.path), headers={"Range": "bytes=0-99"})
    assert response.status == 206
    assert response.headers["Content-Range"] == f"bytes 0-99/{clip.size}"
    assert response.headers["Content-Type"] == "video/mp4"
    whole = await hass.async_add_executor_job(
        (entry.runtime_data.hub.store.root / clip.path).read_bytes
    )
    assert await response.read() == whole[:100]

    tail = await client.get(file_path(clip.path), headers={"Range": f"bytes={clip.size - 10}-"})
    assert tail.status == 206
    assert len(await tail.read()) == 10

    beyond = await client.get(file_path(clip.path), headers={"Range": f"bytes={clip.size}-"})
    assert beyond.status == 416


async def test_unchanged_file_is_not_sent_again(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, entry: MockConfigEntry, clip: ClipInfo
) -> None:
    del entry
    client = await hass_client()
    first = await client.get(file_path(clip.path))
    assert first.status == 200
    again = await client.get(
        file_path(clip.path), headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert again.status == 304
    assert await again.read() == b""


async def test_thumbnails_and_snapshots_are_jpeg(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, entry: MockConfigEntry, clip: ClipInfo
) -> None:
    assert clip.thumbnail is not None
    snapshot = entry.runtime_data.hub.store.save_snapshot("front", time.time(), jpeg())
    client = await hass_client()
    for relative in (clip.thumbnail, snapshot):
        response = await client.get(file_path(relative))
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/jpeg"
        assert (await response.read()).startswith(b"\xff\xd8")


async def test_signed_path_needs_no_token_and_unsigned_gets_401(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    entry: MockConfigEntry,
    clip: ClipInfo,
) -> None:
    del entry
    client = await hass_client_no_auth()
    assert (await client.get(file_path(clip.path))).status == 401

    signed = signed_file_path(hass, clip.path)
    response = await client.get(signed)
    assert response.status == 200
    assert int(response.headers["Content-Length"]) == clip.size

    # The signature covers the path: it opens no other file.
    assert clip.thumbnail is not None
    other = signed.replace(file_path(clip.path), file_path(clip.thumbnail))
    assert (await client.get(other)).status == 401
    expired = async_sign_path(
        hass, file_path(clip.path), timedelta(seconds=-1), use_content_user=True
    )
    assert (await client.get(expired)).status == 401


async def test_only_finished_clips_and_pictures_are_served(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    entry: MockConfigEntry,
    clip: ClipInfo,
    root: Path,
) -> None:
    del entry
    day = Path(clip.path).parent.as_posix()
    (root / day / "open.mp4.part").write_bytes(b"unfinished")
    (root / day / "folder.mp4").mkdir()
    (root / "notes.txt").write_text("x")
    client = await hass_client()
    for relative in (
        clip.path.removesuffix(".mp4") + ".json",  # the sidecar
        f"{day}/open.mp4.part",
        f"{day}/folder.mp4",
        f"{day}/missing.mp4",
        "notes.txt",
        clip.path.upper(),
        day,
    ):
        response = await client.get(file_path(relative))
        assert response.status == 404, relative


async def test_traversal_over_http_never_serves_a_file(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    entry: MockConfigEntry,
    secret: Path,
) -> None:
    del entry
    client = await hass_client()
    base = str(client.make_url("/")).rstrip("/") + FILE_URL_PREFIX
    attempts = [
        "/../secret.mp4",
        "/front/../../secret.mp4",
        "/%2e%2e/secret.mp4",
        "/%2e%2e%2fsecret.mp4",
        "/front%2f%2e%2e%2f%2e%2e%2fsecret.mp4",
        "/%252e%252e%252fsecret.mp4",
        "/" + "%2F".join(["", *secret.parts[1:]]),  # absolute path, slashes encoded
        "/" + str(secret),  # absolute path: //tmp/.../secret.mp4
        "/..%5Csecret.mp4",  # backslash
        "/..\\secret.mp4",
    ]
    for attempt in attempts:
        # encoded=True: the client must send the path as written, not normalise it.
        response = await client.session.get(URL(base + attempt, encoded=True))
        assert response.status in (400, 404), attempt
        assert SECRET not in await response.read(), attempt


async def test_symlinks_leading_out_of_the_folder_are_not_followed(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    entry: MockConfigEntry,
    clip: ClipInfo,
    root: Path,
    secret: Path,
) -> None:
    del entry
    day = root / Path(clip.path).parent
    (day / "passwd.jpg").symlink_to("/etc/passwd")
    (day / "escape.mp4").symlink_to(secret)
    (root / "linked").symlink_to(secret.parent)  # a folder link out of the root
    (day / "sidecar.mp4").symlink_to(day / Path(clip.path).with_suffix(".json").name)
    (day / "alias.mp4").symlink_to(root / clip.path)  # stays inside: allowed
    client = await hass_client()
    rel_day = Path(clip.path).parent.as_posix()
    for relative in (
        f"{rel_day}/passwd.jpg",
        f"{rel_day}/escape.mp4",
        "linked/secret.mp4",
        f"{rel_day}/sidecar.mp4",
    ):
        response = await client.get(file_path(relative))
        assert response.status == 404, relative
        assert SECRET not in await response.read()

    alias = await client.get(file_path(f"{rel_day}/alias.mp4"))
    assert alias.status == 200
    assert int(alias.headers["Content-Length"]) == clip.size


def test_servable_file_refuses_what_leaves_the_folder(
    root: Path, clip: ClipInfo, secret: Path
) -> None:
    # Below HA's security filter: the view's own check must hold for any path it is given.
    store = ClipStore(root)
    assert servable_file(store, clip.path) == (root / clip.path).resolve()
    for relative in (
        "../secret.mp4",
        "front/../../secret.mp4",
        str(secret),
        "..\\secret.mp4",
        "front/\x00.mp4",
        os.path.relpath(secret, root),
    ):
        assert servable_file(store, relative) is None, relative
