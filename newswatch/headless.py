"""`newswatch run --headless`: poll on schedule and emit every alert exactly once.

An alert is marked emitted only after every sink took it, in the same store that holds
it, so a crash or restart re-emits nothing already delivered and loses nothing (a sink
that failed gets the alert again on the next pass). By default one alert per (cluster,
watchlist, rule) is emitted: later stories of a cluster that already alerted update the
stored record of that emission instead of printing again. Each sink takes an alert once:
when one sink fails, the alert is offered again later to that sink only."""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import FrameType

from filelock import FileLock, Timeout

from newswatch.alerts import (
    ALERTS,
    OUTBOX,
    Alert,
    alert_from_doc,
    alert_json,
    pending_alerts,
    save_alert,
    save_alerts,
)
from newswatch.clusters import CLUSTERS
from newswatch.highlight import Highlighter
from newswatch.models import utc_now
from newswatch.poller import Poller, PollReport
from newswatch.sinks import Sink, encode
from newswatch.store import Store, Transaction

log = logging.getLogger("newswatch")
EMITTED = "emitted"  # table: cluster/watchlist/rule key -> the emission it stands for


@dataclass(slots=True)
class EmitReport:
    printed: list[str] = field(default_factory=list)  # alert ids delivered to the sinks
    folded: list[str] = field(default_factory=list)  # alerts folded into an earlier emission
    failed: list[str] = field(default_factory=list)  # left for the next pass


def emission_key(story_id: str, cluster: str | None, watchlist: str, rule: str,
                 every_story: bool) -> str:
    group = story_id if every_story or not cluster else cluster
    return f"{group}\0{watchlist}\0{rule}"


# Emitted marks are committed after MARK_SECONDS of deliveries or MARK_BATCH delivered
# alerts, whichever comes first: a crash re-emits at most that much, and a pass that
# delivers tens of thousands of alerts costs tens of commits, not hundreds. Folded alerts
# do not count: a crash before their marks are saved folds them again, printing nothing.
MARK_SECONDS = 1.0
MARK_BATCH = 5000
# A pass that has run EARLY_EMIT_S emits what it stored while its slow feeds are still
# out, every EARLY_EVERY_S after that. A quicker pass emits at its end, once its clusters
# are complete: emitting a pass's stories batch by batch prints one line for each cluster
# they start before later stories merge those clusters (for a cold pass over 200 feeds,
# 10 lines a rule instead of 1).
EARLY_EMIT_S = 5.0
EARLY_EVERY_S = 1.0
HIGHLIGHT_BATCH = 500  # --every-story: alerts highlighted together (see _emit)


def emit_pending(store: Store, sinks: Sequence[Sink], *, every_story: bool = False,
                 stop: threading.Event | None = None,
                 down: set[str] | None = None,
                 highlighter: Highlighter | None = None) -> EmitReport:
    """Deliver every alert not yet emitted, oldest first, with where its rule matched
    found by ``highlighter`` (without one, alerts go out with no matches). The sinks
    named in ``down`` are skipped (what they have not taken waits), and those that fail
    are added to it: a caller emitting several times in one pass tries a failing sink
    only once.

    Marks are committed in batches (see MARK_SECONDS), after the sinks took the alerts:
    a crash in between repeats at most one batch, never loses one. Alerts of the same
    time go in the order they were raised (the outbox's order), so a batch of marks
    touches few shards of the alerts table."""
    with _emitter(store, stop) as mine:
        return _emit(store, sinks, every_story, stop, set() if down is None else down,
                     highlighter) if mine else EmitReport()


@contextlib.contextmanager
def _emitter(store: Store, stop: threading.Event | None) -> Iterator[bool]:
    """Hold the store's emitter lock: one process emits at a time, and it reads what is
    pending only once it holds the lock, so two pollers on one store never both deliver
    an alert. Yields False if ``stop`` was set while waiting."""
    lock = FileLock(str(store.path) + ".emit.lock")
    while True:
        try:
            lock.acquire(timeout=0.5)
            break
        except Timeout:
            if stop is not None and stop.is_set():
                yield False
                return
    try:
        yield True
    finally:
        lock.release()


def _emit(store: Store, sinks: Sequence[Sink], every_story: bool,
          stop: threading.Event | None, down: set[str],
          highlighter: Highlighter | None) -> EmitReport:
    report = EmitReport()
    pending = pending_alerts(store)
    if not pending:
        return report
    clusters = store.get_many(CLUSTERS, {d["cluster"] for _, d in pending if d.get("cluster")})
    now = utc_now()  # the time of this pass, on every emission record it writes
    records: dict[str, dict] = {}  # emissions written by this pass
    marks: list[str] = []
    partial: dict[str, list[str]] = {}  # alert id -> the sinks that took it (others failed)

    def lookup(key: str) -> dict | None:
        found = records.get(key) or store.get(EMITTED, key)
        return dict(found) if found is not None else None

    flushed = time.monotonic()

    sent = 0  # alerts delivered since the last flush

    def flush() -> None:
        nonlocal flushed, sent
        flushed, sent = time.monotonic(), 0
        if marks or records or partial:
            with store.transaction() as tx:
                _mark(tx, marks)
                for aid, names in partial.items():
                    _delivered(tx, aid, names)
                for key, record in records.items():
                    tx.put(EMITTED, key, record)
            marks.clear()
            records.clear()
            partial.clear()

    ready: dict[str, Alert] = {}  # with --every-story: the next alerts, highlighted

    def highlighted(k: int, aid: str, doc: dict) -> Alert:
        """The alert to send, with its matches. With --every-story every pending alert
        is sent: they are highlighted HIGHLIGHT_BATCH at a time (a story's alerts are
        neighbours in the outbox, so each story is matched once); else one by one (most
        fold into an earlier emission and need none)."""
        if highlighter is None:
            return alert_from_doc(aid, doc)
        if aid not in ready:
            batch = pending[k:k + HIGHLIGHT_BATCH] if every_story else [(aid, doc)]
            ready.clear()
            ready.update((a, alert_from_doc(a, d)) for a, d in batch)
            highlighter.fill(store, ready.values())
        return ready[aid]

    for k, (aid, doc) in enumerate(pending):
        if stop is not None and stop.is_set():
            break
        cluster = clusters.get(doc.get("cluster") or "") or {}
        key = emission_key(doc["story"], doc.get("cluster"), doc["watchlist"], doc["rule"],
                           every_story)
        earlier = lookup(key)
        if earlier is None and not every_story:
            # the story's cluster may have absorbed one that already alerted
            for absorbed in cluster.get("merged", []):
                earlier = lookup(emission_key(doc["story"], absorbed, doc["watchlist"],
                                              doc["rule"], False))
                if earlier is not None:
                    break
        mine = earlier is not None and earlier.get("alert") == aid  # offered before
        if earlier is not None and not every_story and not mine:
            earlier.update(updated=now, count=earlier.get("count", 1) + 1, latest=aid)
            records[key] = earlier
            marks.append(aid)
            report.folded.append(aid)
        else:
            alert = alert_json(highlighted(k, aid, doc), cluster.get("size"))
            took = _send(alert, sinks, set(doc.get("delivered", [])), down)
            sent += 1
            # the emission of its key even if a sink failed: the later alerts of the key
            # fold into it, so no sink gets more than one per (cluster, watchlist, rule)
            records[key] = earlier if mine and earlier is not None else {
                "alert": aid, "latest": aid, "count": 1, "created": now, "updated": now}
            if took is None:
                marks.append(aid)
                report.printed.append(aid)
            else:
                partial[aid] = took
                report.failed.append(aid)
        if sent >= MARK_BATCH or time.monotonic() - flushed >= MARK_SECONDS:
            flush()
    flush()
    return report


def _send(alert: dict, sinks: Sequence[Sink], done: set[str], down: set[str]
          ) -> list[str] | None:
    """Offer the alert to every sink that has not taken it yet; None when all have, else
    the sinks that have (a failing webhook never makes stdout print the alert twice). A
    sink that failed once in this pass (``down``) is not tried again until the next pass,
    so a dead receiver costs one timeout per pass, not one per alert."""
    payload = encode(alert)
    failed = False
    for sink in sinks:
        if sink.name in done:
            continue
        if sink.name not in down and sink.send(alert, payload):
            done.add(sink.name)
        else:
            down.add(sink.name)
            failed = True
    return sorted(done) if failed else None


def _delivered(tx: Transaction, alert_id: str, sinks: list[str]) -> None:
    doc = tx.get(ALERTS, alert_id)
    if doc is not None and doc.get("delivered", []) != sinks:
        doc["delivered"] = sinks
        save_alert(tx, alert_id, doc)


def _mark(tx: Transaction, alert_ids: list[str]) -> None:
    docs = tx.get_many(ALERTS, alert_ids)
    for doc in docs.values():
        doc["emitted"] = True
    save_alerts(tx, docs)


class Runner:
    """The poll → emit loop, stopped cleanly by SIGINT/SIGTERM between batches."""

    def __init__(self, poller: Poller, sinks: Sequence[Sink], *, every_story: bool = False,
                 stop: threading.Event | None = None) -> None:
        self.poller = poller
        self.sinks = list(sinks)
        self.every_story = every_story
        self.stop = stop or threading.Event()  # shared with sinks that wait (webhook)
        poller.cancel = self.stop  # and with the poll: a signal ends it at the next lull
        poller.on_lull = self._emit_early  # a slow poll's alerts go out as it goes on
        self._next_early = 0.0  # when the pass may next emit before its end
        self._down: set[str] = set()  # sinks that failed in this pass
        self._undelivered: set[str] = set()  # alerts they did not take in this pass
        # the outbox's version after an emission that left alerts for a failed sink: no
        # early emission reads the outbox again until it changes (see _emit_early)
        self._waiting_outbox: int | None = None
        self._watch_errors_logged = False
        self.once = False

    def install_signal_handlers(self) -> None:
        def handle(signum: int, frame: FrameType | None) -> None:
            log.info("%s: finishing the batch in flight, then exiting",
                     signal.Signals(signum).name)
            self.stop.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def run(self, *, once: bool = False) -> int:
        """Poll and emit until stopped; with ``once``, one pass. Exit status 1 when that
        pass found every source failing (as `ingest`), else 0."""
        first = True
        self.once = once
        if not self.poller.status:
            where = self.poller.settings.config_path or "the config"
            log.warning("%s: no sources configured; nothing to poll", where)
        while not self.stop.is_set():
            self._down, self._undelivered = set(), set()
            self._waiting_outbox = None
            self._next_early = time.monotonic() + EARLY_EMIT_S
            report = self.poller.poll(force=first or once)
            first = False
            self._log(report)
            self._emit()
            if self._undelivered:
                log.warning("%d alert(s) not delivered; retrying next pass",
                            len(self._undelivered))
            if once:
                return 1 if report.ingest.all_failed else 0
            self.stop.wait(max(0.5, min(self.poller.seconds_until_due(), 5.0)))
        return 0

    def _emit_early(self) -> None:
        """Emit at a lull of a long pass. Alerts a failed sink did not take wait for the
        next pass; until new ones are stored, reading them again would only cost (with
        ``--every-story`` and a dead webhook, 0.65 s of CPU per 30,000 waiting)."""
        if time.monotonic() < self._next_early:
            return
        if (self._waiting_outbox is not None
                and self.poller.store.version(OUTBOX) == self._waiting_outbox):
            return
        try:
            self._emit()
        except Exception as exc:  # never costs the pass what it fetched: its end retries
            log.warning("emitting during the pass failed (%s: %s); trying again at its end",
                        type(exc).__name__, exc)
            self._next_early = math.inf
        else:
            self._next_early = time.monotonic() + EARLY_EVERY_S

    def _emit(self) -> None:
        emitted = emit_pending(self.poller.store, self.sinks, every_story=self.every_story,
                               stop=self.stop, down=self._down,
                               highlighter=self.poller.watcher.highlighter())
        self._undelivered.update(emitted.failed)
        self._waiting_outbox = (self.poller.store.version(OUTBOX) if emitted.failed
                                else None)

    def _log(self, report: PollReport) -> None:
        if report.watchlists_reloaded:
            log.info("watchlists reloaded")
        # once per load of the watchlists, not on every pass while a bad edit stands
        if report.watchlists_reloaded or not self._watch_errors_logged:
            for line in report.watch_errors:
                log.warning("%s", line)
            self._watch_errors_logged = True
        for source in report.ingest.sources:
            for line in source.skipped:
                log.info("skipped %s", line)
            if source.error:
                status = self.poller.status.get(source.name)
                retry = f"; retry #{status.failures}" if status and not self.once else ""
                log.warning("%s: %s%s", source.location, source.error, retry)
            else:
                # a poller that runs on logs what changed; a single pass reports every source
                c = source.counts
                quiet = not self.once and not (c.new or c.updated)
                log.log(logging.DEBUG if quiet else logging.INFO,
                        "%s: %d new, %d updated, %d unchanged%s", source.name, c.new,
                        c.updated, c.unchanged, " (not modified)" if source.not_modified else "")
