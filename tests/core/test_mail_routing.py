"""MailRouter: recipient address first, then a DVR's channel or the camera's name."""

from __future__ import annotations

import unicodedata

import pytest

from custom_components.lookback.core.alerts.mail import MailAlert, MailKind
from custom_components.lookback.core.alerts.routing import (
    MailRoute,
    MailRouter,
    local_part,
    normalise_name,
)

FRONT = MailRoute("front", "Front door", "frontdoor")
YARD = MailRoute("yard", "Yard", "dvr", channel=1)
TYL = MailRoute("tyl", "Tył", "dvr", channel=2)
GARDEN = MailRoute("garden", "Garden", "DVR@nvr.local", channel=3)
GARDEN_BACK = MailRoute("garden_back", "Garden Back", "dvr", channel=4)
ROUTER = MailRouter([FRONT, YARD, TYL, GARDEN, GARDEN_BACK])


def alert(
    subject: str = "Motion Detection Alarm",
    text: str = "",
    *,
    channel: int | None = None,
    channel_name: str | None = None,
    kind: MailKind = MailKind.ALARM,
) -> MailAlert:
    return MailAlert(
        subject=subject,
        sender="nvr@lookback",
        text=text,
        kind=kind,
        vendor=None,
        event_type=None,
        channel=channel,
        channel_name=channel_name,
        images=(),
        skipped_attachments=0,
    )


def test_normalise_name_nfc_casefold_whitespace() -> None:
    decomposed = unicodedata.normalize("NFD", "  TYŁ \t Kamera\u00a0Ż ")
    assert decomposed != unicodedata.normalize("NFC", decomposed)
    assert normalise_name(decomposed) == "tył kamera ż"
    assert normalise_name("Straße") == normalise_name("STRASSE") == "strasse"
    # casefold decomposes U+0130; the result is NFC again
    assert normalise_name("İ") == unicodedata.normalize("NFC", "i\u0307")


@pytest.mark.parametrize(
    ("recipient", "accepted"),
    [
        ("frontdoor@lookback", True),
        ("FrontDoor@any.example.com", True),  # the domain is never checked
        ("<frontdoor@x>", True),
        ("frontdoor", True),
        ('"weird@local"@lookback', False),
        ("dvr@elsewhere", True),
        ("dvr@nvr.local", True),
        ("someone@example.com", False),
        ("frontdoor.x@lookback", False),
        ("@lookback", False),
        ("", False),
    ],
)
def test_accepts_local_part_any_domain(recipient: str, accepted: bool) -> None:
    assert ROUTER.accepts(recipient) is accepted


def test_local_part_of_route_address_ignores_its_domain() -> None:
    assert local_part("DVR@nvr.local") == "dvr"
    assert local_part(" Front Door ") == "front door"


def test_single_candidate_takes_everything() -> None:
    # channel and name say nothing about a camera with an address of its own
    assert ROUTER.route(["frontdoor@lookback"], alert(channel=7, channel_name="Yard")) == ("front",)


def test_dvr_channel_wins_over_names() -> None:
    mail = alert("Yard motion", channel=2)
    assert ROUTER.route(["dvr@lookback"], mail) == ("tyl",)


def test_dvr_unknown_channel_falls_back_to_name() -> None:
    assert ROUTER.route(["dvr@lookback"], alert(channel=9, channel_name="YARD")) == ("yard",)


def test_dvr_channel_name_nfc_and_case() -> None:
    mail = alert(channel_name=unicodedata.normalize("NFD", "TYŁ"))
    assert ROUTER.route(["dvr@lookback"], mail) == ("tyl",)


def test_dvr_name_in_subject_or_text_as_whole_words() -> None:
    assert ROUTER.route(["dvr@lookback"], alert("Motion at  tył!")) == ("tyl",)
    assert ROUTER.route(["dvr@lookback"], alert(text="Camera: YARD\r\nEvent: motion")) == ("yard",)
    # inside a longer word is no mention
    assert ROUTER.route(["dvr@lookback"], alert("Backyard motion")) == ()


def test_longer_name_hides_the_shorter_one_it_contains() -> None:
    assert ROUTER.route(["dvr@lookback"], alert("Motion: Garden Back")) == ("garden_back",)
    both = alert("Motion: Garden Back", text="and Garden")
    assert ROUTER.route(["dvr@lookback"], both) == ("garden", "garden_back")


def test_dvr_several_names_keep_route_order() -> None:
    mail = alert("Tył and Yard")
    assert ROUTER.route(["dvr@lookback"], mail) == ("yard", "tyl")


def test_dvr_nothing_matched_routes_nowhere() -> None:
    assert ROUTER.route(["dvr@lookback"], alert("Motion Detection Alarm")) == ()


def test_unknown_recipient_routes_nowhere() -> None:
    assert ROUTER.route(["nobody@lookback"], alert("Yard")) == ()
    assert ROUTER.route([], alert("Yard")) == ()


def test_several_recipients_deduplicated_in_order() -> None:
    mail = alert(channel=1)
    recipients = ["dvr@a", "frontdoor@b", "DVR@c", "nobody@d"]
    assert ROUTER.route(recipients, mail) == ("yard", "front")


def test_two_cameras_on_one_channel_both_match() -> None:
    router = MailRouter(
        [MailRoute("a", "A", "dvr", channel=1), MailRoute("b", "B", "dvr", channel=1)]
    )
    assert router.route(["dvr@x"], alert(channel=1)) == ("a", "b")


def test_empty_names_and_addresses_are_ignored() -> None:
    router = MailRouter(
        [
            MailRoute("no_address", "Nowhere", " "),
            MailRoute("nameless", "", "dvr", channel=1),
            MailRoute("named", "Named", "dvr", channel=2),
        ]
    )
    assert not router.accepts(" @lookback")
    assert router.route(["dvr@x"], alert("Named camera, nameless too")) == ("named",)
    assert router.route(["dvr@x"], alert(channel=1)) == ("nameless",)
