"""Highlighting on read: a long-lived highlighter (the desk's, the headless runner's)
finds where each alert's rule matched its story as the story is stored now."""

from __future__ import annotations

from pathlib import Path

from newswatch.alerts import Reconciled, list_alerts
from newswatch.models import utc_now
from newswatch.store import Store
from newswatch.watching import Watcher, load_watchset, stored_watchlists

WATCHLIST = """\
watchlist: peace
rules:
  - id: ceasefire
    query: ceasefire OR truce
  - id: swap
    query: prisoner NEAR/3 swap
"""


def _store_story(store: Store, watcher: Watcher, title: str, text: str) -> None:
    with store.transaction() as tx:
        doc = (tx.get("stories", "s1") or {"guid": "g", "source": "wire"}) | {"title": title}
        tx.put("stories", "s1", doc)
        tx.put_text("s1", text)
        watcher.match_into(tx, "s1", doc, text, utc_now(), Reconciled())
        watcher.remember(tx)


def _spans(store: Store, highlighter) -> dict[str, list[tuple[str, int, str]]]:
    alerts = list_alerts(store)
    highlighter.fill(store, alerts)
    return {a.rule: [(m.field, m.start, m.text) for m in a.matches] for a in alerts}


def test_a_kept_highlighter_sees_a_story_stored_again_with_other_text(tmp_path: Path) -> None:
    (tmp_path / "peace.yaml").write_text(WATCHLIST, encoding="utf-8")
    watcher = Watcher(load_watchset([tmp_path / "peace.yaml"]))
    store = Store(tmp_path / "db.json")
    _store_story(store, watcher, "Truce holds", "A prisoner swap followed the truce.")
    highlighter = watcher.highlighter()
    assert _spans(store, highlighter) == {
        "ceasefire": [("title", 0, "Truce"), ("text", 29, "truce")],
        "swap": [("text", 2, "prisoner"), ("text", 11, "swap")]}
    _store_story(store, watcher, "Truce holds", "Talks went on; the truce held.")
    assert _spans(store, highlighter) == {  # the swap alert is retired, not listed
        "ceasefire": [("title", 0, "Truce"), ("text", 19, "truce")]}
    # what `alerts` uses: the watchlists the store remembers having matched with
    assert [w.name for w in stored_watchlists(store)] == ["peace"]


def test_a_story_whose_text_cannot_be_read_is_highlighted_again_once_it_can(
        tmp_path: Path) -> None:
    (tmp_path / "peace.yaml").write_text(WATCHLIST, encoding="utf-8")
    watcher = Watcher(load_watchset([tmp_path / "peace.yaml"]))
    store = Store(tmp_path / "db.json")
    _store_story(store, watcher, "Talks", "A prisoner swap followed the truce.")
    highlighter = watcher.highlighter()
    assert _spans(store, highlighter)["ceasefire"] == [("text", 29, "truce")]
    segments = list((tmp_path / "db.json.texts").iterdir())
    hidden = [p.rename(p.with_name(p.name + ".away")) for p in segments]
    fresh = Watcher(load_watchset([tmp_path / "peace.yaml"])).highlighter()
    assert _spans(store, fresh) == {"ceasefire": [], "swap": []}  # a segment is away
    for p in hidden:
        p.rename(p.with_name(p.name.removesuffix(".away")))
    assert _spans(store, fresh)["ceasefire"] == [("text", 29, "truce")]  # not remembered
    alerts = list_alerts(store)  # one story's alerts: a remembered one and a new one
    again = Watcher(load_watchset([tmp_path / "peace.yaml"])).highlighter()
    again.fill(store, alerts[:1])
    again.fill(store, alerts)
    assert len(alerts) == 2 and all(a.matches for a in alerts)
