"""The demo side of scripts/develop: a looping RTSP camera and a pre-made Lookback config entry.

``seed CONFIG_DIR --url URL`` writes CONFIG_DIR/.storage/core.config_entries with one Lookback
NVR entry and one camera subentry for URL, unless that file exists (then it changes nothing).
The records are built by Home Assistant's own ConfigEntry/ConfigSubentry and wrapped as its
ConfigEntryStore would save them, so the format follows the installed HA version.

``camera --port PORT --media DIR`` serves the simulator's camera (tests/sim) in live mode at
rtsp://127.0.0.1:PORT/stream1: a 720p H.264 yard scene (tests/sim/scenes.py) with a person
walking through twice a minute, looped forever. It prints ``READY <url>`` once the server listens and runs until
SIGTERM/SIGINT/SIGHUP or until its parent process (scripts/develop, which execs hass) is gone;
it leaves the terminal's process group so Ctrl-C reaches Home Assistant only.
"""

import argparse
import ast
import contextlib
from datetime import UTC, datetime
import importlib.util
import json
import os
from pathlib import Path
import secrets
import signal
import sys
import threading
import time
from types import MappingProxyType, ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "custom_components" / "lookback"
STREAM_PATH = "/stream1"
CAMERA_ID = "demo"
CAMERA_NAME = "Demo camera"
PARENT_POLL_S = 1.0
RESTART_DELAY_S = 5.0


def _log(message: str) -> None:
    print(f"[develop] {message}", file=sys.stderr, flush=True)


# --- seed ------------------------------------------------------------------------------------


def _load_const() -> ModuleType:
    """Lookback's const.py by file: importing the package would run its __init__ (and HA)."""
    spec = importlib.util.spec_from_file_location("lookback_const", PACKAGE / "const.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _flow_versions() -> tuple[int, int]:
    """VERSION and MINOR_VERSION of the config flow, read from config_flow.py's source.

    A stored entry newer than the flow would not load; an older one would need a migration.
    """
    versions = {"VERSION": 1, "MINOR_VERSION": 1}
    tree = ast.parse((PACKAGE / "config_flow.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
            isinstance(base, ast.Name) and base.id == "ConfigFlow" for base in node.bases
        ):
            for item in node.body:
                if (
                    isinstance(item, ast.Assign)
                    and len(item.targets) == 1
                    and isinstance(item.targets[0], ast.Name)
                    and item.targets[0].id in versions
                    and isinstance(item.value, ast.Constant)
                    and isinstance(item.value.value, int)
                ):
                    versions[item.targets[0].id] = item.value.value
    return versions["VERSION"], versions["MINOR_VERSION"]


def storage_document(config_dir: Path, url: str) -> dict[str, Any]:
    """The content of .storage/core.config_entries: the NVR entry and the demo camera."""
    from homeassistant import config_entries
    from homeassistant.const import CONF_NAME, CONF_PASSWORD, CONF_USERNAME

    const = _load_const()
    nvr_data = {
        const.CONF_STORAGE_PATH: str(config_dir / "media" / const.DEFAULT_STORAGE_SUBDIR),
        const.CONF_STORAGE_MAX_GB: const.DEFAULT_STORAGE_MAX_GB,
        const.CONF_PRE_ROLL: const.DEFAULT_PRE_ROLL,
        const.CONF_POST_ROLL: const.DEFAULT_POST_ROLL,
        # The SMTP server on, for this machine only: `swaks --to demo@lookback --server
        # 127.0.0.1:2525` plays a camera's alarm mail.
        const.CONF_SMTP_ENABLED: True,
        const.CONF_SMTP_HOST: "127.0.0.1",
        const.CONF_SMTP_PORT: const.DEFAULT_SMTP_PORT,
        const.CONF_SMTP_USERNAME: "",
        const.CONF_SMTP_PASSWORD: "",
        const.CONF_SMTP_STARTTLS: False,
        const.CONF_SMTP_AUTH_WITHOUT_TLS: False,
        const.CONF_SMTP_MAX_MB: const.DEFAULT_SMTP_MAX_MB,
        const.CONF_SMTP_RATE: const.DEFAULT_SMTP_RATE,
        # The bundled COCO model: the walking person turns "Demo camera person" on.
        const.CONF_DETECTOR: const.DETECTOR_LOCAL,
        const.CONF_DETECTOR_MODEL: "",
        const.CONF_DETECTOR_URL: "",
    }
    camera_data = {
        const.CONF_CAMERA_ID: CAMERA_ID,
        CONF_NAME: CAMERA_NAME,
        const.CONF_URL: url,
        const.CONF_DETECT_URL: "",
        const.CONF_SNAPSHOT_URL: "",
        CONF_USERNAME: "",
        CONF_PASSWORD: "",
        const.CONF_TRANSPORT: const.DEFAULT_TRANSPORT,
        const.CONF_PRE_ROLL: const.DEFAULT_PRE_ROLL,
        const.CONF_POST_ROLL: const.DEFAULT_POST_ROLL,
        const.CONF_MAX_CLIP_SECONDS: const.DEFAULT_MAX_CLIP_SECONDS,
        const.CONF_RETENTION_DAYS: const.DEFAULT_RETENTION_DAYS,
        const.CONF_RETENTION_GB: const.DEFAULT_RETENTION_GB,
        # The person walks in from the left: a zone on each half shows zones at work.
        const.CONF_MOTION_ZONES: "left: 0,0 0.5,0 0.5,1 0,1\nright: 0.5,0 1,0 1,1 0.5,1",
        const.CONF_MAIL_ADDRESS: CAMERA_ID,
        const.CONF_WEBHOOK_ID: secrets.token_hex(32),
    }
    version, minor_version = _flow_versions()
    now = datetime.now(UTC)
    entry = config_entries.ConfigEntry(
        created_at=now,
        modified_at=now,
        data=nvr_data,
        discovery_keys=MappingProxyType({}),
        domain=const.DOMAIN,
        minor_version=minor_version,
        options={},
        source=config_entries.SOURCE_USER,
        subentries_data=[
            {
                "data": camera_data,
                "subentry_type": const.SUBENTRY_CAMERA,
                "title": CAMERA_NAME,
                "unique_id": CAMERA_ID,
            }
        ],
        title=const.NAME,
        unique_id=None,
        version=version,
    )
    return {
        "version": config_entries.STORAGE_VERSION,
        "minor_version": config_entries.STORAGE_VERSION_MINOR,
        "key": config_entries.STORAGE_KEY,
        "data": {"entries": [entry.as_dict()]},
    }


def seed(config_dir: Path, url: str) -> int:
    """Write the config entries file unless there is one; 0 either way."""
    config_dir = config_dir.resolve()
    path = config_dir / ".storage" / "core.config_entries"
    if path.exists():
        _log(f"{path} exists: config entries left as they are")
        return 0
    document = storage_document(config_dir, url)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    _log(f"wrote {path}: Lookback NVR with the demo camera at {url}")
    return 0


# --- camera ----------------------------------------------------------------------------------


def camera(port: int, media_dir: Path) -> int:
    """Serve the demo camera until signalled or orphaned; 1 when it cannot start."""
    parent = os.getppid()
    # Own session: the terminal's Ctrl-C goes to Home Assistant alone. EPERM: already a leader.
    with contextlib.suppress(PermissionError):
        os.setsid()

    sys.path.insert(0, str(ROOT))
    from tests.sim.camera import CameraError, SimulatedCamera
    from tests.sim.scenes import Scene, Walk, make_scene

    _log(f"demo camera: preparing its clip in {media_dir} (encoded once, then cached)")
    # A yard where a person crosses twice a minute, once each way: motion, both zones and
    # the bundled model's "person" at work.
    scene = Scene(
        name="demo-yard",
        kind="objects",
        seconds=60.0,
        width=1280,
        height=720,
        fps=10,
        walks=(
            Walk("cameraman", start=10.0, height=0.55, ground=0.9, speed=0.12),
            Walk("cameraman", start=40.0, height=0.5, ground=0.85, speed=0.15, leftwards=True),
        ),
    )
    clip = make_scene(media_dir, scene).as_clip()
    demo = SimulatedCamera(clip, mode="live", port=port)
    try:
        demo.start()
    except CameraError as err:
        _log(f"demo camera could not start on port {port}: {err}")
        return 1

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)

    print(f"READY {demo.url}", flush=True)
    # scripts/develop stops reading after READY: nothing more goes to that pipe.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)

    try:
        while not stop.wait(PARENT_POLL_S):
            if os.getppid() != parent:
                _log("demo camera: Home Assistant is gone, stopping")
                break
            if not demo.running:
                _log(f"demo camera died, restarting it:\n{demo.log()[-2000:]}")
                demo.stop()
                try:
                    demo.start()
                except CameraError as err:
                    _log(f"demo camera restart failed: {err}")
                    time.sleep(RESTART_DELAY_S)
    finally:
        demo.stop()
    return 0


def main() -> int:
    """Parse the command line and run the sub-command."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    seed_parser = commands.add_parser("seed", help="pre-configure Lookback with the demo camera")
    seed_parser.add_argument("config_dir", type=Path)
    seed_parser.add_argument("--url", required=True)
    camera_parser = commands.add_parser("camera", help="serve the demo camera")
    camera_parser.add_argument("--port", type=int, required=True)
    camera_parser.add_argument("--media", type=Path, required=True, help="clip cache folder")
    args = parser.parse_args()
    if args.command == "seed":
        return seed(args.config_dir, args.url)
    return camera(args.port, args.media)


if __name__ == "__main__":
    sys.exit(main())
