"""Ingest a batch: read sources → store → match → alerts, one write per batch."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field

from newswatch.alerts import Reconciled
from newswatch.clusters import ClusterReport, ClusterService
from newswatch.models import Item, UpsertCounts, utc_now
from newswatch.sources import SourceResult, SourceSpec
from newswatch.store import Store
from newswatch.store.compact import compact_if_worth_it
from newswatch.stories import STORIES, feed_states, put_feed_state, upsert_items
from newswatch.watching import Watcher, ensure_current

BATCH_ITEMS = 5000  # items per transaction: bounds memory for huge local sources
# While feeds arrive, what waits is stored whenever no feed is ready and LULL_ITEMS or more
# wait, so little is left for the end; a store whose commits take longer to write than
# LULL_WRITE_S (a big one) raises that bar in proportion, so commits stay worth their cost.
# Fewer items are stored too once the first of them has waited LULL_WAIT_S (or four times
# what the last commit took): a slow feed does not hold back what the others brought.
LULL_ITEMS = 1000
LULL_WRITE_S = 0.05
LULL_WAIT_S = 1.0


@dataclass(slots=True)
class SourceReport:
    """What happened to one source in one ingest."""

    name: str
    location: str
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    error: str | None = None
    skipped: list[str] = field(default_factory=list)
    not_modified: bool = False

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(slots=True)
class IngestReport:
    sources: list[SourceReport] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # ids of new or updated stories
    alerts: Reconciled = field(default_factory=Reconciled)
    clusters: ClusterReport = field(default_factory=ClusterReport)
    rematched: Reconciled | None = None  # set when changed watchlists were re-applied first

    @property
    def all_failed(self) -> bool:
        return bool(self.sources) and all(s.failed for s in self.sources)


def read_sources(specs: Sequence[SourceSpec], store: Store,
                 watcher: Watcher | None = None) -> Generator[SourceResult | None, None, None]:
    """Read every source: feeds first, each yielded as soon as it is fetched and parsed
    (using, and returning, its conditional-GET state; the parse workers also match the
    items against ``watcher``'s watchlists), then local files. None: a lull while feeds
    are fetched (no result ready)."""
    feeds = [s for s in specs if s.url]
    if feeds:
        from newswatch.sources.fetch import FetchSettings, iter_feeds  # aiohttp only if asked

        states = feed_states(store, [s.url for s in feeds if s.url])
        enrich = watcher.prematcher() if watcher is not None else None
        yield from iter_feeds(feeds, states, FetchSettings(), enrich, lulls=True)
    if len(feeds) < len(specs):
        from newswatch.sources.local import read_local

        for spec in specs:
            if not spec.url:
                yield read_local(spec)


def ingest(store: Store, specs: Sequence[SourceSpec], watcher: Watcher | None = None,
           clusters: ClusterService | None = None, cancel: threading.Event | None = None,
           on_lull: Callable[[], None] | None = None) -> IngestReport:
    """Read the sources, store what they hold, match and cluster it. Never raises for a
    bad source. Feeds are stored as they arrive, a batch of ``BATCH_ITEMS`` at a time,
    while later ones are still being fetched (``on_lull`` runs whenever the ingest waits
    for them, after storing what waits: the caller may emit what is stored meanwhile);
    the report lists sources in the order given."""
    rematched = ensure_current(store, watcher) if watcher is not None else None
    results = read_sources(specs, store, watcher)
    try:
        report = store_results(store, results, watcher, clusters, cancel, on_lull)
    finally:
        results.close()  # cancelled: the feeds still out are dropped, their workers ended
    compact_if_worth_it(store)  # replaced texts, when they take much of the segments
    position = {(s.name, s.location): k for k, s in reversed(list(enumerate(specs)))}
    report.sources.sort(key=lambda r: position.get((r.name, r.location), len(specs)))
    report.rematched = rematched
    return report


def store_results(store: Store, results: Iterable[SourceResult | None],
                  watcher: Watcher | None = None,
                  clusters: ClusterService | None = None,
                  cancel: threading.Event | None = None,
                  on_lull: Callable[[], None] | None = None) -> IngestReport:
    """Store, match and cluster what the sources gave, one transaction per batch of at most
    ``BATCH_ITEMS`` items (a source's items may span batches). A lull (None) in the
    results commits what waits once it is ``LULL_ITEMS`` or more, or has waited long
    enough (see there): work done while the rest is fetched is not left for the end.
    ``on_lull`` runs at each lull, after that."""
    report = IngestReport()
    pending: list[tuple[SourceReport, list[Item]]] = []
    pending_size = 0
    waiting_since = 0.0  # when the first item now pending arrived
    states = []
    write_s = 0.0  # how long the last commit took to write
    prepared = False

    def commit() -> None:
        nonlocal write_s, pending, pending_size
        write_s = _commit(store, pending, [], report, watcher, clusters)
        pending, pending_size = [], 0

    for result in results:
        if result is None:
            if cancel is not None and cancel.is_set():
                break  # what arrived is stored below; what is still out is not waited for
            if clusters is not None and not prepared:  # the first wait for feeds: load
                prepared = True  # the clusterer meanwhile
                clusters.prepare(store)
            if pending_size >= LULL_ITEMS * max(1.0, write_s / LULL_WRITE_S) or (
                    pending_size and time.monotonic() - waiting_since
                    >= max(LULL_WAIT_S, 4.0 * write_s)):
                commit()
            if on_lull is not None:
                on_lull()
            continue
        source = SourceReport(result.spec.name, result.spec.location, error=result.error,
                              skipped=list(result.skipped), not_modified=result.not_modified)
        report.sources.append(source)
        if result.feed_state is not None:
            states.append(result.feed_state)
        for start in range(0, len(result.items), BATCH_ITEMS):
            chunk = result.items[start:start + BATCH_ITEMS]
            if pending_size + len(chunk) > BATCH_ITEMS and pending:
                commit()
            if not pending:
                waiting_since = time.monotonic()
            pending.append((source, chunk))
            pending_size += len(chunk)
    _commit(store, pending, states, report, watcher, clusters)
    return report


def _commit(store: Store, pending: list[tuple[SourceReport, list[Item]]], states: list,
            report: IngestReport, watcher: Watcher | None,
            clusters: ClusterService | None) -> float:
    """Store, match and cluster one batch in one transaction; returns the seconds the
    commit took to write."""
    if not pending and not states:
        return 0.0
    now = utc_now()
    changed: list[str] = []
    with store.transaction() as tx:
        for source, items in pending:
            result = upsert_items(tx, items, now)
            source.counts.new += result.counts.new
            source.counts.updated += result.counts.updated
            source.counts.unchanged += result.counts.unchanged
            report.changed.extend(result.changed)
            if watcher is not None:
                prematched = {item.id: item.prematch for item in items if item.prematch}
                for sid in result.changed:
                    doc = tx.get(STORIES, sid)
                    if doc is not None:
                        watcher.match_into(tx, sid, doc, tx.staged_texts.get(sid, ""), now,
                                           report.alerts, prematched.get(sid))
            changed.extend(result.changed)
        if clusters is not None:  # once per transaction: it commits one index generation
            features = {item.id: item.features for _, items in pending for item in items
                        if item.features is not None}
            clusters.assign(tx, changed, tx.staged_texts, report.clusters, features)
        for state in states:
            put_feed_state(tx, state)
        staged = time.perf_counter()
    return time.perf_counter() - staged
