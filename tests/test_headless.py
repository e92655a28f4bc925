"""`newswatch run --headless` end to end: real feeds from the feed server, a real config
and watchlist on disk, the CLI as a subprocess, real sinks (a shell command, a local HTTP
receiver), real signals. Waits are bounded polls of a condition, never bare sleeps."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from newswatch.alerts import ALERTS, OUTBOX, OUTBOX_BUILT, save_alert
from newswatch.cli import main
from newswatch.clusters import CLUSTERS
from newswatch.config import load_settings
from newswatch.headless import EARLY_EMIT_S, EMITTED, Runner, emit_pending
from newswatch.poller import Poller
from newswatch.sinks import SIGNATURE_HEADER, ExecSink, WebhookSink
from newswatch.store import Store
from tests.feedserver import FeedServer, rss_feed

REPO = Path(__file__).resolve().parent.parent
ENV = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
ENV["PYTHONPATH"] = str(REPO)

# Two reports of the same event (the bundled seeds), and one unrelated story.
SEED_A, SEED_B = (p.read_text(encoding="utf-8") for p in sorted((REPO / "seeds").glob("*.txt")))
STORY_A = {"title": "Trump and Putin agree to seek a limited ceasefire",
           "link": "https://a.example/ceasefire", "guid": "a-1",
           "pubDate": "Tue, 18 Mar 2025 20:00:00 GMT", "description": SEED_A}
STORY_B = {"title": "Putin and Trump agree on a limited ceasefire, White House says",
           "link": "https://b.example/ceasefire", "guid": "b-1",
           "pubDate": "Tue, 18 Mar 2025 21:00:00 GMT", "description": SEED_B}
OTHER = {"title": "Spring floods close river roads", "link": "https://a.example/floods",
         "guid": "a-2", "pubDate": "Tue, 18 Mar 2025 19:00:00 GMT",
         "description": "Heavy rain closed several river roads on Tuesday, officials said."}

WATCHLIST = """\
watchlist: peace
severity: medium
rules:
  - id: ceasefire
    query: ceasefire
    severity: high
"""
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
ALERT_KEYS = {"id", "watchlist", "rule", "severity", "created", "story", "cluster", "matches"}
STORY_KEYS = {"id", "guid", "title", "url", "source", "published"}


class Desk:
    """A config file, a watchlist and a store in tmp_path, fed by the feed server."""

    def __init__(self, root: Path, server: FeedServer, feeds: Mapping[str, list[dict]],
                 watchlist: str = WATCHLIST, interval: str | None = "1s") -> None:
        self.root = root
        self.server = server
        self.db = root / "db.json"
        self.watchlist = root / "watchlists" / "peace.yaml"
        self.watchlist.parent.mkdir(parents=True)
        self.watchlist.write_text(watchlist, encoding="utf-8")
        self.config = root / "newswatch.yaml"
        lines = [f"db: {self.db}", f"watchlists: {self.watchlist.parent}", "sources:"]
        for name, items in feeds.items():
            url = self.serve(name, items)
            every = f", interval: {interval}" if interval else ""
            lines.append(f"  - {{name: {name}, url: '{url}'{every}}}")
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def serve(self, name: str, items: list[dict], **route: Any) -> str:
        return self.server.route(f"/{name}.xml", body=rss_feed(items), **route)

    def run(self, *args: str, timeout: float = 30,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "newswatch.cli", "--config", str(self.config), "run",
               "--headless", "--once", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**ENV, **(env or {})}, cwd=self.root, check=False)

    def store(self) -> Store:
        return Store(self.db)


def lines_of(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def printed(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The alerts a finished `run --headless --once` printed (it must have succeeded)."""
    assert done.returncode == 0, done.stderr
    return lines_of(done.stdout)


def only(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    alerts = printed(done)
    assert len(alerts) == 1, f"{len(alerts)} alerts printed; stderr:\n{done.stderr}"
    return alerts[0]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    assert main(list(args)) == 0
    return lines_of(capsys.readouterr().out)


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition"
             ) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def write_atomically(path: Path, text: str) -> None:
    """Like an editor's save: a new file renamed over the old one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- JSON lines


def test_once_prints_spec_shaped_json_lines_and_a_restart_prints_nothing(
        tmp_path: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]) -> None:
    desk = Desk(tmp_path, feed_server, {"wire": [STORY_A, OTHER]})
    done = desk.run()
    assert done.returncode == 0, done.stderr
    alerts = lines_of(done.stdout)
    assert len(alerts) == 1  # the flood story matches nothing
    alert = alerts[0]
    assert set(alert) == ALERT_KEYS
    assert set(alert["story"]) == STORY_KEYS
    assert (alert["watchlist"], alert["rule"], alert["severity"]) == ("peace", "ceasefire",
                                                                       "high")
    assert alert["created"].endswith("Z") and alert["created"][:4].isdigit()
    assert alert["story"] | {"id": None} == {
        "id": None, "guid": "a-1", "title": STORY_A["title"], "url": STORY_A["link"],
        "source": "wire", "published": "2025-03-18T20:00:00Z"}
    assert alert["cluster"] is None or (set(alert["cluster"]) == {"id", "size"}
                                        and alert["cluster"]["size"] == 1)
    assert alert["matches"] and all(set(m) == {"field", "start", "end", "text"}
                                    for m in alert["matches"])
    assert {m["text"].lower() for m in alert["matches"]} == {"ceasefire"}
    # the spans point into the stored title and text
    (story,) = [s for s in cli(capsys, "--db", str(desk.db), "stories", "--json")
                if s["id"] == alert["story"]["id"]]
    for m in alert["matches"]:
        assert story[m["field"]][m["start"]:m["end"]] == m["text"]
    # the same record as `alerts --json` shows
    assert cli(capsys, "--db", str(desk.db), "alerts", "--json") == [alert]
    # logs go to stderr only: stdout held nothing but the JSON line
    assert done.stdout.count("\n") == 1
    assert "wire: 2 new, 0 updated, 0 unchanged" in done.stderr

    again = desk.run()
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""  # a restart re-emits nothing
    assert "wire: 0 new, 0 updated, 2 unchanged" in again.stderr


def test_one_line_per_cluster_by_default_and_every_story_on_request(
        tmp_path: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]) -> None:
    desk = Desk(tmp_path / "one", feed_server, {"a": [STORY_A], "b": []})
    first = desk.run()
    assert first.returncode == 0, first.stderr
    alert = only(first)
    assert alert["story"]["source"] == "a"
    # later, a second source reports the same event: it joins the cluster, no new line
    desk.serve("b", [STORY_B])
    later = desk.run()
    assert later.returncode == 0, later.stderr
    assert "b: 1 new" in later.stderr
    assert later.stdout == ""
    stored = cli(capsys, "--db", str(desk.db), "alerts", "--json")
    assert {a["story"]["source"] for a in stored} == {"a", "b"}  # both alerts are stored
    assert {a["cluster"]["id"] for a in stored} == {alert["cluster"]["id"]}
    assert {a["cluster"]["size"] for a in stored} == {2}
    # ... and the record of the emission was updated with the later story
    (emission,) = [doc for _, doc in desk.store().items(EMITTED)]
    later_id = next(a["id"] for a in stored if a["story"]["source"] == "b")
    assert (emission["alert"], emission["latest"], emission["count"]) == (alert["id"],
                                                                          later_id, 2)

    # both stories in one pass: one line by default ...
    both = Desk(tmp_path / "both", feed_server, {"a2": [STORY_A], "b2": [STORY_B]})
    line = only(both.run())
    assert line["cluster"]["size"] == 2
    # ... and one per story with --every-story
    each = Desk(tmp_path / "each", feed_server, {"a3": [STORY_A], "b3": [STORY_B]})
    done = each.run("--every-story")
    alerts = printed(done)
    assert sorted(a["story"]["source"] for a in alerts) == ["a3", "b3"]
    assert len({a["cluster"]["id"] for a in alerts}) == 1
    # each line shows where its rule matched its own story (highlighted in a batch)
    stories = {s["id"]: s for s in cli(capsys, "--db", str(each.db), "stories", "--json")}
    for a in alerts:
        story = stories[a["story"]["id"]]
        assert a["matches"] and all(
            story[m["field"]][m["start"]:m["end"]] == m["text"] for m in a["matches"])
    assert each.run("--every-story").stdout == ""


def test_text_format_is_one_readable_line_per_alert(tmp_path: Path,
                                                    feed_server: FeedServer) -> None:
    desk = Desk(tmp_path, feed_server, {"a": [STORY_A], "b": [STORY_B]})
    done = desk.run("--format", "text", "--every-story")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert not line.startswith("{")
        assert "high" in line and "peace/ceasefire" in line and "2 stories" in line
    assert any(STORY_A["title"] in line and "[a, 2 stories]" in line
               and line.endswith(STORY_A["link"]) for line in lines)
    assert any(STORY_B["title"] in line and "[b, 2 stories]" in line for line in lines)


# --------------------------------------------------------------------------- exec


def test_exec_gets_the_json_on_stdin_and_the_fields_in_the_environment(
        tmp_path: Path, feed_server: FeedServer) -> None:
    desk = Desk(tmp_path, feed_server, {"wire": [STORY_A]})
    out = tmp_path / "exec"
    out.mkdir()
    command = ('cat > "$OUT/$NEWSWATCH_ALERT_ID.json" && '
               'printf "%s|%s|%s\\n" "$NEWSWATCH_RULE" "$NEWSWATCH_SEVERITY" '
               '"$NEWSWATCH_SOURCE" >> "$OUT/calls"')
    done = desk.run("--exec", command, env={"OUT": str(out)})
    assert done.returncode == 0, done.stderr
    alert = only(done)
    assert json.loads((out / f"{alert['id']}.json").read_text()) == alert
    assert (out / "calls").read_text() == "ceasefire|high|wire\n"
    assert desk.run("--exec", command, env={"OUT": str(out)}).stdout == ""
    assert (out / "calls").read_text() == "ceasefire|high|wire\n"  # not run again


def test_a_failing_exec_leaves_the_alert_for_the_next_run(tmp_path: Path,
                                                          feed_server: FeedServer) -> None:
    desk = Desk(tmp_path, feed_server, {"wire": [STORY_A]})
    failing = "cat > /dev/null; echo 'hook is down' >&2; exit 3"
    first = desk.run("--exec", failing)
    assert first.returncode == 0, first.stderr
    alert = only(first)
    assert "exit 3" in first.stderr and "hook is down" in first.stderr
    assert alert["id"] in first.stderr
    assert desk.store().get("alerts", alert["id"]).get("emitted") is not True
    # at-least-once to the failing sink: the next run offers it again, to that sink only
    # (stdout took it already and does not print it twice)
    second = desk.run("--exec", failing)
    assert second.returncode == 0 and second.stdout == "" and "exit 3" in second.stderr
    calls = tmp_path / "calls"
    working = f'cat > /dev/null; echo "$NEWSWATCH_ALERT_ID" >> "{calls}"'
    third = desk.run("--exec", working)
    assert third.returncode == 0 and third.stdout == ""
    assert calls.read_text() == alert["id"] + "\n"
    assert desk.store().get("alerts", alert["id"])["emitted"] is True
    assert desk.run("--exec", working).stdout == ""
    assert calls.read_text() == alert["id"] + "\n"


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_an_exec_timeout_kills_the_whole_command(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    pidfile = tmp_path / "sleep.pid"
    sink = ExecSink(f'cat > /dev/null; sleep 30 & echo $! > "{pidfile}"; wait', timeout_s=0.5)
    alert = {"id": "a1", "watchlist": "peace", "rule": "ceasefire", "severity": "high",
             "story": {"id": "s1", "title": "t", "url": None, "source": "wire"},
             "cluster": None}
    started = time.monotonic()
    assert sink.send(alert, b"{}") is False
    assert time.monotonic() - started < 5
    pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(),
                       what="the pid file"))
    wait_for(lambda: not running(pid), timeout=5, what="the command's child to be killed")
    assert "timed out after 0.5 s on alert a1" in caplog.text


# --------------------------------------------------------------------------- webhook


class Receiver:
    """A local webhook endpoint: answers the given statuses in turn (then 200) and keeps
    every request's headers (lowercased) and body."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with owner.lock:
                    owner.requests.append(({k.lower(): v for k, v in self.headers.items()},
                                           body))
                    status = owner.statuses.pop(0) if owner.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def seen(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return list(self.requests)


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(statuses: list[int] | None = None) -> Receiver:
        r = Receiver(statuses)
        r.thread.start()
        started.append(r)
        return r

    yield start
    for r in started:
        r.server.shutdown()
        r.server.server_close()
        r.thread.join(timeout=5)


def test_webhook_posts_the_alert_signed_with_the_secret(
        tmp_path: Path, feed_server: FeedServer, receiver: Callable[..., Receiver]) -> None:
    desk = Desk(tmp_path, feed_server, {"wire": [STORY_A]})
    hook = receiver()
    done = desk.run("--webhook", hook.url, "--webhook-secret", "s3cret")
    assert done.returncode == 0, done.stderr
    alert = only(done)
    ((headers, body),) = hook.seen()
    assert json.loads(body) == alert
    assert headers["content-type"] == "application/json"
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers[SIGNATURE_HEADER.lower()], expected)
    assert desk.run("--webhook", hook.url, "--webhook-secret", "s3cret").stdout == ""
    assert len(hook.seen()) == 1

    # without a secret there is no signature
    bare = Desk(tmp_path / "bare", feed_server, {"wire2": [STORY_A]})
    plain = receiver()
    assert bare.run("--webhook", plain.url).returncode == 0
    ((headers, _),) = plain.seen()
    assert SIGNATURE_HEADER.lower() not in headers


def test_webhook_retries_a_failing_receiver_and_delivers_once(
        tmp_path: Path, feed_server: FeedServer, receiver: Callable[..., Receiver]) -> None:
    desk = Desk(tmp_path, feed_server, {"wire": [STORY_A]})
    flaky = receiver([500, 500])  # then 200
    done = desk.run("--webhook", flaky.url, env={"NEWSWATCH_WEBHOOK_SECRET": "k"})
    assert done.returncode == 0, done.stderr
    alert = only(done)
    seen = flaky.seen()
    assert len(seen) == 3 and len({body for _, body in seen}) == 1, done.stderr
    body = seen[0][1]
    assert seen[-1][0][SIGNATURE_HEADER.lower()] == (
        "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest())
    assert desk.store().get("alerts", alert["id"])["emitted"] is True
    assert desk.run("--webhook", flaky.url).stdout == ""
    assert len(flaky.seen()) == 3

    # a receiver that refuses: logged, not marked emitted, delivered by a later run
    other = Desk(tmp_path / "other", feed_server, {"wire2": [STORY_A]})
    refusing = receiver([400])
    first = other.run("--webhook", refusing.url)
    alert = only(first)
    assert "HTTP 400" in first.stderr and alert["id"] in first.stderr
    assert other.store().get("alerts", alert["id"]).get("emitted") is not True
    second = other.run("--webhook", refusing.url)
    assert second.stdout == ""  # stdout took it the first time: only the webhook retries
    assert [json.loads(b) for _, b in refusing.seen()] == [alert, alert]
    assert other.run("--webhook", refusing.url).stdout == ""


# --------------------------------------------------------------------------- signals


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_finishes_the_batch_and_exits_zero(
        tmp_path: Path, feed_server: FeedServer, signum: signal.Signals) -> None:
    desk = Desk(tmp_path, feed_server, {"wire": [STORY_A]}, interval=None)
    err = (tmp_path / "stderr").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "newswatch.cli", "--config", str(desk.config), "run",
         "--headless", "--interval", "1s"],
        stdout=subprocess.PIPE, stderr=err, env=ENV, cwd=tmp_path)
    lines: queue.Queue[bytes] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw)

    def next_alert(timeout: float) -> dict[str, Any]:
        try:
            return json.loads(lines.get(timeout=timeout))
        except queue.Empty:
            log = (tmp_path / "stderr").read_text()
            raise AssertionError(f"no alert line within {timeout} s; stderr:\n{log}") from None

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # flushed per line: the alert arrives while the process keeps running
        first = next_alert(20)
        assert first["story"]["guid"] == "a-1" and proc.poll() is None
        # a story published while it runs is picked up on the next poll
        fresh = {"title": "Ceasefire monitors arrive", "guid": "a-3",
                 "link": "https://a.example/monitors",
                 "description": "Monitors of the ceasefire reached the front line."}
        desk.serve("wire", [STORY_A, fresh])
        second = next_alert(15)
        assert second["story"]["guid"] == "a-3"
        proc.send_signal(signum)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err.close()
    reader.join(timeout=5)
    assert lines.empty()
    log = (tmp_path / "stderr").read_text()
    assert signal.Signals(signum).name in log and "Traceback" not in log
    # what was printed was committed as emitted: a restart prints nothing
    assert desk.run().stdout == ""


# --------------------------------------------------------------------------- backoff


def test_a_failing_feed_backs_off_alone_and_recovers(tmp_path: Path,
                                                    feed_server: FeedServer) -> None:
    desk = Desk(tmp_path, feed_server, {"ok": [STORY_A], "bad": [OTHER]})
    feed_server.route("/bad.xml", status=500, body=b"down")
    poller = Poller(load_settings(desk.config), desk.store(), jitter=0.1,
                    rng=random.Random(7))

    def poll(**kw: bool) -> tuple[list[str], dict[str, tuple[float, float]]]:
        """Poll; per source the (least, most) delay the poller chose."""
        before = time.monotonic()
        report = poller.poll(**kw)
        after = time.monotonic()
        return report.polled, {name: (s.next_due - after, s.next_due - before)
                               for name, s in poller.status.items()}

    gaps = []
    for n in (1, 2, 3):
        polled, delays = poll(force=True)
        assert sorted(polled) == ["bad", "ok"]
        bad, ok = poller.status["bad"], poller.status["ok"]
        assert bad.failures == n and "500" in (bad.last_error or "")
        assert ok.failures == 0 and ok.last_error is None
        lo, hi = delays["ok"]
        assert lo <= 1.1 and hi >= 0.9  # the healthy feed keeps its 1 s interval
        gaps.append(delays["bad"])
    # the failing feed waits longer than its interval, and longer after each failure
    assert gaps[0][0] > 1.1
    assert gaps[0][1] < gaps[1][0] and gaps[1][1] < gaps[2][0]
    assert [s.spec.name for s in poller.failing] == ["bad"]

    # the healthy feed comes due on its own schedule; the failing one is not polled
    wait_for(lambda: poller.due(), timeout=5, what="the healthy feed to come due")
    polled, _ = poll()
    assert polled == ["ok"]
    assert poller.status["bad"].failures == 3

    # recovered: failures reset, the normal interval again
    desk.serve("bad", [OTHER])
    polled, delays = poll(force=True)
    assert poller.status["bad"].failures == 0 and poller.status["bad"].last_error is None
    lo, hi = delays["bad"]
    assert lo <= 1.1 and hi >= 0.9
    assert poller.failing == []


def test_backoff_is_capped_and_never_shorter_than_the_interval(tmp_path: Path) -> None:
    config = tmp_path / "newswatch.yaml"
    config.write_text(f"db: {tmp_path / 'db.json'}\nwatchlists: {tmp_path}\nsources:\n"
                      "  - {name: hourly, url: 'http://127.0.0.1:9/a.xml', interval: 10m}\n"
                      "  - {name: daily, url: 'http://127.0.0.1:9/b.xml', interval: 1d}\n",
                      encoding="utf-8")
    poller = Poller(load_settings(config), Store(tmp_path / "db.json"), jitter=0.0)
    for name, interval in (("hourly", 600.0), ("daily", 86400.0)):
        delays = []
        for _ in range(12):
            poller._reschedule(name, "HTTP 503", 0.0)
            delays.append(poller.status[name].next_due)
        assert all(d > interval or d == interval == 86400.0 for d in delays)
        assert delays == sorted(delays)
        assert max(delays) == max(3600.0, interval)
        poller._reschedule(name, None, 0.0)
        assert poller.status[name].next_due == interval


# --------------------------------------------------------------------------- hot reload


class Collect:
    """A sink that keeps what it is given (thread-safe)."""

    name = "collect"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.alerts: list[dict[str, Any]] = []

    def send(self, alert: Mapping[str, Any], payload: bytes) -> bool:
        with self.lock:
            self.alerts.append(json.loads(payload))
        return True

    def having(self, rule: str, guid: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [a for a in self.alerts if a["rule"] == rule
                    and (guid is None or a["story"]["guid"] == guid)]


def test_watchlist_edits_apply_while_running_and_a_bad_edit_keeps_the_last_valid(
        tmp_path: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="newswatch")
    desk = Desk(tmp_path, feed_server, {"wire": [STORY_A]})
    sink = Collect()
    runner = Runner(Poller(load_settings(desk.config), desk.store()), [sink],
                    every_story=True)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: sink.having("ceasefire"), what="the ceasefire alert")
        assert not sink.having("prisoners")
        # add a rule: the stored story is re-matched and the new alert emitted
        write_atomically(desk.watchlist, WATCHLIST + (
            "  - id: prisoners\n"
            "    query: 'prisoner* NEAR/6 (exchange OR swap)'\n"))
        (alert,) = wait_for(lambda: sink.having("prisoners"), what="the new rule's alert")
        assert alert["story"]["guid"] == "a-1"
        assert any("watchlists reloaded" in r.getMessage() for r in caplog.records)

        # an invalid edit: logged once, the last valid version stays in force
        write_atomically(desk.watchlist,
                         WATCHLIST + "  - id: broken\n    query: 'ceasefire AND ('\n")
        wait_for(lambda: [r for r in caplog.records if r.levelno >= logging.WARNING
                          and "peace.yaml" in r.getMessage()], what="the error in the log")
        polls = runner.poller.last_poll
        fresh = {"title": "Ceasefire holds as prisoners exchange", "guid": "a-9",
                 "link": "https://a.example/swap",
                 "description": "The ceasefire held overnight and 175 prisoners were "
                                "exchanged at the border."}
        desk.serve("wire", [STORY_A, fresh])
        wait_for(lambda: sink.having("ceasefire", "a-9") and sink.having("prisoners", "a-9"),
                 what="both old rules to alert on a new story")
        wait_for(lambda: runner.poller.last_poll != polls, what="one more poll")
        assert not sink.having("broken")
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert any("peace.yaml:" in e and ":" in e.split("peace.yaml:", 1)[1]
                   for e in errors), errors
        assert sum("keeping the last valid version" in e for e in errors) == 1, errors
        # fixed again: the error is gone
        write_atomically(desk.watchlist, WATCHLIST)
        wait_for(lambda: not runner.poller.watcher.watchset.errors, what="a clean reload")
    finally:
        runner.stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_running_poller_logs_the_sources_that_changed_not_every_pass(
        tmp_path: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="newswatch")
    desk = Desk(tmp_path, feed_server, {"wire": [STORY_A]})
    sink = Collect()
    runner = Runner(Poller(load_settings(desk.config), desk.store()), [sink])
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: sink.alerts, what="the first alert")
        first = runner.poller.last_poll
        wait_for(lambda: runner.poller.last_poll > first + 2, what="passes with nothing new")
        desk.serve("wire", [STORY_A, OTHER])
        wait_for(lambda: any("1 new, 0 updated, 1 unchanged" in r.getMessage()
                             for r in caplog.records), what="the pass that found a story")
    finally:
        runner.stop.set()
        thread.join(timeout=10)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("wire:")]
    assert lines == ["wire: 1 new, 0 updated, 0 unchanged",
                     "wire: 1 new, 0 updated, 1 unchanged"], lines


# --------------------------------------------------------------------------- cluster merges


def test_a_cluster_that_absorbed_an_alerted_one_does_not_alert_again(tmp_path: Path) -> None:
    """Store records as ingest leaves them: story s1 alerted in cluster x; x is then
    absorbed into y (the alert follows its story), and a new story s2 of y matches."""
    store = Store(tmp_path / "db.json")

    def alert(story: str, cluster: str) -> dict[str, Any]:
        return {"watchlist": "peace", "rule": "ceasefire", "severity": "high",
                "created": f"2025-03-18T20:0{story[-1]}:00Z", "updated": "2025-03-18T20:00:00Z",
                "story": story, "matches": [["title", 0, 9, "Ceasefire"]],
                "title": f"Ceasefire {story}", "source": "a", "url": None, "guid": story,
                "published": None, "cluster": cluster}

    with store.transaction() as tx:
        save_alert(tx, "a1", alert("s1", "x"))
        tx.put(CLUSTERS, "x", {"label": "x", "size": 1, "stories": ["s1"]})
    sink = Collect()
    assert emit_pending(store, [sink]).printed == ["a1"]
    with store.transaction() as tx:
        tx.delete(CLUSTERS, "x")
        tx.put(CLUSTERS, "y", {"label": "y", "size": 3, "stories": ["s0", "s1", "s2"],
                               "merged": ["x"]})
        save_alert(tx, "a1", {**alert("s1", "y"), "emitted": True})
        save_alert(tx, "a2", alert("s2", "y"))
    report = emit_pending(store, [sink])
    assert (report.printed, report.folded) == ([], ["a2"])
    assert [a["id"] for a in sink.alerts] == ["a1"]
    assert store.get(ALERTS, "a2")["emitted"] is True
    (record,) = [doc for key, doc in store.items(EMITTED) if key.startswith("y\0")]
    assert (record["alert"], record["latest"], record["count"]) == ("a1", "a2", 2)
    # --every-story still prints each story's alert
    with store.transaction() as tx:
        save_alert(tx, "a3", alert("s3", "y"))
    assert emit_pending(store, [sink], every_story=True).printed == ["a3"]


# --------------------------------------------------------------------------- the outbox


def _alert_doc(n: int, **flags: bool) -> dict[str, Any]:
    return {"watchlist": "peace", "rule": "ceasefire", "severity": "high",
            "created": f"2025-03-18T20:{n:02d}:00Z", "updated": "2025-03-18T20:00:00Z",
            "story": f"s{n}", "matches": [], "title": f"Story {n}", "source": "a",
            "url": None, "guid": f"g{n}", "published": None, "cluster": None, **flags}


def test_the_outbox_holds_exactly_the_alerts_left_to_emit(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.json")
    with store.transaction() as tx:
        for n in range(4):
            save_alert(tx, f"a{n}", _alert_doc(n))
        save_alert(tx, "a1", _alert_doc(1, retired=True))
    assert sorted(k for k, _ in store.items(OUTBOX)) == ["a0", "a2", "a3"]
    sink = Collect()
    assert emit_pending(store, [sink], every_story=True).printed == ["a0", "a2", "a3"]
    assert store.count(OUTBOX) == 0
    with store.transaction() as tx:  # revived, never emitted: due again
        save_alert(tx, "a1", _alert_doc(1, retired=False))
    assert emit_pending(store, [sink], every_story=True).printed == ["a1"]
    assert emit_pending(store, [sink], every_story=True).printed == []


def test_a_store_without_an_outbox_gets_one_from_its_alerts(tmp_path: Path) -> None:
    """Stores written before the outbox existed: the first pass scans the alerts once."""
    store = Store(tmp_path / "db.json")
    with store.transaction() as tx:
        tx.put(ALERTS, "old", _alert_doc(1, emitted=True))
        tx.put(ALERTS, "due", _alert_doc(2))
        tx.put(ALERTS, "gone", _alert_doc(3, retired=True))
    assert store.get("meta", OUTBOX_BUILT) is None
    with store.transaction() as tx:  # a new alert in an old store: its outbox is not whole
        save_alert(tx, "new", _alert_doc(4))
    assert store.get("meta", OUTBOX_BUILT) is None
    sink = Collect()
    assert emit_pending(store, [sink], every_story=True).printed == ["due", "new"]
    assert store.get("meta", OUTBOX_BUILT) is not None


def test_a_new_store_keeps_its_outbox_from_the_first_alert(tmp_path: Path) -> None:
    """No scan of the alerts table on the first pass: the outbox was never incomplete."""
    store = Store(tmp_path / "db.json")
    with store.transaction() as tx:
        save_alert(tx, "a0", _alert_doc(0))
        save_alert(tx, "a1", _alert_doc(1))
    assert store.get("meta", OUTBOX_BUILT) is not None
    with store.transaction() as tx:  # an alert written behind the outbox's back ...
        tx.put(ALERTS, "sneaked", _alert_doc(2))
    sink = Collect()  # ... is not found by a scan: there is none
    assert emit_pending(store, [sink], every_story=True).printed == ["a0", "a1"]


# --------------------------------------------------------------------------- sinks that fail


class Down:
    """A sink whose receiver is down: counts the attempts."""

    name = "down"

    def __init__(self) -> None:
        self.calls = 0

    def send(self, alert: Mapping[str, Any], payload: bytes) -> bool:
        self.calls += 1
        return False


def test_a_sink_that_fails_is_tried_once_per_pass_and_the_others_still_deliver(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "db.json")
    with store.transaction() as tx:
        for n in range(5):
            save_alert(tx, f"a{n}", _alert_doc(n))
    ok, down = Collect(), Down()
    report = emit_pending(store, [ok, down], every_story=True)
    assert down.calls == 1  # a dead receiver costs one failure per pass, not one per alert
    assert [a["id"] for a in ok.alerts] == [f"a{n}" for n in range(5)]
    assert report.failed == [f"a{n}" for n in range(5)]
    again = emit_pending(store, [ok, down], every_story=True)  # next pass: tried again
    assert down.calls == 2 and len(ok.alerts) == 5 and len(again.failed) == 5
    fixed = Down()
    fixed.send = lambda alert, payload: True  # type: ignore[method-assign]
    assert emit_pending(store, [ok, fixed], every_story=True).printed == [
        f"a{n}" for n in range(5)]
    assert len(ok.alerts) == 5


def test_an_emission_failing_during_a_pass_never_costs_the_pass_its_stories(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
        ) -> None:
    import newswatch.headless as headless

    settings = load_settings(None, db=tmp_path / "db.json", watchlists=[REPO / "watchlists"])
    runner = Runner(Poller(settings, Store(settings.db)), [Collect()])

    def broken(*args: Any, **kwargs: Any) -> None:
        raise BrokenPipeError("stdout closed")

    monkeypatch.setattr(headless, "emit_pending", broken)
    runner._next_early = 0.0  # the pass has run long enough
    runner._emit_early()  # called at a lull inside the ingest: must not raise
    assert "trying again at its end" in caplog.text
    runner._emit_early()  # and not tried again in this pass
    assert caplog.text.count("trying again at its end") == 1


def test_a_long_pass_reads_alerts_left_for_a_failed_sink_again_only_when_new_ones_come(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import newswatch.headless as headless

    settings = load_settings(None, db=tmp_path / "db.json", watchlists=[REPO / "watchlists"])
    store = Store(settings.db)
    with store.transaction() as tx:
        for n in range(3):
            save_alert(tx, f"a{n}", _alert_doc(n))
    ok, down = Collect(), Down()
    runner = Runner(Poller(settings, store), [ok, down], every_story=True)
    calls: list[int] = []
    real = headless.emit_pending

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(headless, "emit_pending", counted)
    for _ in range(3):  # lulls of one long pass
        runner._next_early = 0.0
        runner._emit_early()
    assert len(calls) == 1 and down.calls == 1  # the three wait for "down": read once
    with store.transaction() as tx:
        save_alert(tx, "a3", _alert_doc(3))
    runner._next_early = 0.0
    runner._emit_early()
    assert len(calls) == 2
    assert [a["id"] for a in ok.alerts] == ["a0", "a1", "a2", "a3"]
    runner._next_early = 0.0
    runner._emit_early()
    assert len(calls) == 2


def test_emissions_within_one_pass_share_the_sinks_that_failed(tmp_path: Path) -> None:
    """A poll emits after each batch it stores; a dead sink is still tried once a pass."""
    store = Store(tmp_path / "db.json")
    ok, down = Collect(), Down()
    failed: set[str] = set()
    for n in range(3):  # three batches of one pass
        with store.transaction() as tx:
            save_alert(tx, f"a{n}", _alert_doc(n))
        report = emit_pending(store, [ok, down], every_story=True, down=failed)
        assert report.failed == [f"a{k}" for k in range(n + 1)]  # waiting for "down"
    assert down.calls == 1 and failed == {"down"}
    assert [a["id"] for a in ok.alerts] == ["a0", "a1", "a2"]  # stdout: each once
    emit_pending(store, [ok, down], every_story=True)  # the next pass tries it again
    assert down.calls == 2 and len(ok.alerts) == 3


def test_a_stop_cuts_the_webhook_retries_short(receiver: Callable[..., Receiver]) -> None:
    failing = receiver([503] * 10)
    stop = threading.Event()
    sink = WebhookSink(failing.url, attempts=5, backoff_s=30.0, stop=stop)
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    assert sink.send({"id": "a1"}, b"{}") is False
    assert time.monotonic() - started < 5
    assert len(failing.seen()) == 1


def test_a_failing_sink_does_not_turn_one_line_per_cluster_into_one_per_story(
        tmp_path: Path, feed_server: FeedServer) -> None:
    """Two stories of one event and a dead --exec: stdout still prints one line; the
    exec, once it works, gets that same one alert, and nothing is printed twice."""
    desk = Desk(tmp_path, feed_server, {"a": [STORY_A], "b": [STORY_B]})
    failing = "cat > /dev/null; exit 3"
    first = desk.run("--exec", failing)
    alert = only(first)
    assert alert["cluster"]["size"] == 2 and "exit 3" in first.stderr
    again = desk.run("--exec", failing)
    assert again.returncode == 0 and again.stdout == ""
    calls = tmp_path / "calls"
    third = desk.run("--exec", f'cat > /dev/null; echo "$NEWSWATCH_ALERT_ID" >> "{calls}"')
    assert third.returncode == 0 and third.stdout == ""
    assert calls.read_text() == alert["id"] + "\n"
    (emission,) = [doc for _, doc in desk.store().items(EMITTED)]
    assert (emission["alert"], emission["count"]) == (alert["id"], 2)
    assert not [a for _, a in desk.store().items("alerts") if not a.get("emitted")]


def test_once_exits_1_when_every_source_failed_and_says_so_without_retries(
        tmp_path: Path, feed_server: FeedServer) -> None:
    desk = Desk(tmp_path, feed_server, {})
    dead = feed_server.route("/dead.xml", status=500, body=b"down", content_type="text/plain")
    desk.config.write_text(desk.config.read_text() + f"  - {{name: dead, url: '{dead}'}}\n")
    done = desk.run()
    assert done.returncode == 1 and done.stdout == ""
    assert f"{dead}: HTTP 500" in done.stderr and "retry" not in done.stderr


def test_a_config_without_sources_says_there_is_nothing_to_poll(tmp_path: Path) -> None:
    config = tmp_path / "empty.yaml"
    config.write_text("")
    done = subprocess.run([sys.executable, "-m", "newswatch.cli", "--config", str(config),
                           "--db", str(tmp_path / "db.json"), "run", "--headless", "--once"],
                          capture_output=True, text=True, timeout=60, env=ENV, check=False)
    assert done.returncode == 0 and done.stdout == ""
    assert f"{config}: no sources configured; nothing to poll" in done.stderr


def test_two_pollers_on_one_store_deliver_each_alert_once(tmp_path: Path) -> None:
    """Both find the same 11 alerts pending; the emitter lock lets one deliver them, and
    the other then finds them emitted."""
    db = tmp_path / "db.json"
    assert main(["--db", str(db), "ingest", str(SEEDS)]) == 0
    config = tmp_path / "cfg.yaml"
    config.write_text(f"db: {db}\nsources: []\n")
    calls = tmp_path / "calls"
    cmd = [sys.executable, "-m", "newswatch.cli", "--config", str(config), "run", "--headless",
           "--once", "--every-story", "--exec",
           f'cat > /dev/null; echo "$NEWSWATCH_ALERT_ID" >> "{calls}"; sleep 0.05']
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ENV,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    ids = [a["id"] for out in outs for a in lines_of(out)]
    assert len(ids) == 11 == len(set(ids))
    assert sorted(calls.read_text().split()) == sorted(ids)


def test_a_poll_cancelled_while_a_feed_hangs_stores_what_came_and_returns(
        tmp_path: Path, feed_server: FeedServer) -> None:
    healthy = feed_server.route("/ok.xml", body=rss_feed([STORY_A]))
    hanging = feed_server.route("/hang.xml", body=rss_feed([STORY_B]), delay=12)
    settings = load_settings(None, db=tmp_path / "db.json", watchlists=[REPO / "watchlists"])
    from dataclasses import replace

    from newswatch.sources import SourceSpec
    settings = replace(settings, sources=(SourceSpec(name="ok", url=healthy),
                                          SourceSpec(name="hang", url=hanging)))
    poller = Poller(settings, Store(settings.db))
    threading.Timer(1.0, poller.cancel.set).start()
    started = time.monotonic()
    report = poller.poll(force=True)
    assert time.monotonic() - started < 6  # not the 12 s the hanging feed takes
    assert [s.name for s in report.ingest.sources] == ["ok"]
    assert poller.store.count("stories") == 1
    assert [s.name for s in poller.due()] == ["hang"]  # not polled: due again


def test_sigterm_while_a_feed_hangs_exits_promptly(tmp_path: Path,
                                                   feed_server: FeedServer) -> None:
    desk = Desk(tmp_path, feed_server, {"ok": [STORY_A]})
    hang = feed_server.route("/hang.xml", body=rss_feed([STORY_B]), delay=12)
    desk.config.write_text(desk.config.read_text() + f"  - {{name: hang, url: '{hang}'}}\n")
    proc = subprocess.Popen([sys.executable, "-m", "newswatch.cli", "--config",
                             str(desk.config), "run", "--headless"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=ENV, text=True, cwd=tmp_path)
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=8)  # well before the hanging feed's 12 s
    assert proc.returncode == 0, err
    assert desk.store().count("stories") == 1  # the healthy feed's story was kept ...
    feed_server.route("/hang.xml", body=rss_feed([]))
    assert len(printed(desk.run())) == 1  # ... and its alert comes out on the next run


def test_alerts_go_out_while_a_slow_feed_is_still_fetched(tmp_path: Path,
                                                          feed_server: FeedServer) -> None:
    desk = Desk(tmp_path, feed_server, {"ok": [STORY_A]})
    slow = feed_server.route("/slow.xml", body=rss_feed([OTHER]), delay=EARLY_EMIT_S + 5)
    desk.config.write_text(desk.config.read_text() + f"  - {{name: slow, url: '{slow}'}}\n")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "newswatch.cli", "--config",
                             str(desk.config), "run", "--headless", "--once"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, text=True,
                            cwd=tmp_path)
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    arrived = time.monotonic() - started
    rest, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert first["story"]["guid"] == "a-1" and rest == ""
    # a pass that runs long emits what it has stored (an early one would wait till its end)
    assert arrived < EARLY_EMIT_S + 3, f"the alert waited {arrived:.1f} s for the slow feed"
    assert time.monotonic() - started >= EARLY_EMIT_S + 5  # the pass took the slow feed
    assert desk.store().count("stories") == 2
