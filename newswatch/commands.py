"""What each CLI subcommand does, on top of the core (kept apart from argument parsing)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from newswatch.alerts import alert_json, list_alerts, parse_since
from newswatch.clusters import ClusterService, cluster_json, cluster_sizes, newest_clusters
from newswatch.controls import printable
from newswatch.errors import UsageError, UserError
from newswatch.highlight import Highlighter
from newswatch.models import Story
from newswatch.pipeline import IngestReport, ingest
from newswatch.sources import SourceSpec
from newswatch.store import Store, store_path
from newswatch.stories import newest_stories
from newswatch.watching import Watcher, load_watchset, stored_watchlists

if TYPE_CHECKING:
    from newswatch.config import Settings


def source_spec(arg: str) -> SourceSpec:
    """A command-line SOURCE: an http(s) URL or a local path.

    A path's source name is its directory's name (a file's parent directory), so
    ``ingest seeds`` and ``ingest seeds/one.txt`` name the same stories."""
    from newswatch.sources.local import unicode_name

    if not arg:
        raise UserError("an empty SOURCE: give a file, a directory or a feed URL")
    scheme, sep, rest = arg.partition("://")
    if sep and scheme.isascii() and scheme.isalpha():  # a URL, if an odd one
        if scheme.lower() in ("http", "https"):
            arg = scheme.lower() + sep + rest  # HTTP://… as http://…
        else:  # fails alone, as not an http(s) URL
            return SourceSpec(name=scheme.lower(), url=arg)
    if arg.startswith(("http://", "https://")):
        from newswatch.sources.feedlists import default_feed_name

        if unicode_name(arg) != arg:  # argv bytes that are not UTF-8 cannot be a URL
            raise UserError(f"{unicode_name(arg)}: not a valid URL (bytes that are not UTF-8)")
        return SourceSpec(name=default_feed_name(arg), url=arg)
    path = Path(arg).expanduser()
    folder = path if path.is_dir() else path.parent
    name = unicode_name(folder.resolve().name) or "local"
    return SourceSpec(name=name, path=path)


def existing_store(db: Path, otherwise: str = "run `newswatch ingest SOURCE` first") -> Store:
    """The store at ``db``; a user error if there is none yet (reading never creates one)."""
    path = store_path(db)
    if not path.exists():
        raise UserError(f"{path}: no store yet; {otherwise}")
    return Store(path)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    specs = [source_spec(a) for a in args.sources]
    if args.feeds_from:
        from newswatch.sources.feedlists import FeedListError, read_feed_list

        for listing in args.feeds_from:
            try:
                specs.extend(read_feed_list(listing))
            except FeedListError as exc:
                raise UserError(str(exc)) from None
    if not specs and args.feeds_from:
        raise UserError(f"nothing to ingest: {', '.join(map(str, args.feeds_from))} "
                        "lists no feeds")
    if not specs:
        raise UsageError("nothing to ingest: give a file, a directory, a feed URL "
                         "or --feeds-from FILE")
    store = Store(settings.db)
    report = ingest(store, specs, make_watcher(settings, store), ClusterService())
    print_report(report)
    return 1 if report.all_failed else 0


def print_report(report: IngestReport) -> None:
    err = sys.stderr
    total_new = total_upd = 0
    for src in report.sources:
        for line in src.skipped:
            print(f"  skipped {line}", file=err)
        if src.error:
            print(f"{src.location}: failed: {src.error}", file=err)
            continue
        c = src.counts
        total_new += c.new
        total_upd += c.updated
        note = " (not modified)" if src.not_modified else ""
        print(f"{src.name}: {c.new} new, {c.updated} updated, {c.unchanged} unchanged"
              f"{note}", file=err)
    failed = sum(1 for s in report.sources if s.failed)
    if report.rematched is not None:
        r = report.rematched
        print(f"watchlists changed: re-applied to stored stories ({len(r.new)} new alerts, "
              f"{len(r.retired)} retired)", file=err)
    merges = len(report.clusters.merges)
    print(f"ingested {len(report.sources)} source(s): {total_new} new, {total_upd} updated, "
          f"{failed} failed; {len(report.alerts.new)} new alert(s)"
          f"{f'; {merges} cluster merge(s)' if merges else ''}", file=err)


def story_json(story: Story) -> dict:
    return {
        "id": story.id,
        "guid": story.guid,
        "source": story.source,
        "title": story.title,
        "url": story.url,
        "published": story.published,
        "fetched": story.fetched,
        "content_hash": story.content_hash,
        "entities": [{"id": e.id, "name": e.name, "count": e.count} for e in story.entities],
        "cluster_id": story.cluster_id,
        "text": story.text,
    }


def cmd_stories(args: argparse.Namespace, settings: Settings) -> int:
    store = existing_store(settings.db)
    limit = args.limit or None
    stories = newest_stories(store, limit=limit, search=args.search, with_text=args.json)
    out = sys.stdout.buffer
    if args.json:
        for story in stories:
            out.write(orjson.dumps(story_json(story)) + b"\n")
    else:
        for story in stories:
            when = (story.published or story.fetched or "")[:16].replace("T", " ")
            out.write(f"{when:16}  {story.source[:18]:18}  {printable(story.title)}\n"
                      .encode())
    out.flush()
    return 0


def make_watcher(settings: Settings, store: Store | None) -> Watcher:
    watchset = load_watchset(list(settings.watchlists), store)
    for line in watchset.errors:
        print(line, file=sys.stderr)
    if watchset.unusable:  # matching with what is left would retire the others' alerts
        raise UserError("watchlists unusable (see above): nothing done, stored alerts kept")
    return Watcher(watchset)


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from newswatch.watch.loader import check_paths, watchlist_files

    paths = args.paths or list(settings.watchlists)
    errors = check_paths(paths)
    for line in errors:
        print(line, file=sys.stderr)
    if not errors:
        count = len(watchlist_files(paths))
        print(f"{count} watchlist file(s) valid", file=sys.stderr)
    return 1 if errors else 0


def cmd_rematch(args: argparse.Namespace, settings: Settings) -> int:
    store = existing_store(settings.db)
    watcher = make_watcher(settings, store)
    done = watcher.rematch(store)
    print(f"rematched {store.count('stories')} stories: {len(done.new)} new alerts, "
          f"{len(done.retired)} retired, {len(done.revived)} revived", file=sys.stderr)
    return 0


def cmd_compact(args: argparse.Namespace, settings: Settings) -> int:
    from newswatch.store.compact import compact_texts

    done = compact_texts(existing_store(settings.db, "nothing to compact"))
    mb = 1024 * 1024
    if done.removed:
        print(f"texts: compacted {len(done.removed)} segment(s), moved {done.moved:,} "
              f"text(s); {done.bytes_before / mb:.1f} MB -> {done.bytes_after / mb:.1f} MB",
              file=sys.stderr)
    else:
        print(f"texts: nothing to compact ({done.bytes_before / mb:.1f} MB)", file=sys.stderr)
    if done.kept:
        print(f"texts: {len(done.kept)} segment(s) kept, a live text in them unreadable: "
              + ", ".join(done.kept), file=sys.stderr)
    return 0


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    since = None
    if args.since:
        try:
            since = parse_since(args.since)
        except ValueError:
            raise UsageError(f"--since {args.since!r}: not an ISO 8601 time nor an age "
                             "like 2h or 3d") from None
    store = existing_store(settings.db)
    alerts = list_alerts(store, since=since, watchlist=args.watchlist, rule=args.rule,
                         limit=args.limit or None)
    sizes = {}
    if args.json:
        sizes = cluster_sizes(store, {a.cluster_id for a in alerts if a.cluster_id})
        # where each alert matched, by the watchlists that raised it (the store keeps
        # them; failing that, the watchlists this command would ingest with)
        watchlists = stored_watchlists(store)
        if watchlists is None:
            watchset = load_watchset(list(settings.watchlists), store)
            watchlists = watchset.watchlists
            if watchset.unusable:  # listing alerts never needs them: no spans, not no list
                watchlists = []
                print("alerts: watchlists unusable (" + "; ".join(watchset.unusable)
                      + "): matches left empty", file=sys.stderr)
        Highlighter(watchlists).fill(store, alerts)
    out = sys.stdout.buffer
    for alert in alerts:
        if args.json:
            size = sizes.get(alert.cluster_id or "")
            out.write(orjson.dumps(alert_json(alert, size)) + b"\n")
        else:
            out.write(f"{alert.created[:16].replace('T', ' ')}  {alert.severity:8}  "
                      f"{alert.watchlist}/{alert.rule}  {printable(alert.title)}\n".encode())
    out.flush()
    return 0


def cmd_tui(args: argparse.Namespace, settings: Settings) -> int:
    from newswatch.poller import Poller
    from newswatch.tui.app import make_app

    poller = Poller(settings, Store(settings.db))
    make_app(poller).run()
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if not args.headless:
        alone = [flag for flag, given in (("--once", args.once), ("--every-story",
                 args.every_story), ("--exec", args.exec_cmd), ("--webhook", args.webhook),
                 ("--format", args.format != "json")) if given]
        if alone:  # the desk runs until you quit and prints nothing: they would be ignored
            raise UsageError(f"{', '.join(alone)} need --headless (without it, run opens "
                             "the desk)")
        return cmd_tui(args, settings)
    import logging
    import os
    import threading

    from newswatch.headless import Runner
    from newswatch.poller import Poller
    from newswatch.sinks import ExecSink, Sink, StdoutSink, WebhookSink

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    for noisy in ("httpx", "httpcore"):  # one line per request is not a log a person reads
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stop = threading.Event()  # set by SIGINT/SIGTERM: the runner and the webhook stop waiting
    sinks: list[Sink] = [StdoutSink(sys.stdout.buffer, args.format)]
    if args.exec_cmd:
        sinks.append(ExecSink(args.exec_cmd))
    if args.webhook:
        secret = args.webhook_secret or os.environ.get("NEWSWATCH_WEBHOOK_SECRET")
        sinks.append(WebhookSink(args.webhook, secret, stop=stop))
    runner = Runner(Poller(settings, Store(settings.db)), sinks, every_story=args.every_story,
                    stop=stop)
    runner.install_signal_handlers()
    return runner.run(once=args.once)


def cmd_clusters(args: argparse.Namespace, settings: Settings) -> int:
    store = existing_store(settings.db)
    out = sys.stdout.buffer
    for cid, doc in newest_clusters(store, args.limit or None):
        if args.json:
            out.write(orjson.dumps(cluster_json(store, cid, doc)) + b"\n")
        else:
            sources = ", ".join(doc.get("sources", [])[:4])
            out.write(f"{doc.get('last_seen', '')[:16].replace('T', ' '):16}  "
                      f"{doc.get('size', 0):4}  {sources[:30]:30}  "
                      f"{printable(doc.get('label', ''))}\n"
                      .encode())
    out.flush()
    return 0
