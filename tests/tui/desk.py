"""Helpers for driving the desk with Textual's Pilot: a real store in a temp dir, copies of
the bundled seeds and watchlist, and bounded waits on what a user would see."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from newswatch.config import Settings
from newswatch.poller import Poller
from newswatch.sources import SourceSpec
from newswatch.store import Store
from newswatch.tui.app import NewswatchApp, make_app
from newswatch.tui.rowlist import Row, RowList

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
WATCHLISTS = REPO / "watchlists"
SIZE = (140, 40)

# the two bundled seed stories
TRUMP_PUTIN = "Trump and Putin seek ceasefire against Ukraine energy and infrastructure targets"
WHITE_HOUSE = "The White House announced that U.S. President Trump and Russian President Putin"


def copy_inputs(root: Path) -> tuple[Path, Path]:
    """Writable copies of ``seeds/`` and ``watchlists/`` under ``root``."""
    seeds, watchlists = root / "seeds", root / "watchlists"
    shutil.copytree(SEEDS, seeds, copy_function=shutil.copyfile)
    shutil.copytree(WATCHLISTS, watchlists, copy_function=shutil.copyfile)
    return seeds, watchlists


def seed_settings(root: Path) -> Settings:
    """The bundled setup (seeds + ukraine-peace watchlist) with its store in ``root``."""
    seeds, watchlists = copy_inputs(root)
    return Settings(db=root / "db.json", watchlists=(watchlists,),
                    sources=(SourceSpec(name="seeds", path=seeds),))


def new_app(settings: Settings, *, autopoll: bool = True) -> NewswatchApp:
    return make_app(Poller(settings, Store(settings.db)), autopoll=autopoll)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run an async Pilot scenario from a plain (sync) test."""
    asyncio.run(scenario())


async def wait_until(pilot: Pilot, condition: Callable[[], object], what: str,
                     tries: int = 100, step: float = 0.05) -> None:
    """Let the app run until ``condition()`` holds; fail after ``tries * step`` seconds."""
    for _ in range(tries):
        await pilot.pause(step)
        if condition():
            return
    raise AssertionError(f"timed out after {tries * step:.1f} s waiting for {what}")


def rows(app: NewswatchApp, list_id: str) -> list[Row]:
    return app.query_one(f"#{list_id}", RowList).rows


# the cells of an alert row, left to right
WHEN, SEVERITY, RULE, STORY_COUNT, SOURCE_COUNT, HEADLINE = range(6)


def alert_rules(app: NewswatchApp) -> list[str]:
    """The rule column of every alert row, top to bottom."""
    return [row.cells[RULE] for row in rows(app, "alert-list")]


def find_alert_row(app: NewswatchApp, rule: str) -> int:
    """The index of the one alert row of ``rule``: the seeds are one event, and the desk
    shows one row per event and rule."""
    found = [index for index, row in enumerate(rows(app, "alert-list"))
             if row.cells[RULE] == rule]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} alert rows for {rule!r}, wanted exactly one")
    return found[0]


def toasts(app: NewswatchApp) -> list[tuple[str, str]]:
    """(title, message) of the notifications still on screen."""
    return [(n.title, n.message) for n in app._notifications]
