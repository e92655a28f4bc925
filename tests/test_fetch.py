"""Feed fetching against a real HTTP server on 127.0.0.1 (tests/feedserver.py)."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from newswatch.models import FeedState
from newswatch.sources import SourceSpec
from newswatch.sources import fetch as fetch_mod
from newswatch.sources.fetch import FetchSettings, fetch_feeds, iter_feeds
from tests.feedserver import HTML_PAGE, FeedServer, atom_feed, closed_port, http_date, rss_feed

REPO = Path(__file__).resolve().parent.parent
FAST = FetchSettings(connect_timeout=0.5, read_timeout=0.5, total_timeout=5.0)

RSS_ITEMS = [
    {"title": "Ceasefire talks resume", "link": "http://example.org/a", "guid": "rss-1",
     "pubDate": "Tue, 18 Mar 2025 22:01:00 +0200", "description": "<p>Talks <b>resume</b>.</p>"},
    {"title": "Prisoner exchange agreed", "link": "http://example.org/b", "guid": "rss-2",
     "pubDate": "Tue, 18 Mar 2025 19:00:00 GMT", "description": "Both sides swap 175."},
]


def spec(name: str, url: str) -> SourceSpec:
    return SourceSpec(name=name, url=url)


def one(url: str, state: FeedState | None = None, settings: FetchSettings = FAST):
    states = {url: state} if state else {}
    [result] = fetch_feeds([spec("feed", url)], states, settings)
    return result


def test_rss_atom_and_json_feed_are_fetched_and_parsed(feed_server: FeedServer) -> None:
    rss = feed_server.route("/rss.xml", body=rss_feed(RSS_ITEMS))
    atom = feed_server.route("/atom.xml", content_type="application/atom+xml", body=atom_feed([
        {"id": "urn:uuid:atom-1", "title": "Truce holds", "link": "http://example.org/c",
         "updated": "2025-03-18T21:01:00+01:00", "summary": "The truce holds overnight."}]))
    jsonfeed = feed_server.route("/feed.json", content_type="application/feed+json",
                                 body=orjson.dumps({
                                     "version": "https://jsonfeed.org/version/1.1",
                                     "title": "JSON", "items": [{
                                         "id": "json-1", "title": "Talks in Riyadh",
                                         "content_text": "Delegations met.",
                                         "url": "http://example.org/d",
                                         "date_published": "2025-03-18T15:01:00-05:00"}]}))
    results = fetch_feeds([spec("rss", rss), spec("atom", atom), spec("json", jsonfeed)], {})

    assert [r.spec.name for r in results] == ["rss", "atom", "json"]
    assert all(r.error is None and not r.not_modified for r in results)
    first, second = results[0].items
    assert (first.source, first.guid, first.title) == ("rss", "rss-1", "Ceasefire talks resume")
    assert first.published == "2025-03-18T20:01:00Z"
    assert first.text == "Talks resume."
    assert second.published == "2025-03-18T19:00:00Z"
    [entry] = results[1].items
    assert (entry.guid, entry.url, entry.published) == (
        "urn:uuid:atom-1", "http://example.org/c", "2025-03-18T20:01:00Z")
    [item] = results[2].items
    assert (item.source, item.guid, item.published) == ("json", "json-1", "2025-03-18T20:01:00Z")
    state = results[0].feed_state
    assert state is not None and state.url == rss and state.failures == 0 and state.last_ok


def test_second_fetch_is_conditional_and_304_costs_no_parse(
        feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    modified = http_date(1742300000)
    url = feed_server.route("/cond.xml", body=rss_feed(RSS_ITEMS), etag='"v1"',
                            last_modified=modified)
    parses: list[str] = []
    real_parse = fetch_mod.parse_body

    def counting(*args):
        parses.append(args[2])
        return real_parse(*args)

    monkeypatch.setattr(fetch_mod, "parse_body", counting)
    first = one(url, FeedState(url=url, failures=3, last_error="HTTP 503 Service Unavailable"))
    assert len(first.items) == 2 and parses == [url]
    assert first.feed_state is not None
    assert (first.feed_state.etag, first.feed_state.last_modified) == ('"v1"', modified)
    assert first.feed_state.failures == 0 and first.feed_state.last_error is None

    second = one(url, first.feed_state)
    sent = feed_server.last_headers("/cond.xml")
    assert sent["if-none-match"] == '"v1"' and sent["if-modified-since"] == modified
    assert second.not_modified and second.items == [] and second.error is None
    assert parses == [url]  # the 304 was not parsed
    assert second.feed_state is not None and second.feed_state.etag == '"v1"'
    assert feed_server.hits["/cond.xml"] == 2


def test_http_error_counts_a_failure_and_keeps_validators(feed_server: FeedServer) -> None:
    url = feed_server.route("/boom", status=500, body=b"boom", content_type="text/plain")
    old = FeedState(url=url, etag='"old"', last_modified="x", failures=2, last_ok="then")
    result = one(url, old)
    assert result.error == "HTTP 500 Internal Server Error"
    assert result.items == [] and not result.not_modified
    state = result.feed_state
    assert state is not None
    assert (state.failures, state.last_error) == (3, "HTTP 500 Internal Server Error")
    assert (state.etag, state.last_modified, state.last_ok) == ('"old"', "x", "then")
    assert one(feed_server.url("/missing")).error == "HTTP 404 Not Found"


def test_slow_response_times_out_without_waiting_for_it(feed_server: FeedServer) -> None:
    url = feed_server.route("/slow", body=rss_feed(RSS_ITEMS), delay=3)
    started = time.monotonic()
    result = one(url)
    assert result.error == "timed out after 0.5 s"
    assert time.monotonic() - started < 2.0


def test_trickling_body_hits_the_total_deadline(feed_server: FeedServer) -> None:
    url = feed_server.route("/trickle", body=b"<rss><channel>", endless=True, trickle=0.1)
    settings = FetchSettings(connect_timeout=0.5, read_timeout=0.5, total_timeout=1.0)
    started = time.monotonic()
    assert one(url, settings=settings).error == "timed out after 1 s (total)"
    assert time.monotonic() - started < 3.0


def test_endless_body_stops_at_the_size_cap(feed_server: FeedServer) -> None:
    url = feed_server.route("/huge", body=b"<rss><channel>", endless=True)
    settings = FetchSettings(max_bytes=256 * 1024, read_timeout=2)
    started = time.monotonic()
    assert one(url, settings=settings).error == "response larger than 256 KB"
    assert time.monotonic() - started < 3.0


def test_size_cap_counts_decompressed_bytes(feed_server: FeedServer) -> None:
    bomb = b"<rss version='2.0'><channel>" + b" " * (3 * 1024 * 1024) + b"</channel></rss>"
    url = feed_server.route("/bomb", body=bomb, gzip=True)
    declared = feed_server.route("/big", body=b"x" * (2 * 1024 * 1024))
    settings = FetchSettings(max_bytes=1024 * 1024)
    results = fetch_feeds([spec("bomb", url), spec("big", declared)], {}, settings)
    assert [r.error for r in results] == ["response larger than 1 MB"] * 2


def test_gzip_encoded_feed_is_decoded(feed_server: FeedServer) -> None:
    url = feed_server.route("/gz.xml", body=rss_feed(RSS_ITEMS), gzip=True)
    result = one(url)
    assert result.error is None and [i.guid for i in result.items] == ["rss-1", "rss-2"]
    assert "gzip" in feed_server.last_headers("/gz.xml")["accept-encoding"]


def test_html_page_is_not_a_feed_and_keeps_old_validators(feed_server: FeedServer) -> None:
    url = feed_server.route("/page", body=HTML_PAGE, content_type="text/html", etag='"page"')
    result = one(url, FeedState(url=url, etag='"old"'))
    assert result.error == "not a feed: got an HTML page"
    assert result.feed_state is not None
    assert result.feed_state.etag == '"old"' and result.feed_state.failures == 1


def test_redirects_are_followed_but_a_loop_is_an_error(feed_server: FeedServer) -> None:
    feed_server.route("/real.xml", body=rss_feed(RSS_ITEMS))
    moved = feed_server.route("/moved", status=301, redirect_to="/real.xml")
    loop = feed_server.route("/loop", status=302, redirect_to="/loop")
    results = fetch_feeds([spec("moved", moved), spec("loop", loop)], {}, FAST)
    assert len(results[0].items) == 2 and results[0].error is None
    assert results[1].error == "too many redirects"
    assert feed_server.hits["/loop"] == FAST.max_redirects + 1


def test_connection_refused() -> None:
    result = one(f"http://127.0.0.1:{closed_port()}/feed.xml")
    assert result.error == "connection refused"
    assert result.feed_state is not None and result.feed_state.failures == 1


def test_one_bad_feed_does_not_affect_the_others(feed_server: FeedServer) -> None:
    good = [feed_server.route(f"/ok{i}.xml", body=rss_feed(RSS_ITEMS, title=f"ok {i}"))
            for i in range(3)]
    bad = {
        "500": feed_server.route("/e500", status=500),
        "html": feed_server.route("/html", body=HTML_PAGE, content_type="text/html"),
        "drop": feed_server.route("/drop", drop=True),
        "cut": feed_server.route("/cut", body=rss_feed(RSS_ITEMS), truncate=True),
        "slow": feed_server.route("/slow", body=rss_feed(RSS_ITEMS), delay=3),
        "refused": f"http://127.0.0.1:{closed_port()}/x.xml",
    }
    specs = [spec("ok0", good[0]), *(spec(k, v) for k, v in bad.items()),
             spec("ok1", good[1]), spec("ok2", good[2])]
    results = fetch_feeds(specs, {}, FAST)
    assert [r.spec.name for r in results] == [s.name for s in specs]
    by_name = {r.spec.name: r for r in results}
    for name in ("ok0", "ok1", "ok2"):
        assert by_name[name].error is None and len(by_name[name].items) == 2
        assert by_name[name].items[0].source == name
    assert by_name["500"].error == "HTTP 500 Internal Server Error"
    assert by_name["html"].error == "not a feed: got an HTML page"
    assert by_name["drop"].error == "connection closed without a response"
    assert by_name["cut"].error is not None and by_name["cut"].error.startswith(
        "response truncated")
    assert by_name["slow"].error == "timed out after 0.5 s"
    assert by_name["refused"].error == "connection refused"
    assert all("\n" not in (r.error or "") for r in results)


def test_a_worker_that_dies_leaves_its_feeds_to_the_parent(
        feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    parent = os.getpid()
    real_parse = fetch_mod.parse_body

    def deadly(data: bytes, source: str, location: str, *rest: object):
        if os.getpid() != parent and location.endswith("/p0.xml"):
            os._exit(3)  # a worker process killed while parsing (OOM killer, segfault)
        return real_parse(data, source, location, *rest)

    monkeypatch.setattr(fetch_mod, "parse_body", deadly)  # forked workers inherit it
    urls = [feed_server.route(f"/p{i}.xml", body=rss_feed(RSS_ITEMS)) for i in range(6)]
    results = fetch_feeds([spec(f"p{i}", u) for i, u in enumerate(urls)], {},
                          FetchSettings(workers=2))
    assert [len(r.items) for r in results] == [2] * 6
    assert all(r.error is None for r in results)
    assert multiprocessing.active_children() == []


def test_no_worker_process_to_be_had_fetches_here(
        feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")  # fork failing: EAGAIN

    monkeypatch.setattr(multiprocessing.get_context("fork").Process, "start", refuse)
    urls = [feed_server.route(f"/n{i}.xml", body=rss_feed(RSS_ITEMS)) for i in range(3)]
    results = fetch_feeds([spec(f"n{i}", u) for i, u in enumerate(urls)], {},
                          FetchSettings(workers=2))
    assert [len(r.items) for r in results] == [2, 2, 2]


def test_a_consumer_that_stops_early_stops_the_workers(feed_server: FeedServer) -> None:
    urls = [feed_server.route(f"/q{i}.xml", body=rss_feed(RSS_ITEMS), delay=0.2 * (i > 0))
            for i in range(6)]
    feeds = iter_feeds([spec(f"q{i}", u) for i, u in enumerate(urls)], {},
                       FetchSettings(workers=2))
    first = next(r for r in feeds if r is not None)
    assert len(first.items) == 2
    feeds.close()  # e.g. the ingest failed on the first batch
    assert multiprocessing.active_children() == []


def test_feeds_are_shared_out_among_worker_processes(feed_server: FeedServer) -> None:
    urls = [feed_server.route(f"/s{i}.xml", body=rss_feed(RSS_ITEMS)) for i in range(8)]
    results = fetch_feeds([spec(f"s{i}", u) for i, u in enumerate(urls)], {},
                          FetchSettings(workers=2))
    assert [r.spec.name for r in results] == [f"s{i}" for i in range(8)]
    assert all(len(r.items) == 2 and r.feed_state is not None for r in results)
    assert all(item.features is not None for r in results for item in r.items)
    assert all(feed_server.hits[f"/s{i}.xml"] == 1 for i in range(8))  # each fetched once


def test_works_when_called_inside_a_running_event_loop(feed_server: FeedServer) -> None:
    url = feed_server.route("/loop.xml", body=rss_feed(RSS_ITEMS))

    async def caller() -> int:
        return len(fetch_feeds([spec("x", url)], {})[0].items)

    assert asyncio.run(caller()) == 2


def test_all_304_run_loads_no_parser(feed_server: FeedServer) -> None:
    urls = [feed_server.route(f"/w{i}.xml", body=rss_feed(RSS_ITEMS), etag=f'"w{i}"')
            for i in range(5)]
    script = (
        "import json, multiprocessing, sys\n"
        "from newswatch.models import FeedState\n"
        "from newswatch.sources import SourceSpec\n"
        "from newswatch.sources.fetch import fetch_feeds\n"
        "urls = json.loads(sys.argv[1])\n"
        "states = {u: FeedState(url=u, etag=f'\"w{i}\"') for i, u in enumerate(urls)}\n"
        "res = fetch_feeds([SourceSpec(name=str(i), url=u) for i, u in enumerate(urls)], states)\n"
        "print(json.dumps([sum(r.not_modified for r in res), 'feedparser' in sys.modules,\n"
        "                  'numpy' in sys.modules, len(multiprocessing.active_children())]))\n")
    out = subprocess.run([sys.executable, "-c", script, json.dumps(urls)], cwd=REPO,
                         capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(out.stdout) == [5, False, False, 0]


def test_iter_feeds_yields_each_feed_as_soon_as_it_is_parsed(feed_server: FeedServer) -> None:
    slow = feed_server.route("/late.xml", body=rss_feed(RSS_ITEMS), delay=1.5)
    fast = feed_server.route("/early.xml", body=rss_feed(RSS_ITEMS))
    other = feed_server.route("/early2.xml", body=rss_feed(RSS_ITEMS))
    started = time.monotonic()
    arrivals = [(r.spec.name, time.monotonic() - started, len(r.items)) for r in
                iter_feeds([spec("late", slow), spec("early", fast), spec("e2", other)], {})]
    assert sorted((name, n) for name, _, n in arrivals[:2]) == [("e2", 2), ("early", 2)]
    assert arrivals[2][0] == "late" and arrivals[2][2] == 2
    assert arrivals[1][1] < 1.0 <= arrivals[2][1]
    # every item carries its clustering features, computed where the feed was parsed
    assert all(item.features is not None for item in fetch_feeds([spec("e", fast)], {})[0].items)


def test_a_proxy_from_the_environment_is_used(feed_server: FeedServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # the feed server stands in for the proxy: a proxied request names the whole URL
    target = "http://feeds.invalid/rss.xml"
    feed_server.route(target, body=rss_feed(RSS_ITEMS))
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", feed_server.base)
    result = one(target)
    assert result.error is None
    assert [i.guid for i in result.items] == ["rss-1", "rss-2"]
    assert feed_server.hits[target] == 1


def test_the_environment_is_trusted_only_when_it_configures_something(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newswatch.sources.download import env_matters

    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "NETRC":
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert not env_matters()
    (tmp_path / ".netrc").write_text("machine feeds.example login a password b\n")
    assert env_matters()
    (tmp_path / ".netrc").unlink()
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert env_matters()


def test_a_skipped_item_is_reported_with_its_feed(feed_server: FeedServer) -> None:
    url = feed_server.route("/mixed.json", content_type="application/feed+json",
                            body=orjson.dumps({"version": "https://jsonfeed.org/version/1.1",
                                               "items": [{"id": "1", "title": "ok"}, 5]}))
    result = one(url)
    assert [i.title for i in result.items] == ["ok"]
    assert result.skipped == [f"{url}: item 2: not an object"]


def test_json_feed_fields_that_are_not_strings_count_as_absent(feed_server: FeedServer) -> None:
    url = feed_server.route("/odd.json", content_type="application/feed+json",
                            body=orjson.dumps({"version": "https://jsonfeed.org/version/1.1",
                                               "items": [{"id": "1", "title": ["x"], "url": 7,
                                                          "content_text": "Real text here."}]}))
    [item] = one(url).items
    assert (item.title, item.url, item.text) == ("Real text here.", None, "Real text here.")


def test_control_characters_in_feeds_never_reach_the_terminal(feed_server: FeedServer) -> None:
    evil = "\u001b]8;;https://evil.example/\u0007deal\u001b]8;;\u0007 \u001b[41mRED\u009b2J"
    rss = feed_server.route("/evil.xml", body=rss_feed([dict(RSS_ITEMS[0], title=evil)]))
    jf = feed_server.route("/evil.json", content_type="application/feed+json",
                           body=orjson.dumps({"version": "https://jsonfeed.org/version/1.1",
                                              "items": [{"id": "1", "title": evil,
                                                         "content_text": f"x {evil}"}]}))
    for url in (rss, jf):
        [item] = one(url).items
        for value in (item.title, item.text):
            assert not any(ord(c) < 32 and c not in "\n\t" or 127 <= ord(c) < 160
                           for c in value), (url, value)
        assert item.title.startswith("]8;;https://evil.example/deal]8;; [41mRED")
