"""One HTTP GET of a feed with aiohttp: conditional headers, a total deadline, a size cap,
the per-host limit that opens connections a few at a time, and one-line failure reasons."""

from __future__ import annotations

import asyncio
import os
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from newswatch.models import FeedState

if TYPE_CHECKING:
    import aiohttp

    from newswatch.sources.fetch import FetchSettings


class FetchError(Exception):
    """A one-line reason why a single feed could not be fetched."""


class Host:
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
class Download:
    status: int
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None


async def download(session: aiohttp.ClientSession, url: str, old: FeedState,
                   settings: FetchSettings) -> Download:
    headers: dict[str, str] = {}
    if old.etag:
        headers["If-None-Match"] = old.etag
    if old.last_modified:
        headers["If-Modified-Since"] = old.last_modified
    async with asyncio.timeout(settings.total_timeout), \
            session.get(url, headers=headers,  # aiohttp counts the redirect it refuses
                        max_redirects=settings.max_redirects + 1) as response:
        status = response.status
        if not 200 <= status < 300:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) <= 65536:
                await response.read()  # a fully read response keeps its connection alive
            if status == 304:  # a 304 may carry fresh validators
                return Download(304, etag=response.headers.get("ETag"),
                                last_modified=response.headers.get("Last-Modified"))
            raise FetchError(f"HTTP {status} {response.reason or ''}".strip())
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > settings.max_bytes:
            raise FetchError(f"response larger than {_size(settings.max_bytes)}")
        chunks: list[bytes] = []
        total = 0
        async for chunk in response.content.iter_chunked(65536):  # decompressed bytes
            total += len(chunk)
            if total > settings.max_bytes:
                raise FetchError(f"response larger than {_size(settings.max_bytes)}")
            chunks.append(chunk)
        return Download(status, b"".join(chunks), response.headers.get("ETag"),
                        response.headers.get("Last-Modified"),
                        response.headers.get("Content-Type"))


def describe_error(exc: BaseException, settings: FetchSettings) -> str:
    """One line naming why a fetch failed."""
    import aiohttp

    if isinstance(exc, FetchError):
        return one_line(str(exc))
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return f"connect timed out after {settings.connect_timeout:g} s"
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return f"timed out after {settings.read_timeout:g} s"
    if isinstance(exc, TimeoutError):  # the asyncio.timeout total deadline
        return f"timed out after {settings.total_timeout:g} s (total)"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return "not an http(s) URL: newswatch fetches http and https only"
    if isinstance(exc, aiohttp.InvalidURL):
        return one_line(f"bad URL: {exc}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc, aiohttp.ClientConnectorDNSError) or isinstance(
                exc.os_error, socket.gaierror):
            return f"could not resolve host {exc.host}"
        if isinstance(exc.os_error, ConnectionRefusedError):
            return "connection refused"
        return one_line(f"could not connect: {exc.os_error or exc}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection closed without a response"
    if isinstance(exc, aiohttp.ClientPayloadError):
        text = " ".join(str(c) for c in _chain(exc))
        if "encoding" in text.lower() or "decompress" in text.lower():
            return one_line(f"could not decode response: {exc}")
        return "response truncated: connection closed before the end of the body"
    if isinstance(exc, aiohttp.ClientOSError | aiohttp.ClientConnectionError):
        return one_line(f"connection failed: {exc or type(exc).__name__}")
    if isinstance(exc, aiohttp.ClientResponseError):
        return one_line(f"protocol error: {exc.message or exc}")
    return one_line(f"{type(exc).__name__}: {exc}")


def connect_errors() -> tuple[type[Exception], ...]:
    import aiohttp

    return aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out and len(out) < 10:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def env_matters() -> bool:
    """Whether the environment configures a proxy or holds a netrc file: only then is it
    worth aiohttp's ``trust_env``, which otherwise costs every request a thread-pool hop to
    look for a netrc file that is not there."""
    if urllib.request.getproxies_environment():
        return True
    if os.environ.get("NETRC"):
        return True
    try:
        return (Path.home() / ".netrc").exists()
    except (RuntimeError, OSError):  # no home directory to look in
        return False


def host_key(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port}"
    except ValueError:
        return url


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"
