"""Modal screens: help, and the watchlist editor that validates on save."""

from __future__ import annotations

import os
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static, TextArea

from newswatch.watch.loader import WatchlistError, parse_watchlist

HELP = """\
[b]newswatch[/b] — keys

  [b]tab[/b] / [b]shift+tab[/b]   next / previous pane (Alerts, Clusters, Stories, Reader)
  [b]j[/b] [b]k[/b] ↑ ↓ pgup pgdn g G   move in a list
  [b]enter[/b]              open the selected alert, cluster or story in the reader
  [b]/[/b]                  search stories (title and full text)
  [b]r[/b]                  poll every source now
  [b]o[/b]                  open the story's link in a browser
  [b]m[/b]                  mark the alert group read and acknowledged (again: unmark)
  [b]e[/b]                  edit the watchlist in the built-in editor (ctrl+s saves)
  [b]E[/b]                  edit the watchlist in $EDITOR
  [b]ctrl+p[/b]             command palette (every action above)
  [b]?[/b]                  this help      [b]q[/b]  quit

Alerts are grouped by story cluster: one row per event and rule, with the number of
sources that reported it. Bold rows are unread; dim rows are acknowledged.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(HELP)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


def atomic_save(path: Path, text: str) -> None:
    path = Path(os.path.realpath(path))  # a symlinked watchlist: save its target, keep the link
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class EditorScreen(Screen[bool]):
    """Edit one watchlist file. ctrl+s validates: errors stay on screen with line:col and
    the cursor jumps to the first; a valid file is saved and the screen closes (True)."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        # priority: the code editor's TextArea otherwise takes escape (to move focus)
        Binding("escape", "cancel", "Close without saving", priority=True),
    ]

    def __init__(self, path: Path, text: str) -> None:
        super().__init__()
        self.path = path
        self.text = text  # read by the caller, which reports a file it cannot read

    def compose(self) -> ComposeResult:
        with Vertical(id="editor-box"):
            yield Static(Content.assemble("Editing ", (str(self.path), "bold"),
                                          " — ctrl+s saves, esc closes"), id="editor-title")
            yield TextArea.code_editor(self.text, language=_yaml_language(), id="editor")
            # errors quote the file back: shown as text, never parsed as markup
            yield Static("", id="editor-errors", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#editor", TextArea).focus()

    def action_save(self) -> None:
        text = self.query_one("#editor", TextArea).text
        errors = validate(self.path, text)
        box = self.query_one("#editor-errors", Static)
        if errors:
            box.update("\n".join(errors))
            box.add_class("visible")
            position = _first_position(errors[0], self.path)
            if position is not None:
                self.query_one("#editor", TextArea).cursor_location = position
            self.notify(f"{len(errors)} problem(s); not saved", severity="error")
            return
        atomic_save(self.path, text)
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    @property
    def errors(self) -> str:
        return str(self.query_one("#editor-errors", Static).content)


def validate(path: Path, text: str) -> list[str]:
    try:
        parse_watchlist(path, text)
    except WatchlistError as exc:
        return list(exc.errors)
    return []


def _first_position(error: str, path: Path) -> tuple[int, int] | None:
    rest = error[len(str(path)) + 1:] if error.startswith(str(path)) else ""
    parts = rest.split(":", 2)
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
        return int(parts[0]) - 1, int(parts[1]) - 1
    return None


def _yaml_language() -> str | None:
    try:
        import tree_sitter_yaml  # noqa: F401
    except ImportError:
        return None
    return "yaml"
