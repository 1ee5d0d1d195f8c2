"""Fixtures and hooks shared by HA tests and HA-free core tests.

pytest-homeassistant-custom-component is a pytest11 plugin, so it acts on *every* test here,
not only on tests that use ``hass``. What it does, and what this file changes:

- Sockets: before each test it lets ``connect`` reach only the literal address 127.0.0.1 and
  then disables ``socket.socket`` for everything but AF_UNIX (pytest-socket). It also replaces
  ``socket.getaddrinfo`` so that only IPs and "localhost" resolve. Its hook runs after
  pytest-socket's own, so the ``enable_socket`` marker does not work; the ``socket_enabled``
  fixture does. HA tests keep the block. Every other test (no ``hass`` in its fixture closure)
  gets ``socket.socket`` back *before its first fixture is set up*, so that module- and
  session-scoped fixtures can open sockets too: see ``pytest_fixture_setup`` below.
  ``connect`` stays limited to the address 127.0.0.1: use "127.0.0.1", not "localhost"; a
  connect to "::1" or any other host raises SocketConnectBlockedError (a RuntimeError, not an
  OSError). During HA tests, Python sockets stay blocked even for threads of longer-lived
  fixtures (``accept`` creates a socket too), so keep such servers function- or module-scoped.
- Cleanup (autouse ``verify_cleanup``): a test fails when, after its fixtures are torn down, a
  thread it started is still alive (except names starting "waitpid-"), a task is still pending
  on its loop, a ``loop.call_later`` timer is not cancelled, or a blocked socket was ever
  attempted. It also shuts down the loop's default executor.
- Event loop (autouse): every test, sync or async, gets a fresh function-scoped loop
  (pytest-asyncio) with HA's exception handler, debug mode (so non-thread-safe calls from other
  threads raise) and an executor of "SyncWorker" threads. No custom loop policy is installed.
- An exception escaping a thread fails the test (``filterwarnings`` in pyproject.toml).
- Time is not frozen unless a test asks for the ``freezer`` fixture.
- Custom integrations are off unless the ``enable_custom_integrations`` fixture is used.
"""

from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Unpack

import pytest
import pytest_socket

from tests.sim.camera import CameraFactory, Mode, SimulatedCamera
from tests.sim.media import Clip, ClipFactory, ClipOptions, make_clip

_REAL_SOCKETS = pytest.StashKey[bool]()


def _is_ha_test(item: pytest.Item) -> bool:
    """Whether the test runs an HA instance (uses ``hass``, directly or through a fixture)."""
    return "hass" in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Remember whether this test may use real sockets (runs before the HA plugin's hook)."""
    item.config.stash[_REAL_SOCKETS] = not _is_ha_test(item)


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[object], request: pytest.FixtureRequest
) -> None:
    """Give non-HA tests ``socket.socket`` back before any of their fixtures run.

    The HA plugin's ``pytest_runtest_setup`` blocks sockets after our hook above, and fixture
    setup comes after every ``pytest_runtest_setup`` hook, so this is the first point where
    the block can be lifted for session- and module-scoped fixtures as well.
    """
    del fixturedef
    if request.config.stash.get(_REAL_SOCKETS, False):
        pytest_socket.enable_socket()


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(request: pytest.FixtureRequest) -> None:
    """Let HA tests load custom_components/lookback.

    Only for tests that use ``hass``: depending on ``enable_custom_integrations`` directly would
    start an HA instance for every core test too.
    """
    if _is_ha_test(request.node):
        request.getfixturevalue("enable_custom_integrations")


# Camera media and the RTSP simulator (tests/sim), for core and HA tests alike. Media is made
# once per session; cameras are stopped (children reaped) at each test's teardown.


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
