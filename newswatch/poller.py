"""Polling the configured sources on their intervals: shared by the TUI and `run`.

A :class:`Poller` owns the watchlists in force (reloaded when their files change) and
decides which sources are due; each :meth:`Poller.poll` is one ingest batch."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from newswatch.clusters import ClusterService
from newswatch.config import Settings
from newswatch.errors import UserError
from newswatch.pipeline import IngestReport, ingest
from newswatch.sources import SourceSpec
from newswatch.store import Store
from newswatch.watch.loader import watchlist_files
from newswatch.watching import Watcher, ensure_current, load_watchset

BACKOFF_MAX_S = 3600.0


@dataclass(slots=True)
class SourceStatus:
    spec: SourceSpec
    next_due: float = 0.0  # time.monotonic() seconds
    failures: int = 0
    last_error: str | None = None
    last_ok: float | None = None


@dataclass(slots=True)
class PollReport:
    ingest: IngestReport
    polled: list[str] = field(default_factory=list)  # source names polled this time
    watch_errors: list[str] = field(default_factory=list)
    watchlists_reloaded: bool = False


class Poller:
    """Which sources are due, with per-source interval, jitter and failure backoff."""

    def __init__(self, settings: Settings, store: Store, *, jitter: float = 0.1,
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        self.store = store
        self.jitter = jitter
        self.rng = rng or random.Random()
        self.status = {spec.name: SourceStatus(spec) for spec in settings.sources}
        self._stamps: dict[Path, float] = {}
        self.reload_errors: list[str] = []
        # set to end a poll early (the desk quitting, a signal): what has arrived is
        # stored, feeds still being fetched are dropped and tried on the next poll
        self.cancel = threading.Event()
        # runs whenever a poll waits for feeds still out (see pipeline.ingest)
        self.on_lull: Callable[[], None] | None = None
        self.watcher = self._load_watcher()
        self.clusters = ClusterService()
        self.last_poll: float | None = None

    # ------------------------------------------------------------------ watchlists

    def _watch_stamps(self) -> dict[Path, float]:
        stamps: dict[Path, float] = {}
        for path in watchlist_files(self.settings.watchlists):
            try:
                stamps[path] = path.stat().st_mtime_ns
            except OSError:
                continue
        return stamps

    def _load_watcher(self) -> Watcher:
        self._stamps = self._watch_stamps()
        watchset = load_watchset(list(self.settings.watchlists), self.store)
        if watchset.unusable:
            raise UserError("; ".join(watchset.unusable))
        return Watcher(watchset)

    def watchlists_changed(self) -> bool:
        """Whether a watchlist file was added, removed or edited since the last load."""
        return self._watch_stamps() != self._stamps

    def reload_watchlists_if_changed(self) -> bool:
        """Reload when a watchlist file was added, removed or edited since the last load.
        When a watchlist path cannot be looked at any more (a folder gone or unreadable),
        the watchlists in force stay, and ``reload_errors`` says why."""
        if not self.watchlists_changed():
            return False
        try:
            self.watcher = self._load_watcher()
        except UserError as exc:
            self.reload_errors = [f"{exc}; keeping the watchlists loaded before"]
            return True
        self.reload_errors = []
        return True

    # ------------------------------------------------------------------ scheduling

    def interval(self, spec: SourceSpec) -> float:
        return spec.interval_s or self.settings.default_interval_s

    def due(self, now: float | None = None) -> list[SourceSpec]:
        now = time.monotonic() if now is None else now
        return [s.spec for s in self.status.values() if s.next_due <= now]

    def seconds_until_due(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        if not self.status:
            return self.settings.default_interval_s
        return max(0.0, min(s.next_due for s in self.status.values()) - now)

    def poll(self, *, force: bool = False) -> PollReport:
        """Ingest every due source (every source when ``force``) as one batch."""
        reloaded = self.reload_watchlists_if_changed()
        specs = [s.spec for s in self.status.values()] if force else self.due()
        if specs:
            report = ingest(self.store, specs, self.watcher, self.clusters, self.cancel,
                            self.on_lull)
        else:
            report = IngestReport()
            if reloaded:
                report.rematched = ensure_current(self.store, self.watcher)
        now = time.monotonic()
        for source in report.sources:
            self._reschedule(source.name, source.error, now)
        self.last_poll = time.time()
        return PollReport(report, [s.name for s in specs],
                          [*self.reload_errors, *self.watcher.watchset.errors], reloaded)

    def _reschedule(self, name: str, error: str | None, now: float) -> None:
        status = self.status.get(name)
        if status is None:
            return
        base = self.interval(status.spec)
        if error is None:
            status.failures, status.last_error, status.last_ok = 0, None, time.time()
            delay = base
        else:
            status.failures += 1
            status.last_error = error
            # exponential backoff from the interval: 2, 4, 8... intervals, never above an
            # hour (or the interval itself when that is longer), never before the interval
            delay = min(base * 2.0 ** min(status.failures, 32), max(BACKOFF_MAX_S, base))
        spread = delay * self.jitter
        status.next_due = now + delay + self.rng.uniform(-spread, spread)

    @property
    def failing(self) -> list[SourceStatus]:
        return [s for s in self.status.values() if s.last_error]
