"""Alert mail parsing: ``parse_mail`` against a parser without caps, on hostile and large mail.

    PYTHONPATH=. .venv/bin/python bench/mail_parse.py [--cap 60] [--quick] [--repeat 3]
        [--only camera,nested-200]

Each input below is built once (the builders of ``tests/core/test_mail.py`` where it has them)
and read by two sides, one input after the other:

* **parse_mail**: ``custom_components.lookback.core.alerts.mail.parse_mail`` in this process,
  best of ``--repeat`` runs (wall time). Its peak Python allocation is measured in one more run
  under ``tracemalloc`` (not timed);
* **baseline**: what a parser without caps does with the same bytes:
  ``email.message_from_bytes(raw, policy=email.policy.default)``, then ``msg.walk()`` over every
  part, ``msg["subject"]`` and ``msg["from"]`` read (as ``str``), and ``get_content()`` of every
  text and image part. It does not open images (no Pillow), so the image rows show the MIME cost
  only. It runs in a fresh child process (``multiprocessing``, spawn) that reads the input from
  a temporary file, says it is ready, then runs it: best of ``--repeat`` runs, but a run of 1 s
  or more is not repeated. The child is killed when no result came ``--cap`` seconds after it
  was ready ("> cap"); an exception ends it ("error: <ExceptionName>"), a dead child is
  "crashed".

``ratio`` is baseline / parse_mail (how many times cheaper parse_mail is); with "> cap" it is a
lower bound. ``--quick`` skips the baseline of the inputs where it takes 10 s or more (marked
slow below); the default run takes about 4.5 minutes on 2 cores, most of it the baseline waiting
out its cap three times.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
import email
import email.policy
import io
import multiprocessing
from multiprocessing.connection import Connection
import os
from pathlib import Path
import platform
import random
import sys
import tempfile
import time
import tracemalloc
from typing import Final

from PIL import Image

from bench.buffering import git_revision
from custom_components.lookback.core.alerts.mail import MailAlert, parse_mail
from tests.core.test_mail import HIK_NVR_BODY, attachment, jpeg, multipart, nested, raw_mail

REPO: Final = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S: Final = 120.0  # the child's imports and reading its input
NO_REPEAT_S: Final = 1.0  # a baseline run this long is not repeated
MIXED = "Subject: x\nContent-Type: multipart/mixed; boundary=b1"


# ------------------------------------------------------------------------------ inputs


def camera_jpeg() -> bytes:
    """A 1920x1080 JPEG of about 200 KB: smooth random blobs, like a busy camera snapshot."""
    rng = random.Random(1)  # noqa: S311 - a fixed picture, not a secret
    tile = Image.frombytes("RGB", (64, 36), rng.randbytes(64 * 36 * 3))
    out = io.BytesIO()
    tile.resize((1920, 1080), Image.Resampling.BICUBIC).save(out, "JPEG", quality=75)
    return out.getvalue()


def camera_mail() -> bytes:
    """A Hikvision NVR motion alarm (gb2312 8-bit text, #BOUNDARY#) with one 200 KB snapshot."""
    text = HIK_NVR_BODY.format(name="Garage", num="1").encode("gb2312")
    parts: list[str | bytes] = [
        b"Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + text,
        attachment(camera_jpeg(), "ch01_20240625093130.jpg"),
    ]
    headers = (
        "Subject: Embedded Net DVR: Motion Detection\n"
        "From: =?gb2312?B?xOO6w8rAvec=?= <nvr@cams.lan>\n"
        "To: lookback@ha.lan\nX-Mailer: HIKMailer\nMIME-Version: 1.0\n"
        'Content-type: multipart/alternative; boundary="#BOUNDARY#"'
    )
    return raw_mail(headers, multipart(parts, "#BOUNDARY#"))


def header_mail(header: str) -> Callable[[], bytes]:
    """A 1 MB header line on a mail whose body is one Dahua field."""
    return lambda: raw_mail(header, "Alarm Event: Motion Detection")


def junk_jpeg_mail() -> bytes:
    """8 MB of empty JPEG markers (Pillow reads them one by one), then a real JPEG with EXIF."""
    exif = io.BytesIO()
    Image.new("RGB", (50, 40)).save(exif, "JPEG", exif=b"Exif\x00\x00" + bytes(60000))
    junk = b"\xff\xd8" + b"\xff\xe0\x00\x02" * (2 * 1024 * 1024 - 1)
    parts: list[str | bytes] = [
        attachment(junk, "junk.jpg"),
        attachment(exif.getvalue(), "exif.jpg"),
    ]
    return raw_mail(MIXED, multipart(parts))


def png_bomb_mail() -> bytes:
    """A 20000 x 20000 1-bit PNG (400 MP, 50 MB decoded, ~50 KB sent) and a small JPEG."""
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")
    parts: list[str | bytes] = [
        attachment(bomb.getvalue(), "bomb.png", "image/png"),
        attachment(jpeg(16, 16), "ok.jpg"),
    ]
    return raw_mail(MIXED, multipart(parts))


def many_parts_mail() -> bytes:
    """300 000 one-byte octet-stream parts."""
    parts: list[str | bytes] = ["Content-Type: application/octet-stream\r\n\r\nx"] * 300_000
    return raw_mail(MIXED, multipart(parts))


def big_mail() -> bytes:
    """About 10 MB: a text part and 9 base64 JPEGs of 1.1 MB each (a 1080p JPEG + padding)."""
    big = jpeg(1920, 1080) + bytes(range(256)) * 4000
    parts: list[str | bytes] = [
        "Content-Type: text/plain\r\n\r\nAlarm Event: Motion Detection",
        *(attachment(big, f"snap{i}.jpg") for i in range(9)),
    ]
    return raw_mail(MIXED, multipart(parts))


@dataclass(frozen=True, slots=True)
class Case:
    """One input: a name for ``--only``, what it is, how to build it."""

    name: str
    what: str
    build: Callable[[], bytes]
    slow: bool = False
    """The baseline takes 10 s or more (skipped with ``--quick``)."""


CASES: Final = (
    Case("camera", "Hikvision alarm, one 200 KB JPEG (everyday mail)", camera_mail),
    Case("nested-200", "200-level nested multiparts", lambda: nested(200)),
    Case("nested-3000", "3000-level nested multiparts", lambda: nested(3000)),
    Case(
        "lines-1m",
        "1 M empty lines inside 200 nested multiparts",
        lambda: nested(200, "Content-Type: text/plain\r\n\r\n" + "\r\n" * 1_000_000),
        slow=True,
    ),
    Case(
        "subject-1mb",
        "Subject: of 350 k short words",
        header_mail("Subject: " + "ab " * 350_000),
        slow=True,
    ),
    Case(
        "from-1mb", "From: of 200 k addresses", header_mail("From: " + "a@b, " * 200_000), slow=True
    ),
    Case(
        "content-type-1mb",
        "Content-Type: with 200 k parameters",
        header_mail("Content-Type: text/plain; " + "a=b; " * 200_000),
        slow=True,
    ),
    Case("from-parens", "From: of 1500 '('", header_mail("From: " + "(" * 1500)),
    Case("junk-jpeg", "8 MB JPEG of empty markers + a JPEG with EXIF", junk_jpeg_mail),
    Case("png-bomb", "400 MP PNG (decompression bomb) + a small JPEG", png_bomb_mail),
    Case("parts-300k", "300 k parts", many_parts_mail, slow=True),
    Case("big-10mb", "10 MB mail, 9 JPEGs of 1.1 MB", big_mail),
)


# ------------------------------------------------------------------------------ the two sides


def naive(raw: bytes) -> None:
    """The baseline: the stdlib's modern parser with nothing capped."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        if part.get_content_maintype() in {"text", "image"}:
            part.get_content()
    str(msg["subject"])
    str(msg["from"])


def baseline_child(path: str, repeat: int, conn: Connection) -> None:
    """The child process: read the input, say ready, send each run's seconds or the error."""
    raw = Path(path).read_bytes()
    conn.send(("ready", 0.0))
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            naive(raw)
        except Exception as err:  # noqa: BLE001 - reported, whatever it is
            conn.send(("error", type(err).__name__))
            return
        seconds = time.perf_counter() - start
        conn.send(("run", seconds))
        if seconds >= NO_REPEAT_S:
            break
    conn.send(("done", 0.0))


@dataclass(frozen=True, slots=True)
class Baseline:
    """The baseline's best time, or why there is none."""

    seconds: float | None
    note: str = ""
    """"", "> cap", "error: <ExceptionName>", "crashed", "skipped"."""


def run_baseline(raw: bytes, *, cap: float, repeat: int, scratch: Path) -> Baseline:
    """Time ``naive`` on ``raw`` in a fresh spawned child, killed ``cap`` s after it is ready."""
    path = scratch / "input.eml"
    path.write_bytes(raw)
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=baseline_child, args=(str(path), repeat, sender), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(READY_TIMEOUT_S):
            return Baseline(None, "child not ready")
        receiver.recv()
        deadline = time.monotonic() + cap
        runs: list[float] = []
        while True:
            if not receiver.poll(max(0.0, deadline - time.monotonic())):
                return Baseline(min(runs) if runs else None, "> cap")
            try:
                kind, value = receiver.recv()
            except EOFError:
                child.join(5)
                return Baseline(None, f"crashed (exit {child.exitcode})")
            if kind == "run":
                runs.append(float(value))
            elif kind == "error":
                return Baseline(None, f"error: {value}")
            else:
                return Baseline(min(runs))
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()
        path.unlink()


@dataclass(frozen=True, slots=True)
class Ours:
    """parse_mail's best time, peak allocation and what it returned."""

    seconds: float
    peak_mib: float
    alert: MailAlert


def run_ours(raw: bytes, repeat: int) -> Ours:
    """Best of ``repeat`` timed runs of ``parse_mail``, then one under tracemalloc."""
    best = float("inf")
    alert = parse_mail(raw)
    for _ in range(repeat):
        start = time.perf_counter()
        alert = parse_mail(raw)
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    try:
        parse_mail(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Ours(best, peak / 2**20, alert)


# ------------------------------------------------------------------------------ report


@dataclass(frozen=True, slots=True)
class Row:
    """One input's results."""

    case: Case
    size: int
    build_s: float
    ours: Ours
    baseline: Baseline


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} MB"
    if n >= 1000:
        return f"{n / 1e3:.0f} KB"
    return f"{n} B"


def _seconds(s: float) -> str:
    if s >= 10:
        return f"{s:.0f}"
    if s >= 1:
        return f"{s:.1f}"
    if s >= 0.01:
        return f"{s:.3f}"
    return f"{s:.4f}"


def _ratio(row: Row, cap: float) -> str:
    base = row.baseline
    if base.note == "> cap":
        return f"> {cap / row.ours.seconds:,.0f}x"
    if base.seconds is None:
        return "-"
    ratio = base.seconds / row.ours.seconds
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.2f}x"


def _read(alert: MailAlert) -> str:
    """What parse_mail got out of the mail, in a few words."""
    got = [alert.event_type or alert.kind.value]
    if alert.images:
        got.append(f"{len(alert.images)} img")
    if alert.skipped_attachments:
        got.append(f"{alert.skipped_attachments} skipped")
    return ", ".join(got)


def table(rows: Sequence[Row], cap: float) -> str:
    """The results as a markdown table."""
    lines = [
        "| input | size | parse_mail s | parse_mail peak MiB | baseline s | ratio | parse_mail read |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        base = row.baseline
        if base.note == "> cap":
            base_cell = f"> {cap:.0f} (cap)"
        elif base.seconds is None:
            base_cell = base.note
        else:
            base_cell = _seconds(base.seconds)
        lines.append(
            f"| {row.case.what} | {_size(row.size)} | {_seconds(row.ours.seconds)} "
            f"| {row.ours.peak_mib:.1f} | {base_cell} | {_ratio(row, cap)} | {_read(row.ours.alert)} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every input through both sides and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument(
        "--cap", type=float, default=60.0, help="seconds the baseline may take (default 60)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per side, the best counts (default 3)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="skip the baseline where it takes 10 s or more"
    )
    parser.add_argument("--only", help="comma-separated input names (default: all)")
    args = parser.parse_args(argv)
    cases = list(CASES)
    if args.only:
        wanted = set(args.only.split(","))
        if unknown := wanted - {case.name for case in cases}:
            parser.error(f"unknown inputs: {', '.join(sorted(unknown))}")
        cases = [case for case in cases if case.name in wanted]
    began = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="mail-bench-") as scratch:
        for case in cases:
            start = time.perf_counter()
            raw = case.build()
            build_s = time.perf_counter() - start
            ours = run_ours(raw, args.repeat)
            if args.quick and case.slow:
                baseline = Baseline(None, "skipped")
            else:
                baseline = run_baseline(
                    raw, cap=args.cap, repeat=args.repeat, scratch=Path(scratch)
                )
            row = Row(case, len(raw), build_s, ours, baseline)
            rows.append(row)
            print(
                f"{case.name}: built in {build_s:.1f} s, parse_mail {ours.seconds:.4f} s, "
                f"baseline {baseline.note or f'{baseline.seconds:.4f} s'}",
                file=sys.stderr,
            )
    print(
        f"Alert mail parsing, revision {git_revision()}, {datetime.now(UTC):%Y-%m-%d}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, cap {args.cap:.0f} s, "
        f"best of {args.repeat}\n"
    )
    print(table(rows, args.cap))
    print(f"\n{len(rows)} inputs in {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
