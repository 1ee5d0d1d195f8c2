#!/usr/bin/python3
"""GStreamer RTSP server for the camera simulator; run by the SYSTEM python3 (it alone has gi).

Usage::

    /usr/bin/python3 rtsp_server.py [--port N] [--user U --password P] \
        --mount path=/stream1,file=/x/clip.mp4,codec=h264,audio=aac,mode=file [--mount ...]

mode=file: every client gets its own pipeline playing the file from its start, in real time,
  then the stream ends (RTCP BYE).
mode=live: one shared, endless pipeline per mount, fed MPEG-TS over UDP on 127.0.0.1 by
  ``ffmpeg -re -stream_loop -1 -i FILE -c:v copy ... -f mpegts udp://127.0.0.1:FEED?connect=1``
  (the caller starts the feeder: see camera.py). Clients join mid-stream, like a real camera;
  the feed is discarded while nobody watches. The server holds the feed port for its life, so a
  feeder sending with connect=1 gets ECONNREFUSED and exits once the server is gone.
audio: none | aac | alaw | mulaw; passed through for files (G.711 lives in a .mov), and for
  live mounts decoded from the feed's AAC and re-encoded to G.711 where asked (MPEG-TS has
  no G.711).

With --user/--password every mount needs HTTP basic auth; there is no anonymous token, so
wrong or missing credentials get 401 (with a default token gst-rtsp-server answers 404).

Once listening it prints one line to stdout and flushes it:
    READY {"port": 8554, "feeds": {"/stream1": 40123}}
("feeds" maps live mounts to the UDP port the feeder must send to). The parent waits for this
line instead of sleeping. SIGTERM/SIGINT, or EOF on stdin (the parent died), stop the server:
clients are disconnected and the process exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gio, GLib, Gst, GstRtspServer  # noqa: E402

VIDEO = {
    "h264": "h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96",
    "h265": "h265parse config-interval=-1 ! rtph265pay name=pay0 pt=96",
}
AUDIO_FROM_FILE = {
    "aac": "aacparse ! rtpmp4gpay name=pay1 pt=97",
    "alaw": "rtppcmapay name=pay1 pt=8",
    "mulaw": "rtppcmupay name=pay1 pt=0",
}
_G711 = "avdec_aac ! audioconvert ! audioresample ! audio/x-raw,rate=8000,channels=1 ! "
AUDIO_FROM_FEED = {  # the feed always carries AAC (ADTS) audio
    "aac": "aacparse ! rtpmp4gpay name=pay1 pt=97",
    "alaw": "aacparse ! " + _G711 + "alawenc ! rtppcmapay name=pay1 pt=8",
    "mulaw": "aacparse ! " + _G711 + "mulawenc ! rtppcmupay name=pay1 pt=0",
}


def parse_mount(spec: str) -> dict[str, str]:
    """Parse 'path=/x,file=/y.mp4,codec=h264,audio=aac,mode=file' into a dict with defaults."""
    mount = {"codec": "h264", "audio": "none", "mode": "file"}
    for item in spec.split(","):
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"bad mount item {item!r} in {spec!r}")
        mount[key.strip()] = value.strip()
    if not mount.get("path", "").startswith("/") or "file" not in mount:
        raise argparse.ArgumentTypeError(f"mount needs path=/... and file=...: {spec!r}")
    if mount["codec"] not in VIDEO or mount["mode"] not in ("file", "live"):
        raise argparse.ArgumentTypeError(f"bad codec or mode in {spec!r}")
    if mount["audio"] not in ("none", *AUDIO_FROM_FILE):
        raise argparse.ArgumentTypeError(f"bad audio in {spec!r}")
    return mount


FEED_RCVBUF = 4 * 1024 * 1024
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux; Python 3.11's socket lacks it


class Feed:
    """The UDP socket a live mount is fed on, held for the server's whole life.

    Holding it (rather than letting udpsrc bind when a client arrives) keeps the port ours, lets
    the feeder send with connect=1 so it dies of ECONNREFUSED once this server is gone, and lets
    us discard the feed while no client watches, so a new client never gets stale data.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # A 1080p keyframe arrives as a burst of ~200 datagrams; the default 208 KiB buffer
        # holds ~90 and the rest were dropped (truncated keyframes). FORCE passes rmem_max as root.
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, FEED_RCVBUF)
        except PermissionError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, FEED_RCVBUF)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self.gsocket = Gio.Socket.new_from_fd(os.dup(self.sock.fileno()))  # gst closes its own copy
        self.users = 0
        self.watch = 0
        self.drain_while_idle()

    def drain_while_idle(self) -> None:
        """Start discarding datagrams (no pipeline reads the socket)."""
        if not self.watch:
            self.watch = GLib.io_add_watch(
                self.sock.fileno(), GLib.PRIORITY_DEFAULT, GLib.IOCondition.IN, self._drain
            )

    def _drain(self, *_: Any) -> bool:
        try:
            while self.sock.recv(65536):
                pass
        except BlockingIOError:
            pass
        return True

    def media_configure(self, _factory: Any, media: Any) -> None:
        """Hand the socket to the new media's udpsrc and stop draining until it is unprepared."""
        media.get_element().get_by_name("feed").set_property("socket", self.gsocket)
        media.connect("unprepared", self._unprepared)
        self.users += 1
        if self.watch:
            GLib.source_remove(self.watch)
            self.watch = 0

    def _unprepared(self, _media: Any) -> None:
        self.users -= 1
        if self.users == 0:
            self.drain_while_idle()


# Branch queues hold up to 10 s: while a live media prerolls, gst-rtsp-server blocks each
# stream once it has caps; a default queue (1 s) behind the blocked audio branch then fills and
# stalls tsdemux before the video branch sees its first keyframe (up to a GOP away).
QUEUE = "queue max-size-buffers=0 max-size-bytes=0 max-size-time=10000000000"


def launch_line(mount: dict[str, str]) -> str:
    """The gst-launch description of one mount's media pipeline."""
    audio = mount["audio"]
    video = VIDEO[mount["codec"]]
    if mount["mode"] == "file":
        location = mount["file"].replace("\\", "\\\\").replace('"', '\\"')
        line = f'( filesrc location="{location}" ! qtdemux name=d d.video_0 ! {QUEUE} ! {video}'
        if audio != "none":
            line += f" d.audio_0 ! {QUEUE} ! {AUDIO_FROM_FILE[audio]}"
        return line + " )"
    # The parser goes first so that tsdemux's pads link by caps; the queue follows it.
    # tsdemux must ignore the PCR: with it the loopback feed played at about 2 fps.
    first, rest = video.split(" ! ", 1)
    line = (
        '( udpsrc name=feed close-socket=false caps="video/mpegts,systemstream=(boolean)true"'
        f" ! {QUEUE} ! tsdemux name=d ignore-pcr=true d. ! {first} ! {QUEUE} ! {rest}"
    )
    if audio != "none":
        first, rest = AUDIO_FROM_FEED[audio].split(" ! ", 1)
        line += f" d. ! {first} ! {QUEUE} ! {rest}"
    return line + " )"


def main(argv: list[str] | None = None) -> int:
    """Serve the mounts until SIGTERM/SIGINT or stdin EOF."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port on 127.0.0.1; 0 picks a free one"
    )
    parser.add_argument("--mount", type=parse_mount, action="append", required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--no-stdin-watch", action="store_true", help="don't stop on stdin EOF")
    args = parser.parse_args(argv)
    if (args.user is None) != (args.password is None):
        parser.error("--user and --password go together")

    Gst.init(None)
    loop = GLib.MainLoop()
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    if args.user is not None:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        server.set_auth(auth)

    feeds: dict[str, Feed] = {}
    mounts = server.get_mount_points()
    for mount in args.mount:
        live = mount["mode"] == "live"
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(mount))
        factory.set_shared(live)
        if live:
            feed = Feed()
            factory.connect("media-configure", feed.media_configure)
            feeds[mount["path"]] = feed
        if args.user is not None:
            permissions = GstRtspServer.RTSPPermissions()
            permissions.add_permission_for_role("viewer", "media.factory.access", True)
            permissions.add_permission_for_role("viewer", "media.factory.construct", True)
            factory.set_permissions(permissions)
        mounts.add_factory(mount["path"], factory)

    def stop(*_: Any) -> bool:
        """Disconnect clients and leave the main loop."""
        server.client_filter(lambda _server, _client: GstRtspServer.RTSPFilterResult.REMOVE)
        loop.quit()
        return False

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, stop)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, stop)

    def stdin_event(fd: int, condition: GLib.IOCondition) -> bool:
        """Stop when the parent goes away (EOF on our stdin pipe); ignore anything it writes."""
        if condition & GLib.IOCondition.HUP or not os.read(fd, 4096):
            return stop()
        return True

    if not args.no_stdin_watch:
        GLib.io_add_watch(
            sys.stdin.fileno(),
            GLib.PRIORITY_DEFAULT,
            GLib.IOCondition.IN | GLib.IOCondition.HUP,
            stdin_event,
        )

    if server.attach(None) == 0:  # the port is taken (gst logs the reason on stderr)
        sys.stdout.write(f"FAILED cannot listen on 127.0.0.1:{args.port}\n")
        sys.stdout.flush()
        return 1
    ready = {"port": server.get_bound_port(), "feeds": {path: f.port for path, f in feeds.items()}}
    sys.stdout.write(f"READY {json.dumps(ready)}\n")
    sys.stdout.flush()
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
