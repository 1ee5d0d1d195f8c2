"""Fixtures for tests that need camera media or a live RTSP camera (see tests/sim).

All plain synchronous fixtures, usable from sync and async tests alike. Media is generated
once per session into ``media_dir``; cameras are stopped (children reaped) at each test's
teardown whether the test passed or not.
"""

from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Unpack

import pytest

from tests.sim.camera import CameraFactory, Mode, SimulatedCamera
from tests.sim.media import Clip, ClipFactory, ClipOptions, make_clip


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Session directory for generated clips (make_clip reuses a clip already made there)."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def make_media(media_dir: Path) -> ClipFactory:
    """``make_media(**options)``: make_clip into media_dir, each distinct clip encoded once."""

    def factory(**options: Unpack[ClipOptions]) -> Clip:
        return make_clip(media_dir, **options)

    return factory


@pytest.fixture
def rtsp_camera(make_media: ClipFactory) -> Iterator[CameraFactory]:
    """``rtsp_camera(clip_or_streams=None, *, mode, user, password, start, **media)``.

    Returns a started SimulatedCamera (``start=False``: not started); with no clip, one is made
    from the ``media`` options. Every camera made here is stopped at teardown.
    """
    cleanup = ExitStack()  # runs every stop() even if one of them raises

    def factory(
        streams: Clip | Mapping[str, Clip] | None = None,
        *,
        mode: Mode = "file",
        user: str | None = None,
        password: str | None = None,
        start: bool = True,
        **media: Unpack[ClipOptions],
    ) -> SimulatedCamera:
        if streams is not None and media:
            raise TypeError("pass either a clip (or streams) or media options, not both")
        camera = SimulatedCamera(
            streams if streams is not None else make_media(**media),
            mode=mode,
            user=user,
            password=password,
        )
        cleanup.callback(camera.stop)
        return camera.start() if start else camera

    with cleanup:
        yield factory
