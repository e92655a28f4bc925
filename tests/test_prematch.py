"""Watchlist matching in the feed fetch workers: the same alerts as matching at commit,
and a result made with other watchlists is never used."""

from __future__ import annotations

import pickle
from pathlib import Path

from newswatch.alerts import ALERTS, Reconciled, list_alerts
from newswatch.clusters import ClusterService
from newswatch.models import utc_now
from newswatch.pipeline import ingest
from newswatch.sources import SourceSpec
from newswatch.sources.fetch import FetchSettings, fetch_feeds
from newswatch.store import Store
from newswatch.watch.model import MatchInput, MatchResult
from newswatch.watching import Prematch, Watcher, load_watchset
from tests.feedserver import FeedServer, rss_feed

WATCHLIST = """\
watchlist: peace
rules:
  - id: ceasefire
    query: ceasefire
  - id: swap
    query: prisoner* NEAR/3 exchange
"""
STORIES = [
    {"title": f"Story {i}", "link": f"https://x.example/{i}", "guid": f"g{i}",
     "description": text}
    for i, text in enumerate([
        "Both sides agreed to a ceasefire on Tuesday.",
        "An exchange of 175 prisoners took place at the border.",
        "Heavy rain closed several river roads.",
        "The ceasefire held while prisoners in the exchange were counted.",
    ])
]


def _watcher(tmp_path: Path) -> Watcher:
    folder = tmp_path / "watchlists"
    folder.mkdir()
    (folder / "peace.yaml").write_text(WATCHLIST, encoding="utf-8")
    return Watcher(load_watchset([folder]))


def test_fetch_workers_match_each_item_with_the_watchlists_in_force(
        tmp_path: Path, feed_server: FeedServer) -> None:
    watcher = _watcher(tmp_path)
    urls = [feed_server.route(f"/f{i}.xml", body=rss_feed(STORIES)) for i in range(3)]
    specs = [SourceSpec(f"f{i}", url=u) for i, u in enumerate(urls)]
    results = fetch_feeds(specs, {}, FetchSettings(workers=2), watcher.prematcher())
    for result in results:
        rules = [sorted(h.rule for h in item.prematch.result.hits) for item in result.items]
        assert rules == [["ceasefire"], ["swap"], [], ["ceasefire", "swap"]]
        assert {item.prematch.fingerprint for item in result.items} == {
            watcher.watchset.fingerprint}


def test_ingest_with_worker_matches_raises_the_same_alerts(
        tmp_path: Path, feed_server: FeedServer) -> None:
    watcher = _watcher(tmp_path)
    urls = [feed_server.route(f"/g{i}.xml", body=rss_feed(STORIES)) for i in range(3)]
    specs = [SourceSpec(f"g{i}", url=u) for i, u in enumerate(urls)]
    store = Store(tmp_path / "db.json")
    report = ingest(store, specs, watcher, ClusterService())
    assert len(report.alerts.new) == 3 * 4
    got = _highlighted(store, watcher)
    assert all(matches for *_, matches in got)  # every alert shows where it matched
    # the same stories matched in this process, from text, give the same alerts
    again = Store(tmp_path / "again.json")
    with again.transaction() as tx:
        for sid, doc in store.items("stories"):
            fresh = {k: doc[k] for k in ("guid", "source", "title", "url", "published")}
            tx.put("stories", sid, fresh)
            text = store.texts([sid])[sid]
            tx.put_text(sid, text)
            watcher.match_into(tx, sid, fresh, text, utc_now(), Reconciled())
    assert got == _highlighted(again, watcher)
    assert all("matches" not in d for _, d in store.items(ALERTS))  # found when read


def _highlighted(store: Store, watcher: Watcher) -> list[tuple]:
    alerts = list_alerts(store)
    watcher.highlighter().fill(store, alerts)
    return sorted((a.source, a.guid, a.rule, tuple(a.matches)) for a in alerts)


def test_a_prematch_from_other_watchlists_is_ignored(tmp_path: Path) -> None:
    watcher = _watcher(tmp_path)
    store = Store(tmp_path / "db.json")
    stale = Prematch.of("another fingerprint", MatchResult())
    doc = {"guid": "g", "source": "s", "title": "Ceasefire agreed"}
    out = Reconciled()
    with store.transaction() as tx:
        watcher.match_into(tx, "sid", doc, "A ceasefire was agreed.", utc_now(), out, stale)
    assert len(out.new) == 1  # matched afresh, not taken from the stale (empty) result


def test_a_failing_prematch_never_costs_the_feed_its_items(
        tmp_path: Path, feed_server: FeedServer) -> None:
    def broken(source: str, title: str, text: str) -> Prematch:
        raise RuntimeError("matcher bug")

    urls = [feed_server.route(f"/b{i}.xml", body=rss_feed(STORIES)) for i in range(2)]
    specs = [SourceSpec(f"b{i}", url=u) for i, u in enumerate(urls)]
    results = fetch_feeds(specs, {}, FetchSettings(workers=2), broken)
    assert [len(r.items) for r in results] == [4, 4]
    assert all(r.error is None for r in results)
    assert all(item.prematch is None and item.features is not None
               for r in results for item in r.items)


def test_a_prematch_travels_as_plain_tuples_and_gives_back_the_same_result(
        tmp_path: Path) -> None:
    watcher = _watcher(tmp_path)
    (tmp_path / "watchlists" / "people.yaml").write_text(
        "watchlist: people\nentities:\n  icrc:\n    name: Red Cross\n"
        "rules:\n  - id: rc\n    query: '@icrc'\n", encoding="utf-8")
    watcher = Watcher(load_watchset([tmp_path / "watchlists"]))
    text = "The Red Cross saw the ceasefire hold. Prisoners in the exchange: 175."
    result = watcher.matcher.match(MatchInput("wire", "Ceasefire holds", text),
                                   spans=False)
    assert result.hits and result.entities  # the test covers hits and entities
    made = watcher.prematcher()("wire", "Ceasefire holds", text)
    assert made.result == result
    # the ingest stores which rules hit and entity counts only: a prematch has no spans
    full = watcher.matcher.match(MatchInput("wire", "Ceasefire holds", text))
    assert full.entities[0].spans == [("text", 4, 13)] and made.result.entities[0].spans == []
    assert [(e.id, e.count) for e in full.entities] == [
        (e.id, e.count) for e in made.result.entities]
    assert all(h.matches for h in full.hits)
    assert [h.rule for h in full.hits] == [h.rule for h in made.result.hits]
    assert all(not h.matches for h in made.result.hits)

    def plain(value: object) -> bool:
        if isinstance(value, tuple):
            return type(value) is tuple and all(plain(v) for v in value)
        return isinstance(value, str | int)

    assert plain(made.wire)
    assert pickle.loads(pickle.dumps(made)) == made
