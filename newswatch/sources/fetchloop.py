"""One event loop fetching feeds: conditional GET, per-host limits, the size cap and
timeouts (``download``), parsing each body through a given callable, and a report per
feed. ``fetch`` runs it in a thread or in each worker process."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from newswatch.models import FeedState, utc_now
from newswatch.sources import SourceSpec
from newswatch.sources.download import (
    FetchError,
    Host,
    connect_errors,
    describe_error,
    download,
    env_matters,
    host_key,
    one_line,
)

if TYPE_CHECKING:
    import aiohttp

    from newswatch.sources.fetch import FetchSettings

# What a worker reports for one feed: (index of its spec, error, skipped, not modified,
# feed state, item field tuples, packed clustering features).
Report = tuple[int, str | None, list[str], bool, FeedState, list[tuple[Any, ...]], Any]


async def serve(specs: Sequence[SourceSpec], states: dict[str, FeedState],
                 settings: FetchSettings, take: Callable[[], int | None],
                 parse: Callable[[tuple[bytes, str, str, str | None]], Any],
                 report: Callable[[Report], None]) -> None:
    """Fetch feeds (indices from ``take``) until none is left, at most
    ``settings.concurrency`` at a time, and ``report`` each."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=None, sock_connect=settings.connect_timeout,
                                    sock_read=settings.read_timeout)
    connector = aiohttp.TCPConnector(limit=max(1, settings.concurrency), limit_per_host=0)
    room = asyncio.Semaphore(max(1, settings.concurrency))
    hosts: dict[str, Host] = {}
    headers = {"User-Agent": settings.user_agent,
               "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
                         "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"}
    tasks: set[asyncio.Task[None]] = set()

    async def one(client: aiohttp.ClientSession, k: int) -> None:
        try:
            report(await _fetch_one(client, k, specs[k], states.get(specs[k].url or ""),
                                    settings, hosts, parse))
        finally:
            room.release()

    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers,
                                     trust_env=env_matters()) as client:
        while True:
            await room.acquire()
            k = take()
            if k is None:
                break
            task = asyncio.ensure_future(one(client, k))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*list(tasks))


async def _fetch_one(client: aiohttp.ClientSession, k: int, spec: SourceSpec,
                     state: FeedState | None, settings: FetchSettings,
                     hosts: dict[str, Host],
                     parse: Callable[[tuple[bytes, str, str, str | None]], Any]) -> Report:
    url = spec.url or ""
    old = state if state is not None else FeedState(url=url)
    got = None
    error: str | None = None
    key = host_key(url)
    host = hosts.get(key)
    if host is None:
        host = hosts[key] = Host(settings.per_host)
    try:
        async with host.sem:
            if host.dead:  # an earlier fetch in this run could not connect to this host
                raise FetchError(host.dead)
            got = await download(client, url, old, settings)
            host.grow()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # every failure becomes a one-line reason for this feed only
        error = describe_error(exc, settings)
        if not host.reached and isinstance(exc, connect_errors()):
            host.dead = error
    if got is None:
        return k, error, [], False, _failed(old, error or "unknown error"), [], None
    if got.status == 304:
        return (k, None, [], True, _succeeded(old, got.etag or old.etag,
                                              got.last_modified or old.last_modified), [], None)
    try:
        error, skipped, rows, packed = await parse((got.body, spec.name, url,
                                                    got.content_type))
    except Exception as exc:  # parse_body should not raise; if it does, only this feed fails
        error, skipped, rows, packed = (f"feed parser failed: {type(exc).__name__}: {exc}",
                                        [], [], None)
    if error:  # keep the validators: the next run fetches it in full again
        return k, one_line(error), skipped, False, _failed(old, one_line(error)), [], None
    return (k, None, skipped, False, _succeeded(old, got.etag, got.last_modified), rows,
            packed)


def _succeeded(old: FeedState, etag: str | None, last_modified: str | None) -> FeedState:
    return dataclasses.replace(old, etag=etag, last_modified=last_modified, last_ok=utc_now(),
                               last_error=None, failures=0)


def _failed(old: FeedState, error: str) -> FeedState:
    return dataclasses.replace(old, last_error=error, failures=old.failures + 1)
