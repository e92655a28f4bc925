"""Headless outputs: JSON lines or text on stdout, a command per alert, a signed webhook.

A sink's ``send`` returns True once the alert is delivered; False leaves the alert
unemitted so the next pass tries again (at-least-once for sinks that fail)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from typing import IO, Any, Protocol

import orjson

from newswatch.controls import printable
from newswatch.errors import UserError

log = logging.getLogger("newswatch")

SIGNATURE_HEADER = "X-Newswatch-Signature"


class Sink(Protocol):
    name: str

    def send(self, alert: Mapping[str, Any], payload: bytes) -> bool: ...


class StdoutSink:
    """One alert per line, flushed per line: JSON (default) or text for people."""

    name = "stdout"

    def __init__(self, stream: IO[bytes], fmt: str = "json") -> None:
        self.stream = stream
        self.fmt = fmt

    def send(self, alert: Mapping[str, Any], payload: bytes) -> bool:
        if self.fmt == "text":
            story = alert["story"]
            size = alert["cluster"]["size"] if alert.get("cluster") else 1
            line = (f"{alert['created']}  {alert['severity']:8}  {alert['watchlist']}/"
                    f"{alert['rule']}  {printable(story.get('title') or '')}  "
                    f"[{story.get('source')}"
                    f"{f', {size} stories' if size > 1 else ''}]"
                    f"{'  ' + story['url'] if story.get('url') else ''}\n").encode()
        else:
            line = payload + b"\n"
        self.stream.write(line)
        self.stream.flush()
        return True


def alert_env(alert: Mapping[str, Any]) -> dict[str, str]:
    story = alert["story"]
    return {
        "NEWSWATCH_ALERT_ID": alert["id"],
        "NEWSWATCH_WATCHLIST": alert["watchlist"],
        "NEWSWATCH_RULE": alert["rule"],
        "NEWSWATCH_SEVERITY": alert["severity"],
        "NEWSWATCH_TITLE": story.get("title") or "",
        "NEWSWATCH_URL": story.get("url") or "",
        "NEWSWATCH_SOURCE": story.get("source") or "",
        "NEWSWATCH_STORY_ID": story["id"],
        "NEWSWATCH_CLUSTER_ID": (alert.get("cluster") or {}).get("id") or "",
    }


class ExecSink:
    """Run a shell command per alert: the JSON on stdin, the main fields in NEWSWATCH_*."""

    name = "exec"

    def __init__(self, command: str, timeout_s: float = 30.0) -> None:
        self.command = command
        self.timeout_s = timeout_s

    def send(self, alert: Mapping[str, Any], payload: bytes) -> bool:
        env = dict(os.environ, **alert_env(alert))
        try:
            # its own process group: a timeout kills the whole command (not just the
            # shell, which would leave its children running while the alert is retried),
            # and a Ctrl-C meant for newswatch does not cut the command in flight
            proc = subprocess.Popen(["/bin/sh", "-c", self.command], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                    start_new_session=True)
        except OSError as exc:
            log.warning("exec %r: %s; will retry", self.command, exc)
            return False
        try:
            _, stderr = proc.communicate(payload, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            log.warning("exec %r: timed out after %g s on alert %s; will retry",
                        self.command, self.timeout_s, alert["id"])
            return False
        if proc.returncode != 0:
            err = stderr.decode(errors="replace").strip().splitlines()
            log.warning("exec %r: exit %d on alert %s%s; will retry", self.command,
                        proc.returncode, alert["id"], f" ({err[-1]})" if err else "")
            return False
        return True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def sign(secret: str, payload: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def check_webhook_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host and a valid port, else a UserError."""
    import httpx

    try:
        parsed = httpx.URL(url)
        problem = ("not an http(s) URL" if parsed.scheme not in ("http", "https")
                   else "no host" if not parsed.host
                   else "port out of range" if parsed.port is not None
                   and not 0 < parsed.port < 65536 else None)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        problem = str(exc) or "not a valid URL"
    if problem:
        raise UserError(f"--webhook {url!r}: {problem}")
    return url


class WebhookSink:
    """POST the alert JSON; HMAC-SHA256 signature header when a secret is set; a few
    retries with exponential backoff inside one pass, then the next pass retries."""

    name = "webhook"

    def __init__(self, url: str, secret: str | None = None, timeout_s: float = 5.0,
                 attempts: int = 3, backoff_s: float = 0.5,
                 stop: threading.Event | None = None) -> None:
        import httpx

        self.url = check_webhook_url(url)
        self.secret = secret
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.stop = stop or threading.Event()  # set: no more retries (SIGTERM)
        self.client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def send(self, alert: Mapping[str, Any], payload: bytes) -> bool:
        import httpx

        headers = {"Content-Type": "application/json", "User-Agent": "newswatch"}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, payload)
        for attempt in range(self.attempts):
            try:
                response = self.client.post(self.url, content=payload, headers=headers)
                if response.status_code < 300:
                    return True
                reason = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code != 429:
                    log.warning("webhook %s: %s on alert %s; will retry next pass",
                                self.url, reason, alert["id"])
                    return False
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if attempt + 1 < self.attempts and self.stop.wait(self.backoff_s * 2 ** attempt):
                break  # stopping: the next run retries
        log.warning("webhook %s: %s on alert %s after %d attempt(s); will retry next pass",
                    self.url, reason, alert["id"], attempt + 1)
        return False


def encode(alert: Mapping[str, Any]) -> bytes:
    return orjson.dumps(alert)
