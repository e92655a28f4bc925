"""SVG snapshots of the desk (pytest-textual-snapshot): alerts, reader, help, editor.

Deterministic: the store is filled before the app starts (no polling), every time stamp
comes from a fixed clock, and the paths on screen are relative to a temp working dir.
Regenerate after an intended UI change with ``pytest tests/tui --snapshot-update``."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("textual")
pytest.importorskip("pytest_textual_snapshot")

from textual.pilot import Pilot  # noqa: E402
from textual.widgets import TextArea  # noqa: E402

from newswatch import pipeline, watching  # noqa: E402
from newswatch.clusters import CLUSTERS, ClusterService  # noqa: E402
from newswatch.config import Settings  # noqa: E402
from newswatch.pipeline import ingest  # noqa: E402
from newswatch.poller import Poller  # noqa: E402
from newswatch.sources import SourceSpec  # noqa: E402
from newswatch.store import Store  # noqa: E402
from newswatch.tui.app import NewswatchApp, make_app  # noqa: E402
from newswatch.tui.reader import Reader  # noqa: E402
from newswatch.tui.rowlist import RowList  # noqa: E402
from newswatch.tui.screens import EditorScreen, HelpScreen  # noqa: E402
from newswatch.watching import Watcher, load_watchset  # noqa: E402
from tests.tui.desk import (  # noqa: E402
    SIZE,
    copy_inputs,
    find_alert_row,
    rows,
    wait_until,
)

FIXED_NOW = "2025-03-18T21:05:00Z"


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NewswatchApp:
    """The seeds ingested and clustered at FIXED_NOW into a fresh store, as the poller
    does it; an app that never polls."""
    monkeypatch.chdir(tmp_path)  # the editor's title shows watchlists/ukraine-peace.yaml
    for module in (pipeline, watching):
        monkeypatch.setattr(module, "utc_now", lambda: FIXED_NOW)
    try:
        from newswatch.sources import fetchloop
    except ImportError:  # pragma: no cover - httpx missing; no feeds here anyway
        pass
    else:
        monkeypatch.setattr(fetchloop, "utc_now", lambda: FIXED_NOW)
    copy_inputs(tmp_path)
    settings = Settings(db=Path("db.json"), watchlists=(Path("watchlists"),),
                        sources=(SourceSpec(name="seeds", path=Path("seeds")),))
    store = Store(settings.db)
    report = ingest(store, settings.sources,
                    Watcher(load_watchset(list(settings.watchlists), store)), ClusterService())
    assert report.alerts.new and not any(s.error for s in report.sources)
    assert report.clusters.assigned == 2 and store.count(CLUSTERS) == 1  # one event
    return make_app(Poller(settings, store), autopoll=False)


async def desk_ready(pilot: Pilot) -> None:
    """The alert rows are drawn and the first row's story is in the reader."""
    app = pilot.app
    await wait_until(pilot, lambda: rows(app, "alert-list"), "alert rows")
    await wait_until(pilot, lambda: app.query_one("#reader", Reader).detail is not None,
                     "the reader")


def test_alerts_screen(snap_compare, desk: NewswatchApp) -> None:
    assert snap_compare(desk, terminal_size=SIZE, run_before=desk_ready)


def test_reader_open(snap_compare, desk: NewswatchApp) -> None:
    async def open_story(pilot: Pilot) -> None:
        await desk_ready(pilot)
        app = pilot.app
        for _ in range(find_alert_row(app, "prisoner-exchange")):
            await pilot.press("j")
        group = app.groups[app.query_one("#alert-list", RowList).cursor_key]
        await pilot.press("enter")
        reader = app.query_one("#reader", Reader)
        # the event's story, with the other seed listed under it
        await wait_until(pilot, lambda: app.focused is reader and reader.detail is not None
                         and reader.detail.story.id == group.story_id
                         and len(reader.detail.siblings) == 1
                         and not app._worker_running("story"), "the story")

    assert snap_compare(desk, terminal_size=SIZE, run_before=open_story)


def test_help_screen(snap_compare, desk: NewswatchApp) -> None:
    async def open_help(pilot: Pilot) -> None:
        await desk_ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "help")

    assert snap_compare(desk, terminal_size=SIZE, run_before=open_help)


def test_editor_screen(snap_compare, desk: NewswatchApp) -> None:
    async def open_editor(pilot: Pilot) -> None:
        await desk_ready(pilot)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, EditorScreen), "editor")
        pilot.app.screen.query_one(TextArea).cursor_blink = False  # a steady cursor

    assert snap_compare(desk, terminal_size=SIZE, run_before=open_editor)
