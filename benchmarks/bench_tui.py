"""TUI on a large store: first screen and cursor movement with 100k stories, 20k alerts.

    .venv/bin/python benchmarks/bench_tui.py [--stories 100000] [--alerts 20000]

Builds the store through the store API (stories with texts, alerts on them, clusters),
then starts the real app headless (Textual's run_test) and times: the app until its
first screen holds the alert rows; 200 cursor moves in the Alerts list; switching to the
Stories pane (100k rows) and 200 moves there. Target (issue 6): first screen <= 1.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newswatch.alerts import alert_id  # noqa: E402
from newswatch.config import Settings  # noqa: E402
from newswatch.models import story_id  # noqa: E402
from newswatch.poller import Poller  # noqa: E402
from newswatch.store import Store  # noqa: E402
from newswatch.tui.app import make_app  # noqa: E402
from newswatch.tui.rowlist import RowList  # noqa: E402

WORDS = " ".join(p.read_text() for p in sorted((ROOT / "seeds").glob("*.txt"))).split()
RULES = ["ceasefire", "prisoner-exchange", "peace-talks", "black-sea-truce", "leaders-call"]
SEVERITY = {"ceasefire": "high", "prisoner-exchange": "high", "peace-talks": "medium",
            "black-sea-truce": "high", "leaders-call": "low"}


def build(db: Path, n_stories: int, n_alerts: int) -> None:
    rng = random.Random(5)
    store = Store(db)
    chunk = 10_000
    alert_every = max(1, n_stories // max(n_alerts, 1))
    made = 0
    for begin in range(0, n_stories, chunk):
        with store.transaction() as tx:
            for i in range(begin, min(begin + chunk, n_stories)):
                sid = story_id("bench", f"g{i}")
                when = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00Z"
                cluster = story_id("bench", f"g{i - i % 4}")  # events of four stories
                doc = {"guid": f"g{i}", "source": f"src{i % 50}", "url": None,
                       "title": " ".join(rng.choices(WORDS, k=9)), "published": when,
                       "fetched": when, "updated": when, "hash": "x", "entities": [],
                       "cluster": cluster, "alerts": []}
                if i % alert_every == 0 and made < n_alerts:
                    rule = RULES[made % len(RULES)]
                    aid = alert_id(sid, "ukraine-peace", rule)
                    tx.put("alerts", aid, {"watchlist": "ukraine-peace", "rule": rule,
                                           "severity": SEVERITY[rule], "created": when,
                                           "updated": when, "story": sid,
                                           "matches": [["title", 0, 4, "word"]]})
                    doc["alerts"] = [aid]
                    made += 1
                tx.put("stories", sid, doc)
                tx.put_text(sid, " ".join(rng.choices(WORDS, k=480)))
                if i % 4 == 0:
                    tx.put("clusters", cluster, {"label": doc["title"], "size": 4,
                                                 "sources": [doc["source"]], "first_seen": when,
                                                 "last_seen": when,
                                                 "stories": [story_id("bench", f"g{i + k}")
                                                             for k in range(4)]})


async def measure(db: Path) -> list[tuple[str, str]]:
    settings = Settings(db=db, watchlists=(ROOT / "watchlists",), sources=())
    start = time.perf_counter()
    app = make_app(Poller(settings, Store(db)), autopoll=False)
    rows: list[tuple[str, str]] = []
    async with app.run_test(size=(140, 40)) as pilot:
        alerts = app.query_one("#alert-list", RowList)
        while not alerts.rows:
            await pilot.pause(0.01)
        first = time.perf_counter() - start
        rows.append(("first screen with alert rows (app start → rows drawn)", f"{first:.2f} s"))
        rows.append(("  alert groups on it", f"{len(alerts.rows):,}"))
        t = time.perf_counter()
        while app.view.stories is None:
            await pilot.pause(0.01)
        rows.append(("then clusters + stories panes filled (in the background)",
                     f"+{time.perf_counter() - t:.2f} s ({len(app.view.stories):,} stories)"))
        t = time.perf_counter()
        for _ in range(200):
            await pilot.press("j")
        await pilot.pause()
        rows.append(("200 cursor moves in Alerts", f"{(time.perf_counter() - t) * 5:.1f} ms/move"))
        await pilot.press("tab", "tab")
        stories = app.query_one("#story-list", RowList)
        t = time.perf_counter()
        for _ in range(200):
            await pilot.press("j")
        await pilot.pause()
        rows.append((f"200 cursor moves in Stories ({len(stories.rows):,} rows)",
                     f"{(time.perf_counter() - t) * 5:.1f} ms/move"))
        t = time.perf_counter()
        await pilot.press("G")
        await pilot.pause()
        rows.append(("jump to the last story", f"{(time.perf_counter() - t) * 1000:.0f} ms"))
    return rows


async def pilot_baseline() -> float:
    """Pilot's own cost per key press, on an app that does nothing with it."""
    from textual.app import App
    from textual.widgets import Static

    class Empty(App[None]):
        BINDINGS = [("j", "noop", "")]

        def action_noop(self) -> None:
            pass

        def compose(self):  # noqa: ANN202
            yield Static("x")

    async with Empty().run_test(size=(140, 40)) as pilot:
        t = time.perf_counter()
        for _ in range(100):
            await pilot.press("j")
        return (time.perf_counter() - t) * 10


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stories", type=int, default=100_000)
    ap.add_argument("--alerts", type=int, default=20_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nw-tui-") as tmp:
        db = Path(tmp) / "newswatch.json"
        t = time.perf_counter()
        build(db, args.stories, args.alerts)
        built = time.perf_counter() - t
        rows = [(f"build store: {args.stories:,} stories, {args.alerts:,} alerts",
                 f"{built:.1f} s")]
        rows += asyncio.run(measure(db))
        rows.append(("  (Pilot's own cost per key press on an empty app)",
                     f"{asyncio.run(pilot_baseline()):.1f} ms/press"))
        tables = db.with_name(db.name + ".tables")
        size = db.stat().st_size + sum(f.stat().st_size for f in tables.iterdir())
        rows.append(("metadata (manifest + table shards)", f"{size / 1e6:.0f} MB"))
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:{width}}  {value}")
    print("target: first screen <= 1.5 s; moves without visible lag. Times start at "
          "make_app (Python start and imports, ~0.4 s, come before).")


if __name__ == "__main__":
    main()
