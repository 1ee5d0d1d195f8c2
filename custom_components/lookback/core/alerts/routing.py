"""Which camera(s) an alert mail is about: its recipient address, then its channel or name.

A camera sends to its own address (the local part is what counts; any domain is accepted, since
cameras want a "server" and a "recipient" but nothing resolves the domain). A DVR or NVR holds a
single mail configuration for all its channels, so its cameras share one address and the camera
has to be read from the mail itself: the channel number, else the camera's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
import re
import unicodedata

from .mail import MailAlert


def normalise_name(text: str) -> str:
    """Name for comparisons: NFC, casefolded, whitespace collapsed.

    Camera names reach us typed into a camera's web page ("Tył") and into HA, possibly in
    different Unicode forms and cases; NFC again after casefold because casefolding may
    decompose (U+0130).
    """
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    return " ".join(folded.split())


def local_part(address: str) -> str:
    """The normalised part before the last "@" (the whole address when there is none)."""
    address = address.strip().strip("<>")
    local, at, _ = address.rpartition("@")
    return normalise_name(local if at else address)


@dataclass(frozen=True, slots=True)
class MailRoute:
    """Where one camera's mail arrives and how to tell it apart from its DVR siblings."""

    camera_id: str
    name: str
    """The camera's name in HA, looked for in the mail's channel name, subject and body."""
    address: str
    """The local part the camera (or its DVR) sends to; a domain, if given, is ignored."""
    channel: int | None = None
    """The camera's DVR channel, as the DVR numbers it in its mail."""


@dataclass(frozen=True, slots=True)
class _Candidate:
    route: MailRoute
    name: str
    pattern: re.Pattern[str] | None


def _name_pattern(name: str) -> re.Pattern[str] | None:
    """The name as a whole word or phrase: not inside a longer word ("cam1" in "cam10")."""
    if not name:
        return None
    return re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")


class MailRouter:
    """Maps a mail's recipients and content to camera ids; immutable, so swapped as a whole."""

    def __init__(self, routes: Iterable[MailRoute]) -> None:
        """Index the routes by normalised address."""
        self._by_address: dict[str, list[_Candidate]] = {}
        for route in routes:
            address = local_part(route.address)
            if not address:
                continue
            name = normalise_name(route.name)
            self._by_address.setdefault(address, []).append(
                _Candidate(route, name, _name_pattern(name))
            )

    def accepts(self, recipient: str) -> bool:
        """Whether some camera receives mail at this recipient (any domain)."""
        return local_part(recipient) in self._by_address

    def route(self, recipients: Sequence[str], mail: MailAlert) -> tuple[str, ...]:
        """Camera ids the mail is about, in recipient order, without duplicates."""
        found: dict[str, None] = {}
        for recipient in recipients:
            candidates = self._by_address.get(local_part(recipient), [])
            for candidate in _pick(candidates, mail):
                found[candidate.route.camera_id] = None
        return tuple(found)


def _pick(candidates: list[_Candidate], mail: MailAlert) -> list[_Candidate]:
    """One camera per address is that camera; a DVR's cameras go by channel, then by name."""
    if len(candidates) <= 1:
        return candidates
    if mail.channel is not None:
        by_channel = [c for c in candidates if c.route.channel == mail.channel]
        if by_channel:
            return by_channel
    channel_name = normalise_name(mail.channel_name) if mail.channel_name else None
    # Longest names first, each match blanked out, so that "Garden Back" in the text does not
    # also count as a mention of a camera named "Garden".
    text = f"{normalise_name(mail.subject)}\0{normalise_name(mail.text)}"
    matched: set[int] = set()
    for index, candidate in sorted(
        enumerate(candidates), key=lambda item: len(item[1].name), reverse=True
    ):
        if candidate.pattern is None:
            continue
        if candidate.name == channel_name:
            matched.add(index)
        text, count = candidate.pattern.subn("\0", text)
        if count:
            matched.add(index)
    return [c for index, c in enumerate(candidates) if index in matched]
