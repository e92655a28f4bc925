"""The reader pane: one story in full, every matched span in its rule's colour."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from newswatch.views import StoryDetail

RULE_COLOURS = ["#e5a50a", "#3584e4", "#e01b24", "#2ec27e", "#c061cb", "#ff7800",
                "#1c71d8", "#f66151", "#26a269", "#9141ac"]


def rule_colour(rule_key: str, palette: dict[str, str]) -> str:
    if rule_key not in palette:
        palette[rule_key] = RULE_COLOURS[len(palette) % len(RULE_COLOURS)]
    return palette[rule_key]


READER_MAX = 100_000  # characters of a story's text the reader shows


def render_detail(detail: StoryDetail, palette: dict[str, str]) -> Group:
    story = detail.story
    title = Text(story.title or "(untitled)", style="bold")
    text = story.text or ""
    # the reader lays out every line of what it shows, on the UI thread: a megabyte of text
    # froze the desk for seconds, so it shows the first READER_MAX characters
    body = Text(text[:READER_MAX])
    for alert in detail.alerts:
        colour = rule_colour(f"{alert.watchlist}/{alert.rule}", palette)
        for span in alert.matches:
            target = title if span.field == "title" else body
            if 0 <= span.start < span.end <= len(target.plain):
                target.stylize(f"bold {colour} underline", span.start, span.end)
    meta = Text()
    meta.append(f"{story.source}", style="bold")
    meta.append(f"  ·  published {story.published or 'unknown'}  ·  fetched {story.fetched}\n")
    if story.url:
        meta.append(story.url + "\n", style="underline")
    rules = Text()
    for alert in detail.alerts:
        colour = rule_colour(f"{alert.watchlist}/{alert.rule}", palette)
        rules.append(f" {alert.watchlist}/{alert.rule} ", style=f"bold reverse {colour}")
        rules.append(f" {alert.severity}  ")
    if not detail.alerts:
        rules.append("no watchlist rule matched", style="dim")
    entities = Text()  # Text(..., style=) would make the whole line bold, names included
    entities.append("Entities: ", style="bold")
    entities.append(", ".join(f"{e.name} ×{e.count}" for e in story.entities) or "none",
                    style="" if story.entities else "dim")
    parts: list[Text] = [title, meta, rules, entities, Text(""), body]
    if len(text) > READER_MAX:
        parts.append(Text(f"\n… {len(text) - READER_MAX:,} more characters: `newswatch "
                          f"stories --json` has the whole text", style="dim"))
    if detail.siblings:
        others = Text()
        others.append(f"\nSame event, {len(detail.siblings)} other stor"
                      f"{'y' if len(detail.siblings) == 1 else 'ies'}:\n", style="bold")
        for _, source, other_title in detail.siblings[:20]:
            others.append(f"  • {source}: {other_title}\n")
        parts.append(others)
    return Group(*parts)


class Reader(VerticalScroll, can_focus=True):
    """Scrollable full text of the selected story."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.detail: StoryDetail | None = None
        self._palette: dict[str, str] = {}

    def compose(self):  # noqa: ANN201 - textual ComposeResult
        yield Static("Select an alert, a cluster or a story.", id="reader-body")

    def show(self, detail: StoryDetail) -> None:
        self.detail = detail
        self.query_one("#reader-body", Static).update(render_detail(detail, self._palette))
        self.scroll_home(animate=False)
