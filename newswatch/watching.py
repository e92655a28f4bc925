"""Watchlists in force for a store: the last valid version of each file, the matcher built
from them, matching stories inside an ingest transaction, and re-matching the stored
stories when a watchlist changed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newswatch.alerts import Reconciled, reconcile
from newswatch.highlight import Highlighter
from newswatch.models import EntityMention, utc_now
from newswatch.store import Store, Transaction
from newswatch.textfiles import read_small
from newswatch.watch.loader import WatchlistError, parse_watchlist, watchlist_files
from newswatch.watch.matcher import Matcher
from newswatch.watch.model import MatchInput, MatchResult, RuleHit, Watchlist

WATCHLISTS = "watchlists"  # table: absolute file path -> last valid text
META = "meta"
FINGERPRINT_KEY = "watch"
REMATCH_CHUNK = 2000


# Raised when the same watchlists would match differently (session 8: Chinese and Japanese
# characters became words of their own): stores matched before are then re-matched.
MATCHING_VERSION = 2


@dataclass(slots=True)
class WatchSet:
    """The watchlists in force and what went wrong loading the current files."""

    watchlists: list[Watchlist] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # path -> text in force
    fallbacks: list[str] = field(default_factory=list)  # paths running on a stored version
    # watchlist paths that could not be looked at (missing, unlistable): such a set is not
    # the user's watchlists, so it must never replace them (nor retire their alerts)
    unusable: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """What stored stories were matched with: the watchlist texts and how they match."""
        digest = hashlib.blake2b(digest_size=12)
        digest.update(f"matching {MATCHING_VERSION}\0".encode())
        for path in sorted(self.texts):
            digest.update(f"{path}\0{self.texts[path]}\0".encode())
        return digest.hexdigest()


def load_watchset(paths: Sequence[Path], store: Store | None = None) -> WatchSet:
    """Load every watchlist file under ``paths``. An invalid file reports its errors and,
    when the store remembers a last valid version of it, that version stays in force."""
    found = WatchSet()
    names: dict[str, str] = {}
    files = watchlist_files(paths, found.unusable)
    found.errors.extend(found.unusable)
    for path in files:
        if not path.exists() and not path.is_symlink():
            continue  # missing: in ``unusable``
        key = str(path.parent.resolve() / path.name)  # a symlink named, not its target
        try:
            text = read_small(path).decode("utf-8")
            watchlist = parse_watchlist(path, text)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            found.errors.append(f"{path}:1:1: cannot read file: {exc}")
            watchlist, text = _fallback(store, key, path, found)
        except WatchlistError as exc:
            found.errors.extend(exc.errors)
            watchlist, text = _fallback(store, key, path, found)
        if watchlist is None or text is None:
            continue
        if watchlist.name in names:
            found.errors.append(f"{path}:1:1: duplicate watchlist name {watchlist.name!r} "
                                f"(also {names[watchlist.name]})")
            continue
        names[watchlist.name] = str(path)
        found.errors.extend(watchlist.warnings)
        found.watchlists.append(watchlist)
        found.texts[key] = text
    return found


def _fallback(store: Store | None, key: str, path: Path,
              found: WatchSet) -> tuple[Watchlist | None, str | None]:
    doc = store.get(WATCHLISTS, key) if store is not None else None
    if not doc:
        return None, None
    try:
        watchlist = parse_watchlist(path, doc["text"])
    except WatchlistError:
        return None, None
    found.fallbacks.append(str(path))
    found.errors.append(f"{path}: keeping the last valid version in force")
    return watchlist, doc["text"]


# What the ingest keeps of a MatchResult, as plain tuples: (hits, entities), a hit
# (watchlist, rule, severity), an entity (id, name, count). Tuples of str and int pickle
# ten times faster than the records, and a parse worker sends one per story.
Wire = tuple[tuple[tuple[str, str, str], ...], tuple[tuple[str, str, int], ...]]


@dataclass(frozen=True, slots=True)
class Prematch:
    """A story's matches computed before its ingest transaction (in a feed parse worker),
    valid for the watchlists whose fingerprint it carries."""

    fingerprint: str
    wire: Wire

    @classmethod
    def of(cls, fingerprint: str, result: MatchResult) -> Prematch:
        return cls(fingerprint, (
            tuple((h.watchlist, h.rule, h.severity) for h in result.hits),
            tuple((e.id, e.name, e.count) for e in result.entities)))

    @property
    def entity_ids(self) -> tuple[str, ...]:
        """The entities found, in order: what the story's clustering features fold in."""
        return tuple(e[0] for e in self.wire[1])

    @property
    def result(self) -> MatchResult:
        hits, entities = self.wire
        return MatchResult([RuleHit(w, r, s, []) for w, r, s in hits],
                           [EntityMention(i, n, c, []) for i, n, c in entities])


class Prematcher:
    """Matches items where they are parsed: ``(source, title, text) -> Prematch``. Built
    in the parent and inherited by forked parse workers; holds no store."""

    def __init__(self, watcher: Watcher) -> None:
        self.matcher = watcher.matcher
        self.fingerprint = watcher.fingerprint

    def __call__(self, source: str, title: str, text: str) -> Prematch:
        return Prematch.of(self.fingerprint, self.matcher.match(
            MatchInput(source, title, text), spans=False))


class Watcher:
    """Matches stories against a :class:`WatchSet` and keeps their alerts reconciled."""

    def __init__(self, watchset: WatchSet) -> None:
        self.watchset = watchset
        self.matcher = Matcher(watchset.watchlists)
        self.fingerprint = watchset.fingerprint  # a hash of every text: once, not per story
        self._highlighter: Highlighter | None = None

    def highlighter(self) -> Highlighter:
        """What finds where these watchlists matched the stories of alerts being read."""
        if self._highlighter is None:
            self._highlighter = Highlighter(self.watchset.watchlists)
        return self._highlighter

    def prematcher(self) -> Prematcher | None:
        """What parse workers should run on each item; None when nothing is watched."""
        return Prematcher(self) if self.watchset.watchlists else None

    def match_into(self, tx: Transaction, story_id: str, doc: dict[str, Any], text: str,
                   now: str, out: Reconciled, prematch: Prematch | None = None) -> None:
        """Match one story (doc is its staged metadata) and reconcile its alerts. A
        ``prematch`` of the same story text is used when made with these watchlists."""
        if not self.watchset.watchlists:  # nothing to watch: no entities, no hits
            if doc.get("entities") or doc.get("alerts"):
                doc["entities"] = []
                reconcile(tx, story_id, doc, (), now, out)
                tx.put("stories", story_id, doc)
            return
        if prematch is not None and prematch.fingerprint == self.fingerprint:
            hits, entities = prematch.wire  # as plain tuples: no records to build
        else:
            hits, entities = Prematch.of(self.fingerprint, self.matcher.match(
                MatchInput(doc["source"], doc.get("title", ""), text), spans=False)).wire
        # which rules hit, and entities by id, name and count only: where they matched is
        # found again when an alert is read (newswatch.highlight). Spans would triple the
        # metadata file (a news story names its entities dozens of times), and finding
        # them is most of the cost of matching a dense story.
        doc["entities"] = [{"id": i, "name": n, "count": c} for i, n, c in entities]
        reconcile(tx, story_id, doc, hits, now, out)
        tx.put("stories", story_id, doc)

    def remember(self, tx: Transaction) -> None:
        """Store the texts in force (the fallback for a later invalid edit) and the
        fingerprint that says the stored stories were matched against them."""
        for key, text in self.watchset.texts.items():
            if key not in self.watchset.fallbacks:
                tx.put(WATCHLISTS, key, {"text": text})
        tx.put(META, FINGERPRINT_KEY, {"fingerprint": self.fingerprint,
                                       "paths": sorted(self.watchset.texts)})

    def is_current(self, store: Store) -> bool:
        doc = store.get(META, FINGERPRINT_KEY)
        return bool(doc) and doc.get("fingerprint") == self.fingerprint

    def rematch(self, store: Store, progress: Callable[[int, int], None] | None = None
                ) -> Reconciled:
        """Re-apply the watchlists to every stored story, a chunk per transaction.

        Idempotent: a run cut short is completed by the next one, since the fingerprint
        is stored only at the end."""
        out = Reconciled()
        keys = [k for k, _ in store.items("stories")]
        unreadable: set[str] = set()  # their alerts stay as they are (a warning says why)
        for start in range(0, len(keys), REMATCH_CHUNK):
            chunk = keys[start:start + REMATCH_CHUNK]
            texts = store.texts(chunk, unreadable)
            now = utc_now()
            with store.transaction() as tx:
                for sid in chunk:
                    doc = tx.get("stories", sid)
                    if doc is not None and sid not in unreadable:
                        self.match_into(tx, sid, doc, texts.get(sid, ""), now, out)
            if progress is not None:
                progress(min(start + REMATCH_CHUNK, len(keys)), len(keys))
        with store.transaction() as tx:
            self.remember(tx)
        return out


def ensure_current(store: Store, watcher: Watcher) -> Reconciled | None:
    """Re-match stored stories if the watchlists changed since they were matched."""
    if watcher.is_current(store):
        if "paths" not in (store.get(META, FINGERPRINT_KEY) or {}):
            with store.transaction() as tx:  # kept by a version that did not record
                watcher.remember(tx)  # which texts were in force (see stored_watchlists)
        return None
    if store.count("stories") == 0:
        with store.transaction() as tx:
            watcher.remember(tx)
        return None
    return watcher.rematch(store)


def stored_watchlists(store: Store) -> list[Watchlist] | None:
    """The watchlists the store's stories were last matched with, as ``remember`` kept
    them: what raised its alerts, whatever watchlist files a command is pointed at. None
    when the store does not say which of its kept texts those were (never matched, or
    last matched by a version that did not record it; the next ingest or poll does)."""
    paths = (store.get(META, FINGERPRINT_KEY) or {}).get("paths")
    if paths is None:
        return None
    got = store.get_many(WATCHLISTS, paths)
    found: dict[str, Watchlist] = {}
    for key, row in ((k, got[k]) for k in paths if k in got):
        try:
            watchlist = parse_watchlist(Path(key), row["text"])
        except (WatchlistError, KeyError, TypeError):  # valid when kept: a damaged record
            continue
        found.setdefault(watchlist.name, watchlist)
    return list(found.values())


def watchlist_paths(arg: Iterable[Path] | None) -> list[Path]:
    from newswatch.locations import bundled

    paths = list(arg or [])
    return paths or [bundled("watchlists")]
