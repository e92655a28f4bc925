"""Parse fetched feed bodies in worker processes, as they arrive (see :class:`ParseQueue`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import sys
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newswatch.cluster_features import Features, PackedFeatures

# What a parse returns across the process boundary: (error, skipped, item field tuples,
# the items' clustering features packed in a few arrays). Plain tuples keep pickling cheap
# and keep feedparser out of the parent process.
RawParse = tuple[str | None, list[str], list[tuple[Any, ...]], "PackedFeatures | None"]
ParseArgs = tuple[bytes, str, str, str | None]
# Work done on each parsed item where it was parsed: (source, title, text) -> a picklable
# result that rides on the item (e.g. the watchlist matches, see watching.Prematcher).
Enrich = Callable[[str, str, str], Any]


@dataclass(slots=True)
class _Worker:
    """What a worker process keeps between feeds, set once by the pool initializer when
    the worker starts (the parent process never has one): the enrich function (passing it
    with every body would pickle a compiled watchlist per feed) and one clustering
    ``Features`` whose word caches serve every feed the worker parses (its results never
    depend on what it saw before)."""

    enrich: Enrich | None
    features: Features | None = None


_worker: _Worker | None = None


def _install(enrich: Enrich | None) -> None:
    global _worker
    _worker = _Worker(enrich)


def _parse_in_worker(data: bytes, source: str, location: str, content_type: str | None,
                     enrich: Enrich | None = None) -> RawParse:
    """Runs in a worker process (or inline): parse one document to plain tuples, with each
    item's clustering features (the CPU-heavy, state-free part of clustering) and what
    ``enrich`` (default: the worker's own) makes of it."""
    from newswatch.cluster import Params
    from newswatch.cluster_features import Features
    from newswatch.sources.feedparse import parse_feed

    worker = _worker
    if worker is not None:
        enrich = enrich or worker.enrich
        if worker.features is None:
            worker.features = Features(Params())
        features = worker.features
    else:
        features = Features(Params())  # inline: one per feed
    parsed = parse_feed(data, source, location, content_type)
    items = parsed.items
    rows = [(i.source, i.guid, i.title, i.text, i.url, i.published, None,
             _extra(enrich, i.source, i.title, i.text) if enrich is not None else None)
            for i in items]
    packed: PackedFeatures | None = None
    if items:
        packed = _extra(features.stories, [(i.title, i.text) for i in items])
    return parsed.error, parsed.skipped, rows, packed


def _extra(work: Callable[..., Any], *args: Any) -> Any:
    """Work done ahead for the ingest; if it fails, the ingest does it again itself (and
    reports any error there), so it never costs the feed its items."""
    try:
        return work(*args)
    except Exception:
        return None


class ParseQueue:
    """Parses bodies as they arrive, in a process pool started on the second body.

    The first body is held until a second one arrives (then both go to the pool) or
    until every fetch has finished (then it is parsed inline): one body never pays
    for a pool, no body never imports feedparser."""

    def __init__(self, workers: int | None, fetches: int, enrich: Enrich | None = None
                 ) -> None:
        self._workers = workers or os.cpu_count() or 1
        self._enrich = enrich
        self._fetching = fetches
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._broken = False
        self._held: tuple[ParseArgs, asyncio.Future[RawParse]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def finish_nowait(self) -> None:
        """A fetch ended without a body to parse."""
        self._fetching -= 1
        if self._fetching == 0 and self._held is not None:
            args, future = self._held
            self._held = None
            self._spawn(self._settle(future, self._inline(args)))

    async def finish(self, args: ParseArgs) -> RawParse:
        """A fetch ended with a body: parse it (in the pool when there is one)."""
        self._fetching -= 1
        if self._pool is None and not self._broken:
            if self._held is None:
                if self._fetching == 0 or self._workers <= 1:
                    return await self._inline(args)
                future: asyncio.Future[RawParse] = asyncio.get_running_loop().create_future()
                self._held = (args, future)
                return await future
            held_args, held_future = self._held
            self._held = None
            self._start_pool()
            self._spawn(self._settle(held_future, self._parse(held_args)))
        return await self._parse(args)

    async def _parse(self, args: ParseArgs) -> RawParse:
        if self._pool is None or self._broken:
            return await self._inline(args)
        try:
            with warnings.catch_warnings():  # 3.12+ warns on fork with threads; workers are pure
                warnings.simplefilter("ignore", DeprecationWarning)
                submitted = self._pool.submit(_parse_in_worker, *args)  # first submit forks
            return await asyncio.wrap_future(submitted)
        except (concurrent.futures.process.BrokenProcessPool, OSError, RuntimeError):
            self._broken = True  # a worker died or the pool could not start: parse here
            return await self._inline(args)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)  # keep a reference until done
        task.add_done_callback(self._tasks.discard)

    async def _inline(self, args: ParseArgs) -> RawParse:
        return await asyncio.to_thread(_parse_in_worker, *args, self._enrich)

    @staticmethod
    async def _settle(future: asyncio.Future[RawParse], work: Awaitable[RawParse]) -> None:
        try:
            value = await work
        except Exception as exc:  # hand the failure to the fetch that waits for it
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(value)

    def _start_pool(self) -> None:
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        if method not in multiprocessing.get_all_start_methods():
            method = "spawn"
        if method == "fork":  # import the parser once here; forked workers inherit it
            import newswatch.cluster_features  # noqa: F401
            import newswatch.sources.feedparse  # noqa: F401
        # forked workers inherit the enrich function in memory; a spawned one would need
        # it pickled, so it leaves the work to the parent
        enrich = self._enrich if method == "fork" else None
        try:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self._workers, mp_context=multiprocessing.get_context(method),
                initializer=_install, initargs=(enrich,))
        except (OSError, ValueError, NotImplementedError):
            self._broken = True

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
