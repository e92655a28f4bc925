"""Where each alert's rule matched its story, found when the alert is read.

The ingest stores which rules a story matches, not where: finding every occurrence and
its character offsets is most of the cost of matching a dense story, and the spans would
make most of the alerts' bytes on disk, yet only the alerts someone reads need them. The
readers -- `alerts --json`, the headless sinks, the desk's reader -- ask a
:class:`Highlighter`, which matches each story again with the watchlists in force and
keeps the spans of the alerts' rules (a story's alert whose rule no longer matches it, as
after an edit not yet applied, gets none)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from newswatch.alerts import Alert
from newswatch.store import Store
from newswatch.stories import STORIES
from newswatch.watch.matcher import Matcher
from newswatch.watch.model import MatchInput, Span, Watchlist

MEMO_STORIES = 2048  # stories whose spans are kept between calls (see ``fill``)


class Highlighter:
    """Fills in ``Alert.matches``. Thread-safe (the desk's workers share one); it has a
    matcher of its own, since a matcher's caches are not for sharing between threads."""

    def __init__(self, watchlists: Sequence[Watchlist]) -> None:
        self._matcher = Matcher(list(watchlists))
        self._lock = threading.Lock()
        # (store, story, its text's place, its title) -> (watchlist, rule) -> spans: a
        # story stored again with another text or title is matched again
        self._memo: dict[tuple[str, str, tuple, str], dict[tuple[str, str], list[Span]]] = {}

    def fill(self, store: Store, alerts: Iterable[Alert]) -> None:
        """Set each alert's ``matches`` from its story as stored now. Several alerts of one
        story (and the same story in later calls, while it is unchanged) cost one match."""
        alerts = list(alerts)
        if not alerts:
            return
        with self._lock:
            docs = store.get_many(STORIES, {a.story_id for a in alerts})
            where = str(store.path)
            keys = {sid: (where, sid, tuple(doc.get("text") or ()), doc.get("title", ""))
                    for sid, doc in docs.items()}
            memo = self._memo
            todo = [sid for sid, key in keys.items() if key not in memo]
            if todo and len(memo) + len(todo) > MEMO_STORIES:
                memo.clear()  # bounded between calls (one call keeps all it needs)
                todo = list(keys)
            if todo:
                texts = store.texts(todo)
                for sid in todo:
                    doc = docs[sid]
                    result = self._matcher.match(MatchInput(
                        doc.get("source", ""), doc.get("title", ""), texts.get(sid, "")),
                        entity_spans=False)
                    memo[keys[sid]] = {(h.watchlist, h.rule): h.matches for h in result.hits}
            for alert in alerts:
                key = keys.get(alert.story_id)
                found = memo.get(key, {}) if key is not None else {}
                alert.matches = list(found.get((alert.watchlist, alert.rule), ()))
