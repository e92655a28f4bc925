"""A real HTTP server on 127.0.0.1 for feed tests, with routes registered per test.

    url = feed_server.route("/a.xml", body=rss_feed(...), etag='"v1"')
    url = feed_server.route("/slow", body=b"...", delay=3)       # answers late
    url = feed_server.route("/huge", endless=True)                # never stops sending
    url = feed_server.route("/loop", status=302, redirect_to="/loop")

Handlers never block shutdown: delays wait on a stop event and writes to a client that
has gone away are ignored."""

from __future__ import annotations

import gzip as gzip_module
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    etag: str | None = None  # answer 304 when If-None-Match matches
    last_modified: str | None = None  # answer 304 when If-Modified-Since is not older
    gzip: bool = False  # send the body gzip-encoded
    endless: bool = False  # send body, then filler forever (no Content-Length)
    trickle: float = 0.0  # with endless: pause between chunks
    redirect_to: str | None = None  # Location header (use a 3xx status)
    drop: bool = False  # close the connection without answering
    truncate: bool = False  # promise the whole body, send half, close


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, owner: FeedServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        with owner.lock:
            owner.hits[path] += 1
            owner.requests.setdefault(path, []).append(dict(self.headers.items()))
            route = owner.routes.get(path)
        try:
            self._answer(route, owner.stopping)
        except OSError:  # the client went away (timeout, size cap): nothing to do
            self.close_connection = True

    def _answer(self, route: Route | None, stopping: threading.Event) -> None:
        if route is None:
            return self._send(404, b"not found", "text/plain")
        if route.delay and stopping.wait(route.delay):
            self.close_connection = True
            return None
        if route.drop:
            self.close_connection = True
            return None
        if self._not_modified(route):
            extra = {k: v for k, v in (("ETag", route.etag),
                                       ("Last-Modified", route.last_modified)) if v}
            return self._send(304, b"", None, extra)
        extra = dict(route.headers)
        if route.etag:
            extra["ETag"] = route.etag
        if route.last_modified:
            extra["Last-Modified"] = route.last_modified
        if route.redirect_to:
            extra["Location"] = route.redirect_to
        body = route.body
        if route.gzip:
            body = gzip_module.compress(body)
            extra["Content-Encoding"] = "gzip"
        if route.endless:
            return self._send_endless(route, body, extra, stopping)
        if route.truncate:
            self._head(route.status, route.content_type, extra, len(body))
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return None
        return self._send(route.status, body, route.content_type, extra)

    def _not_modified(self, route: Route) -> bool:
        match = self.headers.get("If-None-Match")
        if route.etag and match:
            return route.etag in (tag.strip() for tag in match.split(","))
        since = self.headers.get("If-Modified-Since")
        if route.last_modified and since:
            try:
                return parsedate_to_datetime(since) >= parsedate_to_datetime(route.last_modified)
            except (TypeError, ValueError):
                return False
        return False

    def _head(self, status: int, content_type: str | None, extra: dict[str, str],
              length: int | None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()

    def _send(self, status: int, body: bytes, content_type: str | None,
              extra: dict[str, str] | None = None) -> None:
        self._head(status, content_type, extra or {}, len(body))
        if body:
            self.wfile.write(body)

    def _send_endless(self, route: Route, body: bytes, extra: dict[str, str],
                      stopping: threading.Event) -> None:
        extra["Connection"] = "close"
        self.close_connection = True
        self._head(route.status, route.content_type, extra, None)
        self.wfile.write(body)
        chunk = b"<item><title>filler</title></item>\n" * 2048
        while not stopping.is_set():
            self.wfile.write(chunk)
            if route.trickle and stopping.wait(route.trickle):
                return


class FeedServer:
    """Routes, hit counts and request headers, served from a background thread."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.requests: dict[str, list[dict[str, str]]] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, **options: object) -> str:
        """Serve ``path`` as described by :class:`Route` keywords; returns its URL."""
        with self.lock:
            self.routes[path] = Route(**options)  # type: ignore[arg-type]
        return self.url(path)

    def last_headers(self, path: str) -> dict[str, str]:
        """The headers of the latest request for ``path``, keys lowercased."""
        with self.lock:
            return {k.lower(): v for k, v in self.requests[path][-1].items()}

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def closed_port() -> int:
    """A local port with nothing listening on it (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_date(stamp: float | None = None) -> str:
    return formatdate(time.time() if stamp is None else stamp, usegmt=True)


def rss_feed(items: list[dict[str, str]], title: str = "Test RSS") -> bytes:
    """RSS 2.0 with <item>s built from dicts (title, link, guid, pubDate, description)."""
    parts = []
    for item in items:
        fields = "".join(
            f"<guid isPermaLink='false'>{escape(v)}</guid>" if k == "guid"
            else f"<{k}>{escape(v)}</{k}>" for k, v in item.items())
        parts.append(f"<item>{fields}</item>")
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>"
            f"<description>test</description>{''.join(parts)}</channel></rss>").encode()


def atom_feed(entries: list[dict[str, str]], title: str = "Test Atom") -> bytes:
    """Atom 1.0 with <entry>s built from dicts (id, title, link, updated, summary)."""
    parts = []
    for entry in entries:
        fields = "".join(
            f"<link href='{escape(v)}'/>" if k == "link" else f"<{k}>{escape(v)}</{k}>"
            for k, v in entry.items())
        parts.append(f"<entry>{fields}</entry>")
    return (f"<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            f"<title>{escape(title)}</title><id>urn:test:feed</id>"
            f"<updated>2025-03-18T20:00:00Z</updated>{''.join(parts)}</feed>").encode()


HTML_PAGE = b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>hi</p></body></html>"
