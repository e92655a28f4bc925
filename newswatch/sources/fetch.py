"""Fetch feed URLs concurrently: conditional GET, timeouts, a size cap, parsing in processes.

``fetch_feeds`` and ``iter_feeds`` never raise for network or feed problems; each source
gets one :class:`SourceResult` whose ``error`` is a one-line reason. httpx and feedparser
are imported only when needed, so an all-304 run never loads the parser nor starts
workers."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import queue
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from newswatch.models import FeedState, Item, utc_now
from newswatch.sources import SourceResult, SourceSpec
from newswatch.sources.parsing import Enrich, ParseQueue

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True, slots=True)
class FetchSettings:
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 32
    per_host: int = 8
    parse_workers: int | None = None  # None = os.cpu_count()
    user_agent: str = "newswatch/0.1 (+https://github.com/newswatch)"


class FetchError(Exception):
    """A one-line reason why a single feed could not be fetched."""


class _Host:
    """Per-host limit that starts low and grows with each answered request.

    New connections open a few at a time, so a burst of SYNs cannot overflow a small
    listen backlog (a dropped SYN costs a 1 s retransmit); a host that refused the
    connection is not tried again in the same run."""

    START = 2

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.capacity = min(self.limit, self.START)
        self.sem = asyncio.Semaphore(self.capacity)
        self.reached = False
        self.dead: str | None = None

    def grow(self) -> None:
        self.reached = True
        if self.capacity < self.limit:
            self.capacity += 1
            self.sem.release()  # one more permit: the semaphore is deliberately unbounded


@dataclass(slots=True)
class _Download:
    status: int
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None


def fetch_feeds(specs: list[SourceSpec], states: dict[str, FeedState],
                settings: FetchSettings = FetchSettings(), enrich: Enrich | None = None
                ) -> list[SourceResult]:
    """Fetch and parse every feed URL in ``specs``; one result per spec, in order.

    ``states`` maps a URL to what the feed told us last time (for conditional GET);
    each result carries the updated :class:`FeedState`. ``enrich(source, title, text)``
    runs on each item where it is parsed (a worker process); its result is the item's
    ``prematch``."""
    position = {id(spec): k for k, spec in enumerate(specs)}
    return sorted(iter_feeds(specs, states, settings, enrich),
                  key=lambda r: position[id(r.spec)])


_END = object()


def iter_feeds(specs: list[SourceSpec], states: dict[str, FeedState],
               settings: FetchSettings = FetchSettings(), enrich: Enrich | None = None
               ) -> Iterator[SourceResult]:
    """Like :func:`fetch_feeds`, but yield each feed's result as soon as it is parsed (in
    completion order) while the others are still fetched, on an event loop in a thread
    of its own: the caller can store and cluster early feeds meanwhile."""
    if not specs:
        return
    results: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def run() -> None:
        try:
            asyncio.run(_fetch_all(specs, states, settings, results.put, enrich))
        except BaseException as exc:  # handed to the consumer, raised there
            results.put(exc)
        finally:
            results.put(_END)

    thread = threading.Thread(target=run, name="newswatch-fetch", daemon=True)
    thread.start()
    try:
        while (got := results.get()) is not _END:
            if isinstance(got, BaseException):
                raise got
            yield got
    finally:
        thread.join()


async def _fetch_all(specs: list[SourceSpec], states: dict[str, FeedState],
                     settings: FetchSettings, done: Callable[[SourceResult], None],
                     enrich: Enrich | None) -> None:
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        # httpcore retries ``import sniffio`` on every request; a missing module costs a
        # sys.path scan each time. A None entry makes the retry fail at once.
        sys.modules["sniffio"] = None  # type: ignore[assignment]
    import httpx

    timeout = httpx.Timeout(connect=settings.connect_timeout, read=settings.read_timeout,
                            write=settings.read_timeout, pool=None)
    limits = httpx.Limits(max_connections=max(1, settings.concurrency),
                          max_keepalive_connections=max(1, settings.concurrency))
    overall = asyncio.Semaphore(max(1, settings.concurrency))
    hosts: dict[str, _Host] = {}
    parser = ParseQueue(settings.parse_workers, len(specs), enrich)
    headers = {"User-Agent": settings.user_agent,
               "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
                         "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"}

    async def one(client: httpx.AsyncClient, spec: SourceSpec) -> None:
        done(await _fetch_one(client, spec, states.get(spec.url or ""), settings, overall,
                              hosts, parser))

    try:
        async with httpx.AsyncClient(timeout=timeout, limits=limits, headers=headers,
                                     follow_redirects=True,
                                     max_redirects=settings.max_redirects) as client:
            await asyncio.gather(*(one(client, spec) for spec in specs))
    finally:
        parser.close()


async def _fetch_one(client: httpx.AsyncClient, spec: SourceSpec, state: FeedState | None,
                     settings: FetchSettings, overall: asyncio.Semaphore,
                     hosts: dict[str, _Host], parser: ParseQueue) -> SourceResult:
    url = spec.url or ""
    old = state if state is not None else FeedState(url=url)
    result = SourceResult(spec=spec)
    download: _Download | None = None
    key = _host_key(url)
    host = hosts.get(key)
    if host is None:
        host = hosts[key] = _Host(settings.per_host)
    try:
        async with overall, host.sem:
            if host.dead:  # an earlier fetch in this run could not connect to this host
                raise FetchError(host.dead)
            download = await _download(client, url, old, settings)
            host.grow()
    except asyncio.CancelledError:
        parser.finish_nowait()
        raise
    except Exception as exc:  # every failure becomes a one-line reason for this feed only
        result.error = describe_error(exc, settings)
        if not host.reached and isinstance(exc, _connect_errors()):
            host.dead = result.error
    if download is None or download.status == 304:
        parser.finish_nowait()
        if download is not None:
            result.not_modified = True
            result.feed_state = _succeeded(old, download.etag or old.etag,
                                           download.last_modified or old.last_modified)
        else:
            result.feed_state = _failed(old, result.error or "unknown error")
        return result
    try:
        error, skipped, rows, packed = await parser.finish((download.body, spec.name, url,
                                                            download.content_type))
    except Exception as exc:  # parse_feed should not raise; if it does, only this feed fails
        error, skipped, rows = f"feed parser failed: {type(exc).__name__}: {exc}", [], []
        packed = None
    result.skipped = skipped
    if error:
        result.error = _one_line(error)
        result.feed_state = _failed(old, result.error)  # keep validators: retry fully next time
    else:
        features = packed.unpack() if packed is not None else [None] * len(rows)
        result.items = [Item(*row[:6], f, row[7]) for row, f in zip(rows, features, strict=True)]
        result.feed_state = _succeeded(old, download.etag, download.last_modified)
    return result


async def _download(client: httpx.AsyncClient, url: str, old: FeedState,
                    settings: FetchSettings) -> _Download:
    headers: dict[str, str] = {}
    if old.etag:
        headers["If-None-Match"] = old.etag
    if old.last_modified:
        headers["If-Modified-Since"] = old.last_modified
    async with asyncio.timeout(settings.total_timeout), \
            client.stream("GET", url, headers=headers) as response:
        status = response.status_code
        if not 200 <= status < 300:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) <= 65536:
                await response.aread()  # a fully read response keeps its connection alive
            if status == 304:  # a 304 may carry fresh validators
                return _Download(304, etag=response.headers.get("etag"),
                                 last_modified=response.headers.get("last-modified"))
            raise FetchError(f"HTTP {status} {response.reason_phrase}".strip())
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.max_bytes:
            raise FetchError(f"response larger than {_size(settings.max_bytes)}")
        chunks: list[bytes] = []
        total = 0
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > settings.max_bytes:
                raise FetchError(f"response larger than {_size(settings.max_bytes)}")
            chunks.append(chunk)
        return _Download(status, b"".join(chunks), response.headers.get("etag"),
                         response.headers.get("last-modified"),
                         response.headers.get("content-type"))


def describe_error(exc: BaseException, settings: FetchSettings) -> str:
    """One line naming why a fetch failed."""
    import httpx

    if isinstance(exc, FetchError):
        return _one_line(str(exc))
    if isinstance(exc, TimeoutError):  # the asyncio.timeout total deadline
        return f"timed out after {settings.total_timeout:g} s (total)"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timed out after {settings.connect_timeout:g} s"
    if isinstance(exc, httpx.PoolTimeout):
        return "timed out waiting for a connection"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {settings.read_timeout:g} s"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, httpx.ConnectError):
        for cause in _chain(exc):
            if isinstance(cause, ConnectionRefusedError):
                return "connection refused"
            if isinstance(cause, socket.gaierror):
                return f"could not resolve host {urlsplit(str(exc.request.url)).hostname}"
        return _one_line(f"could not connect: {exc}")
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc)
        if "without sending a response" in text or "disconnected" in text:
            return "connection closed without a response"
        if "incomplete" in text or "complete message body" in text:
            return "response truncated: connection closed before the end of the body"
        return _one_line(f"protocol error: {text}")
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return _one_line(f"connection failed: {exc or type(exc).__name__}")
    if isinstance(exc, httpx.DecodingError):
        return _one_line(f"could not decode response: {exc}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return _one_line(f"bad URL: {exc}")
    return _one_line(f"{type(exc).__name__}: {exc}")


def _connect_errors() -> tuple[type[Exception], ...]:
    import httpx

    return httpx.ConnectError, httpx.ConnectTimeout


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out and len(out) < 10:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def _succeeded(old: FeedState, etag: str | None, last_modified: str | None) -> FeedState:
    return dataclasses.replace(old, etag=etag, last_modified=last_modified, last_ok=utc_now(),
                               last_error=None, failures=0)


def _failed(old: FeedState, error: str) -> FeedState:
    return dataclasses.replace(old, last_error=error, failures=old.failures + 1)


def _host_key(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port}"
    except ValueError:
        return url


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"
