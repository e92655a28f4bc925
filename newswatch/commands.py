"""What each CLI subcommand does, on top of the core (kept apart from argument parsing)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from newswatch.errors import UserError
from newswatch.models import Story
from newswatch.pipeline import IngestReport, ingest
from newswatch.sources import SourceSpec
from newswatch.store import Store
from newswatch.stories import newest_stories


def source_spec(arg: str) -> SourceSpec:
    """A command-line SOURCE: an http(s) URL or a local path.

    A path's source name is its directory's name (a file's parent directory), so
    ``ingest seeds`` and ``ingest seeds/one.txt`` name the same stories."""
    if arg.startswith(("http://", "https://")):
        from newswatch.sources.feedlists import default_feed_name

        return SourceSpec(name=default_feed_name(arg), url=arg)
    path = Path(arg).expanduser()
    folder = path if path.is_dir() else path.parent
    name = folder.resolve().name or "local"
    return SourceSpec(name=name, path=path)


def cmd_ingest(args: argparse.Namespace, db: Path) -> int:
    specs = [source_spec(a) for a in args.sources]
    if args.feeds_from:
        from newswatch.sources.feedlists import FeedListError, read_feed_list

        for listing in args.feeds_from:
            try:
                specs.extend(read_feed_list(listing))
            except FeedListError as exc:
                raise UserError(str(exc)) from None
    if not specs:
        raise UserError("nothing to ingest: give a file, a directory, a feed URL "
                        "or --feeds-from FILE")
    store = Store(db)
    report = ingest(store, specs)
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
    print(f"ingested {len(report.sources)} source(s): {total_new} new, {total_upd} updated, "
          f"{failed} failed", file=err)


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


def cmd_stories(args: argparse.Namespace, db: Path) -> int:
    if not db.exists():
        raise UserError(f"{db}: no store yet; run `newswatch ingest SOURCE` first")
    store = Store(db)
    limit = args.limit or None
    stories = newest_stories(store, limit=limit, search=args.search, with_text=args.json)
    out = sys.stdout.buffer
    if args.json:
        for story in stories:
            out.write(orjson.dumps(story_json(story)) + b"\n")
    else:
        for story in stories:
            when = (story.published or story.fetched or "")[:16].replace("T", " ")
            out.write(f"{when:16}  {story.source[:18]:18}  {story.title}\n".encode())
    out.flush()
    return 0
