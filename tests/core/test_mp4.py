"""Mp4Writer on real generated media: remux, audio policy, playable output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import pytest

from custom_components.lookback.core.models import AudioPolicy, TimedPacket
from custom_components.lookback.core.mp4 import Mp4Writer, audio_plan
from custom_components.lookback.core.source import SourceOptions, StreamSource
from tests.sim.media import make_clip

from .clipcheck import inspect_clip


def demux_all(path: Path) -> list[TimedPacket]:
    """Read a whole file through StreamSource (its thread ends the first connection)."""
    packets: list[TimedPacket] = []
    done: list[bool] = []

    def on_connection(connected: bool, _error: Any) -> None:
        if not connected:
            done.append(True)

    source = StreamSource(
        "file", SourceOptions(str(path), backoff_initial=30), packets.append, on_connection
    )
    source.start()
    try:
        while not done:
            source._quit.wait(0.01)
    finally:
        source.stop()
    return packets


def write(packets: list[TimedPacket], target: Path, policy: AudioPolicy) -> Mp4Writer:
    video = next(p.stream for p in packets if p.is_video)
    audio = next((p.stream for p in packets if not p.is_video), None)
    writer = Mp4Writer(target, video, audio, policy)
    for timed in packets:
        writer.write(timed)
    writer.close()
    return writer


@pytest.mark.parametrize(("codec", "audio"), [("h264", "aac"), ("hevc", None)])
def test_remux_copies_video_and_browser_audio(
    tmp_path: Path, media_dir: Path, codec: str, audio: str | None
) -> None:
    clip = make_clip(media_dir, codec="h265" if codec == "hevc" else "h264", seconds=4, audio=audio)  # type: ignore[arg-type]
    packets = demux_all(clip.path)
    writer = write(packets, tmp_path / "out.mp4", AudioPolicy.TRANSCODE)
    report = inspect_clip(tmp_path / "out.mp4")
    assert report.video_codec == codec
    assert report.first_packet_is_keyframe
    assert report.video_packets == clip.frames == writer.video_frames
    assert report.decoded_frames == clip.frames
    assert report.dts_gap_free
    assert report.first_pts == 0.0
    assert report.audio_codec == audio
    if codec == "hevc":
        assert report.codec_tag == "hvc1"
    if audio:
        assert report.audio_packets > 0
        assert writer.audio_description == f"copy:{audio}"


@pytest.mark.parametrize("g711", ["alaw", "mulaw"])
def test_g711_is_transcoded_to_aac_or_dropped(tmp_path: Path, media_dir: Path, g711: str) -> None:
    clip = make_clip(media_dir, seconds=3, audio=g711)  # type: ignore[arg-type]
    packets = demux_all(clip.path)
    writer = write(packets, tmp_path / "aac.mp4", AudioPolicy.TRANSCODE)
    report = inspect_clip(tmp_path / "aac.mp4")
    assert report.audio_codec == "aac"
    assert writer.audio_description == f"transcoded:pcm_{g711}->aac"
    with av.open(str(tmp_path / "aac.mp4")) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
    assert samples == pytest.approx(3 * 8000, rel=0.1)

    write(packets, tmp_path / "none.mp4", AudioPolicy.DROP)
    assert inspect_clip(tmp_path / "none.mp4").audio_codec is None


def test_clip_must_start_with_keyframe(tmp_path: Path, media_dir: Path) -> None:
    packets = demux_all(make_clip(media_dir, seconds=2).path)
    writer = Mp4Writer(tmp_path / "bad.mp4", packets[0].stream, None, AudioPolicy.DROP)
    with pytest.raises(ValueError, match="keyframe"):
        writer.write(packets[1])
    writer.close()


def test_audio_plan() -> None:
    assert audio_plan("aac", AudioPolicy.DROP) == "copy"
    assert audio_plan("pcm_alaw", AudioPolicy.TRANSCODE) == "transcode"
    assert audio_plan("pcm_alaw", AudioPolicy.DROP) is None
    assert audio_plan("adpcm_g726", AudioPolicy.TRANSCODE) is None
