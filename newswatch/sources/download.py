"""One HTTP GET of a feed with httpx: conditional headers, a total deadline, a size cap,
the per-host limit that opens connections a few at a time, and one-line failure reasons."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from newswatch.models import FeedState

if TYPE_CHECKING:
    import httpx

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


async def download(client: httpx.AsyncClient, url: str, old: FeedState,
                    settings: FetchSettings) -> Download:
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
                return Download(304, etag=response.headers.get("etag"),
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
        return Download(status, b"".join(chunks), response.headers.get("etag"),
                         response.headers.get("last-modified"),
                         response.headers.get("content-type"))


def describe_error(exc: BaseException, settings: FetchSettings) -> str:
    """One line naming why a fetch failed."""
    import httpx

    if isinstance(exc, FetchError):
        return one_line(str(exc))
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
        return one_line(f"could not connect: {exc}")
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc)
        if "without sending a response" in text or "disconnected" in text:
            return "connection closed without a response"
        if "incomplete" in text or "complete message body" in text:
            return "response truncated: connection closed before the end of the body"
        return one_line(f"protocol error: {text}")
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return one_line(f"connection failed: {exc or type(exc).__name__}")
    if isinstance(exc, httpx.DecodingError):
        return one_line(f"could not decode response: {exc}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return one_line(f"bad URL: {exc}")
    return one_line(f"{type(exc).__name__}: {exc}")


def connect_errors() -> tuple[type[Exception], ...]:
    import httpx

    return httpx.ConnectError, httpx.ConnectTimeout


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out and len(out) < 10:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


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
