"""translations/en.json is strings.json with its references resolved (scripts/translations)."""

from tests.translations_build import ENGLISH, english


def test_english_translation_is_up_to_date() -> None:
    assert ENGLISH.read_text(encoding="utf-8") == english(), "run scripts/translations"
