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
        """Set each alert's ``matches`` from its story as stored now. The alerts of one
        story in one call cost one pass over its text, for their rules only; a story's
        spans are kept while it is unchanged (a later call for the same alerts is free).
        Pass many alerts at once when there are many: texts are then read together."""
        alerts = list(alerts)
        if not alerts:
            return
        with self._lock:
            docs = store.get_many(STORIES, {a.story_id for a in alerts})
            where = str(store.path)
            keys = {sid: (where, sid, tuple(doc.get("text") or ()), doc.get("title", ""))
                    for sid, doc in docs.items()}
            memo = self._memo
            if len(memo) + len(keys) > MEMO_STORIES:
                memo.clear()  # bounded between calls (one call keeps all it needs)
            todo: dict[str, set[tuple[str, str]]] = {}  # story -> rules not highlighted yet
            for alert in alerts:
                key = keys.get(alert.story_id)
                rule = (alert.watchlist, alert.rule)
                if key is not None and rule not in memo.get(key, ()):
                    todo.setdefault(alert.story_id, set()).add(rule)
            texts = store.texts(todo) if todo else {}
            fresh: dict[str, dict[tuple[str, str], list[Span]]] = {}
            for sid, rules in todo.items():
                doc = docs[sid]
                found = self._matcher.spans(MatchInput(
                    doc.get("source", ""), doc.get("title", ""), texts.get(sid, "")), rules)
                fresh[sid] = {rule: found.get(rule, []) for rule in rules}
                if sid in texts or not doc.get("text"):  # a text that could not be read
                    memo.setdefault(keys[sid], {}).update(fresh[sid])  # is tried again
            for alert in alerts:
                key = keys.get(alert.story_id)
                rule = (alert.watchlist, alert.rule)
                got = fresh.get(alert.story_id, {})
                if rule not in got:
                    got = memo.get(key, {}) if key is not None else {}
                alert.matches = list(got.get(rule, ()))
