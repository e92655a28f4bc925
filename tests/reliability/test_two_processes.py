"""The desk and a headless poller on one store, both polling a feed that grows.

The TUI runs in this process under Textual's Pilot; `newswatch run --headless
--every-story` runs as a subprocess on the same store and config. Both poll the same feed
every second while items are added to it (and its etag changes). At the end every story
and alert either wrote is in the store exactly once, the headless process printed each
alert exactly once, and the desk shows what the store holds."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from newswatch.alerts import ALERTS
from newswatch.config import Settings
from newswatch.poller import Poller
from newswatch.sources import SourceSpec
from newswatch.store import Store
from newswatch.stories import STORIES
from newswatch.tui.app import make_app
from tests.feedserver import FeedServer, rss_feed
from tests.reliability.helpers import ENV, REPO
from tests.reliability.storecheck import check_store
from tests.tui.desk import SIZE, rows, run, wait_until

WATCHLIST = """\
watchlist: live
rules:
  - id: truce
    query: ceasefire OR truce
    severity: high
"""
ROUNDS, PER_ROUND = 6, 3  # the feed grows by 3 items (2 of them alerting) per round


class CountingPoller(Poller):
    """The desk's poller, counting the stories its polls stored."""

    stored = 0

    def poll(self, *, force: bool = False):  # noqa: ANN201
        report = super().poll(force=force)
        self.stored += sum(s.counts.new for s in report.ingest.sources)
        return report


def round_items(r: int) -> list[dict[str, str]]:
    return [
        {"title": f"Ceasefire round {r}: talks resume", "guid": f"r{r}-a",
         "link": f"http://127.0.0.1/r{r}/a",
         "description": f"Negotiators met again in round {r} to discuss a ceasefire."},
        {"title": f"Markets steady in week {r}", "guid": f"r{r}-b",
         "link": f"http://127.0.0.1/r{r}/b", "description": "Stocks were flat."},
        {"title": f"Truce holds along the river, day {r}", "guid": f"r{r}-c",
         "link": f"http://127.0.0.1/r{r}/c",
         "description": f"A local truce held for the {r}th day, officials said."},
    ]


def test_desk_and_headless_share_a_store_and_a_growing_feed(
        tmp_path: Path, feed_server: FeedServer) -> None:
    db = tmp_path / "db.json"
    watchlists = tmp_path / "watchlists"
    watchlists.mkdir()
    (watchlists / "live.yaml").write_text(WATCHLIST, encoding="utf-8")
    feed: list[dict[str, str]] = []

    def grow(r: int) -> None:
        feed[:0] = round_items(r)  # newest first, as feeds are
        feed_server.route("/wire.xml", body=rss_feed(feed), etag=f'"v{r}"')

    grow(0)
    url = feed_server.url("/wire.xml")
    config = tmp_path / "newswatch.yaml"
    config.write_text(f"db: {db}\nwatchlists: {watchlists}\n"
                      f"sources:\n  - {{name: wire, url: '{url}', interval: 1s}}\n")
    headless = subprocess.Popen(
        [sys.executable, "-m", "newswatch.cli", "--config", str(config), "run", "--headless",
         "--every-story"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=ENV, cwd=REPO)
    printed: list[dict] = []
    reader = threading.Thread(target=lambda: printed.extend(
        json.loads(line) for line in headless.stdout), daemon=True)  # type: ignore[union-attr]
    reader.start()

    settings = Settings(db=db, watchlists=(watchlists,),
                        sources=(SourceSpec("wire", url=url, interval_s=1.0),))
    total = ROUNDS * PER_ROUND
    alerting = ROUNDS * 2

    def stored(table: str) -> int:
        return Store(db).count(table) if db.exists() else 0

    poller = CountingPoller(settings, Store(db))

    async def scenario() -> None:
        app = make_app(poller)
        async with app.run_test(size=SIZE) as pilot:
            for r in range(1, ROUNDS):
                await wait_until(pilot, lambda r=r: stored(STORIES) == r * PER_ROUND,
                                 f"round {r - 1} stored", tries=300)
                grow(r)
            await wait_until(pilot, lambda: stored(STORIES) == total, "every story",
                             tries=300)
            await wait_until(pilot, lambda: len(printed) == alerting,
                             "headless printing every alert", tries=300)
            await wait_until(pilot, lambda: len(rows(app, "story-list")) == total,
                             "the desk listing every story", tries=300)
            assert sorted(r.cells[2] for r in rows(app, "story-list")) == sorted(
                item["title"] for item in feed)

    try:
        run(scenario)
        time.sleep(1.5)  # one more headless pass: nothing left to print
    finally:
        headless.send_signal(signal.SIGTERM)
        try:
            _, err = headless.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            headless.kill()
            _, err = headless.communicate()
        reader.join(timeout=5)
    assert headless.returncode == 0, err
    assert "Traceback" not in err, err

    stories = check_store(db)  # each (source, guid) once, texts, alerts, clusters whole
    assert sorted(d["guid"] for d in stories.values()) == sorted(i["guid"] for i in feed)
    alerts = dict(Store(db).items(ALERTS))
    assert sorted(stories[d["story"]]["guid"] for d in alerts.values()) == sorted(
        f"r{r}-{x}" for r in range(ROUNDS) for x in "ac")
    assert all(d.get("emitted") and not d.get("retired") for d in alerts.values())
    ids = Counter(line["id"] for line in printed)
    assert [i for i, n in ids.items() if n > 1] == [], "an alert was printed twice"
    assert set(ids) == set(alerts)
    # each story was stored by exactly one of the two (the other found it unchanged)
    by_headless = sum(int(m) for m in re.findall(r" wire: (\d+) new,", err))
    assert by_headless + poller.stored == total, (by_headless, poller.stored)
    print(f"stored by the desk: {poller.stored}, by headless: {by_headless}")
