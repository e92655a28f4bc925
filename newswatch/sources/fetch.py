"""Fetch and parse feed URLs concurrently, in worker processes that each fetch and parse.

``fetch_feeds`` and ``iter_feeds`` never raise for network or feed problems; each source
gets one :class:`SourceResult` whose ``error`` is a one-line reason.

Parsing a feed (and computing its items' clustering features and watchlist matches) is the
CPU-heavy part, so on a machine with several cores the feeds are shared out among forked
worker processes: each runs its own event loop and HTTP client, takes the next feed when it
has room, parses what it fetched, and sends the parent plain tuples. The parent process
only stores and clusters, so it never competes with the fetching for its interpreter lock.
A worker that dies leaves its unreported feeds to the parent, which fetches them itself.
With one core, one feed, or no ``fork`` (macOS, Windows), everything runs in one thread of
the calling process, parsing off the event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import multiprocessing
import os
import queue
import signal
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from newswatch.models import FeedState, Item
from newswatch.sources import SourceResult, SourceSpec
from newswatch.sources.download import FetchError, describe_error
from newswatch.sources.fetchloop import Report, serve
from newswatch.sources.parsing import Enrich, RawParse, Worker, parse_body

__all__ = ["FetchError", "FetchSettings", "describe_error", "fetch_feeds", "iter_feeds"]


@dataclass(frozen=True, slots=True)
class FetchSettings:
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 32  # requests in flight, all workers together
    per_host: int = 8  # requests in flight to one host, all workers together
    workers: int | None = None  # processes that fetch and parse; None = os.cpu_count()
    user_agent: str = "newswatch/0.1 (+https://github.com/newswatch)"


WORKER_NICE = 5  # fetch workers' niceness above the calling process



def fetch_feeds(specs: list[SourceSpec], states: dict[str, FeedState],
                settings: FetchSettings = FetchSettings(), enrich: Enrich | None = None
                ) -> list[SourceResult]:
    """Fetch and parse every feed URL in ``specs``; one result per spec, in order.

    ``states`` maps a URL to what the feed told us last time (for conditional GET);
    each result carries the updated :class:`FeedState`. ``enrich(source, title, text)``
    runs on each item where it is parsed; its result is the item's ``prematch``."""
    position = {id(spec): k for k, spec in enumerate(specs)}
    return sorted((r for r in iter_feeds(specs, states, settings, enrich) if r is not None),
                  key=lambda r: position[id(r.spec)])


def iter_feeds(specs: list[SourceSpec], states: dict[str, FeedState],
               settings: FetchSettings = FetchSettings(), enrich: Enrich | None = None,
               lulls: bool = False) -> Iterator[SourceResult | None]:
    """Like :func:`fetch_feeds`, but yield each feed's result as soon as it is parsed (in
    completion order) while the others are still fetched: the caller can store and
    cluster early feeds meanwhile. With ``lulls``, also yield None when no result is
    ready (once per wait): the caller may use the time rather than wait."""
    if not specs:
        return
    workers = min(settings.workers or os.cpu_count() or 1, len(specs))
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        yield from _in_processes(specs, states, settings, enrich, workers, lulls)
    else:
        yield from _in_thread(specs, states, settings, enrich, lulls)


def _result(spec: SourceSpec, report: Report) -> SourceResult:
    _, error, skipped, not_modified, state, rows, packed = report
    features = packed.unpack() if packed is not None else [None] * len(rows)
    items = [Item(*row[:6], f, *row[7:]) for row, f in zip(rows, features, strict=True)]
    return SourceResult(spec=spec, items=items, error=error,
                        skipped=[f"{spec.url}: {line}" for line in skipped],
                        not_modified=not_modified, feed_state=state)


LULL_TICK_S = 0.25


def _arrivals(source: queue.SimpleQueue[Any], lulls: bool) -> Iterator[Any]:
    """What arrives on ``source``, as it arrives; with ``lulls``, a None whenever nothing
    is ready, and again every LULL_TICK_S of a long wait (so the consumer can stop
    waiting for a feed that hangs)."""
    while True:
        try:
            yield source.get_nowait()
            continue
        except queue.Empty:
            pass
        if not lulls:
            yield source.get()
            continue
        yield None
        while True:
            try:
                got = source.get(timeout=LULL_TICK_S)
                break
            except queue.Empty:
                yield None
        yield got


# ------------------------------------------------------------------ in this process

_END = object()


def _in_thread(specs: Sequence[SourceSpec], states: dict[str, FeedState],
               settings: FetchSettings, enrich: Enrich | None, lulls: bool = False
               ) -> Iterator[SourceResult | None]:
    """Everything in one event loop on a thread of this process (parsing in a second
    thread, so the loop keeps reading while a big feed is parsed)."""
    results: queue.SimpleQueue[Any] = queue.SimpleQueue()
    worker = Worker(enrich)
    order = iter(range(len(specs)))
    parser = concurrent.futures.ThreadPoolExecutor(1, "newswatch-parse")  # one: the worker's
    # caches are not for sharing, and parsing holds the interpreter lock anyway

    async def parse(args: tuple[bytes, str, str, str | None]) -> RawParse:
        return await asyncio.get_running_loop().run_in_executor(parser, parse_body, *args,
                                                                worker)

    def run() -> None:
        try:
            asyncio.run(serve(specs, states, settings, lambda: next(order, None), parse,
                               results.put))
        except BaseException as exc:  # handed to the consumer, raised there
            results.put(exc)
        finally:
            results.put(_END)

    thread = threading.Thread(target=run, name="newswatch-fetch", daemon=True)
    thread.start()
    ended = False
    try:
        for got in _arrivals(results, lulls):
            if got is None:
                yield None
                continue
            if got is _END:
                ended = True
                break
            if isinstance(got, BaseException):
                ended = True
                raise got
            yield _result(specs[got[0]], got)
    finally:
        if ended:
            thread.join()
            parser.shutdown()
        else:  # our consumer stopped early (a cancelled poll): a feed that hangs is not
            # waited for; the thread ends at its timeouts, writing nothing anyone reads
            parser.shutdown(wait=False, cancel_futures=True)


# ------------------------------------------------------------------ in worker processes

def _in_processes(specs: Sequence[SourceSpec], states: dict[str, FeedState],
                  settings: FetchSettings, enrich: Enrich | None, workers: int,
                  lulls: bool = False) -> Iterator[SourceResult | None]:
    ctx = multiprocessing.get_context("fork")
    _preload(specs, states)
    share = dataclasses.replace(settings, workers=1,
                                concurrency=max(1, settings.concurrency // workers),
                                per_host=max(1, settings.per_host // workers))
    counter = ctx.Value("q", 0)  # the next spec to take, shared by the workers
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    procs: list[Any] = []
    done: set[int] = set()
    running = 0
    try:
        with warnings.catch_warnings():  # 3.12+ warns on fork with threads; workers are pure
            warnings.simplefilter("ignore", DeprecationWarning)
            for k in range(workers):
                # a pipe per worker, its write end held by that worker alone (made after
                # the earlier workers were forked, closed here once it is forked): when
                # the worker dies, even mid-message, its relay reads EOF
                read, write = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_work, name=f"newswatch-fetch-{k}", daemon=True,
                                   args=(specs, states, share, enrich, counter, write))
                try:
                    proc.start()
                except OSError:  # no more processes to be had: the others (or we) do it
                    read.close()
                    write.close()
                    break
                procs.append(proc)
                write.close()
                running += 1
                threading.Thread(target=_relay, args=(read, inbox), daemon=True,
                                 name=f"{proc.name}-relay").start()
        for report in _arrivals(inbox, lulls) if running else ():
            if report is None:
                yield None
                continue
            if report is _END:
                running -= 1
                if not running:
                    break
                continue
            done.add(report[0])
            yield _result(specs[report[0]], report)
    finally:  # all reported (or dead); or our consumer stopped early: stop the workers
        for proc in procs:
            if running and proc.is_alive():
                proc.terminate()
            if proc.pid is not None:
                proc.join()
    missing = [spec for k, spec in enumerate(specs) if k not in done]
    if missing:  # a worker died: what it did not report is fetched here
        yield from _in_thread(missing, states, settings, enrich, lulls)


def _relay(read: Any, inbox: queue.SimpleQueue[Any]) -> None:
    """Move one worker's reports to the inbox; _END when it is done or dead."""
    try:
        while (report := read.recv()) is not None:
            inbox.put(report)
    except (EOFError, OSError):  # the worker is gone (killed: what it had not sent is lost)
        pass
    finally:
        read.close()
        inbox.put(_END)


def _preload(specs: Sequence[SourceSpec], states: dict[str, FeedState]) -> None:
    """Import here, once, what the forked workers will need, rather than in each of them:
    aiohttp always; the parser and the clustering features when some feed was never fetched
    (it will need parsing; a run where every feed answers 304 never loads them)."""
    import aiohttp  # noqa: F401

    if any(not (s := states.get(spec.url or "")) or not (s.etag or s.last_modified)
           for spec in specs):
        import newswatch.cluster_features  # noqa: F401
        import newswatch.sources.feedparse  # noqa: F401


def _work(specs: Sequence[SourceSpec], states: dict[str, FeedState], settings: FetchSettings,
          enrich: Enrich | None, counter: Any, write: Any) -> None:
    """A worker process: fetch and parse feeds until none is left, report each (a thread
    sends the reports, so fetching never waits for the parent to read)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    # ... with SIGTERM, which must end us: not run the handler a headless parent installed
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # below the process that stores and shows what we send: when both want the CPU, it
    # goes first, so stories are stored as they come instead of piling up for the end
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)
    worker = Worker(enrich)
    outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def send() -> None:
        while True:
            report = outbox.get()
            write.send(report)
            if report is None:
                return

    sender = threading.Thread(target=send, name="newswatch-send")
    sender.start()

    def take() -> int | None:
        lock = counter.get_lock()
        if not lock.acquire(timeout=5):  # held by a worker that was killed: stop here
            return None
        try:
            k = counter.value
            if k >= len(specs):
                return None
            counter.value = k + 1
            return k
        finally:
            lock.release()

    async def parse(args: tuple[bytes, str, str, str | None]) -> RawParse:
        return parse_body(*args, worker)

    try:
        asyncio.run(serve(specs, states, settings, take, parse, outbox.put))
    except Exception:  # noqa: S110 - a bug: the parent fetches our feeds again and reports it
        pass
    finally:
        outbox.put(None)
        sender.join()
        write.close()
