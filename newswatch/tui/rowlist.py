"""A table that renders only the rows on screen, for lists of 100k stories.

DataTable builds per-row state (100k rows: ~8 s to first paint here), so this widget keeps
plain tuples and draws each visible line on demand through the Line API (like toolong's
log view). A cursor row, a fixed header, vim keys, and two messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    cells: tuple[str, ...]
    style: str = ""  # a component class suffix, e.g. "high" → rowlist--high
    dim: bool = False  # acknowledged rows are drawn dim
    bold: bool = False  # unread rows are drawn bold


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: int | None = None  # None: takes the remaining width


class _RowMessage(Message):
    """A message about one row of a :class:`RowList` (its key)."""

    def __init__(self, rowlist: RowList, key: str) -> None:
        super().__init__()
        self.rowlist = rowlist
        self.key = key

    @property
    def control(self) -> RowList:
        return self.rowlist


class RowList(ScrollView, can_focus=True):
    """Rows of cells with a cursor; only visible lines are ever rendered."""

    COMPONENT_CLASSES = {
        "rowlist--header", "rowlist--cursor", "rowlist--dim", "rowlist--info",
        "rowlist--low", "rowlist--medium", "rowlist--high", "rowlist--critical",
    }
    DEFAULT_CSS = """
    RowList { height: 1fr; }
    RowList > .rowlist--header { text-style: bold; background: $panel; }
    RowList > .rowlist--cursor { background: $accent 40%; }
    RowList:focus > .rowlist--cursor { background: $accent; color: $text; }
    RowList > .rowlist--dim { color: $text-muted; }
    RowList > .rowlist--info { color: $text-muted; }
    RowList > .rowlist--low { color: $success; }
    RowList > .rowlist--medium { color: $warning; }
    RowList > .rowlist--high { color: $error; }
    RowList > .rowlist--critical { color: $error; text-style: bold reverse; }
    """
    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "First", show=False),
        Binding("end,G", "jump(-1)", "Last", show=False),
        Binding("enter", "select", "Open", show=True),
    ]

    cursor: reactive[int] = reactive(0)

    class Highlighted(_RowMessage):
        """The cursor moved onto a row."""

    class Selected(_RowMessage):
        """Enter was pressed on a row."""

    def __init__(self, columns: Sequence[Column], *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.columns = list(columns)
        self.rows: list[Row] = []
        self._index: dict[str, int] = {}

    # ------------------------------------------------------------------ data

    def set_rows(self, rows: list[Row], keep: str | None = None) -> None:
        """Replace every row; the cursor stays on ``keep`` (a key) when it is still there."""
        current = keep if keep is not None else self.cursor_key
        self.rows = rows
        self._index = {row.key: i for i, row in enumerate(rows)}
        self.virtual_size = Size(self.size.width, len(rows) + 1)
        target = self._index.get(current, 0) if current else 0
        self.set_reactive(RowList.cursor, min(target, max(len(rows) - 1, 0)))
        self._scroll_cursor_into_view()
        self.refresh()
        if rows:
            self.post_message(self.Highlighted(self, rows[self.cursor].key))

    def replace_row(self, row: Row) -> None:
        index = self._index.get(row.key)
        if index is not None:
            self.rows[index] = row
            self.refresh()

    @property
    def cursor_key(self) -> str | None:
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor].key
        return None

    def move_to(self, key: str) -> bool:
        index = self._index.get(key)
        if index is None:
            return False
        self.cursor = index
        return True

    # ------------------------------------------------------------------ keys

    def action_move(self, delta: int) -> None:
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_move(direction * max(1, self.scrollable_content_region.height - 2))

    def action_jump(self, index: int) -> None:
        if self.rows:
            self.cursor = index if index >= 0 else len(self.rows) - 1

    def action_select(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    def watch_cursor(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self.refresh()
        key = self.cursor_key
        if key is not None and old != new:
            self.post_message(self.Highlighted(self, key))

    def _scroll_cursor_into_view(self) -> None:
        # line 0 is the header, so row i sits on virtual line i + 1
        self.scroll_to_region(Region(0, self.cursor, 1, 2), animate=False, force=True)

    def on_click(self, event) -> None:  # noqa: ANN001 - textual.events.Click
        row = int(self.scroll_offset.y) + event.y - 1
        if event.y >= 1 and 0 <= row < len(self.rows):
            self.cursor = row
            self.focus()

    # ------------------------------------------------------------------ drawing

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows) + 1)

    def _widths(self, total: int) -> list[int]:
        fixed = sum(c.width or 0 for c in self.columns) + len(self.columns) - 1
        flex = [c for c in self.columns if c.width is None]
        spare = max(8, total - fixed)
        return [c.width if c.width is not None else spare // max(len(flex), 1)
                for c in self.columns]

    def _line(self, cells: Sequence[str], width: int, style: Style) -> Strip:
        parts = []
        for text, cell_width in zip(cells, self._widths(width), strict=False):
            text = text.replace("\n", " ")
            if cell_len(text) > cell_width:
                text = set_cell_size(text, max(cell_width - 1, 0)) + "…"
            parts.append(set_cell_size(text, cell_width))
        line = " ".join(parts)
        return Strip([Segment(set_cell_size(line, width), style)], width)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width or self.size.width
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("rowlist--header")
            return self._line([c.title for c in self.columns], width, style)
        index = int(self.scroll_offset.y) + y - 1
        if not 0 <= index < len(self.rows):
            return Strip.blank(width, base)
        row = self.rows[index]
        style = base
        if row.style:
            style += self.get_component_rich_style(f"rowlist--{row.style}")
        if row.dim:
            style += self.get_component_rich_style("rowlist--dim")
        if row.bold:
            style += Style(bold=True)
        if index == self.cursor:
            style += self.get_component_rich_style("rowlist--cursor")
        return self._line(row.cells, width, style)
