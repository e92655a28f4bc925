"""The reader's rendering of a story: a huge text is cut where the desk would freeze."""

from __future__ import annotations

from newswatch.models import Story
from newswatch.tui.reader import READER_MAX, render_detail
from newswatch.views import StoryDetail


def _story(text: str) -> Story:
    return Story("id", "g", "src", "A title", None, None, "2025-01-01T00:00:00Z",
                 "2025-01-01T00:00:00Z", "hash", text=text)


def test_a_huge_text_is_shown_up_to_the_cap_with_a_note() -> None:
    text = "word " * 60_000  # 300,000 characters
    shown = [part.plain for part in render_detail(StoryDetail(_story(text)), {}).renderables]
    assert shown[5] == text[:READER_MAX]
    assert shown[6].strip() == ("… 200,000 more characters: `newswatch stories --json` "
                                "has the whole text")


def test_a_short_text_is_shown_whole() -> None:
    shown = [part.plain for part in render_detail(StoryDetail(_story("Short.")), {}).renderables]
    assert shown[5] == "Short." and len(shown) == 6
