"""Every file of feedparser's own test corpus (2,108 feeds: many encodings, ill-formed ones,
entities, sanitizer traps) through the real local ingest path: nothing crashes, every
file either stores a story or is skipped with a one-line reason, and the counts are
pinned so that a change in parsing or skipping shows up here.

tests/test_fastfeed.py proves the fast path equals feedparser on these files; this proves
what ingest makes of them."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from newswatch.clusters import ClusterService
from newswatch.pipeline import IngestReport, ingest
from newswatch.sources import SourceSpec
from newswatch.store import Store
from newswatch.watching import Watcher, load_watchset, watchlist_paths
from tests.reliability.helpers import REPO, assert_no_traceback, cli

CORPUS = REPO / "tests" / "data" / "feedparser-tests"

# Obtained by running test_every_file_is_stored_or_skipped_with_a_reason once (feedparser
# 6.0.x, after the fix that gives an entry-less feed file a reason) and copying what it
# found. Keep them exact: a regression in the parser, the fast path or local.py moves them.
FILES = 2108  # every file under the corpus, LICENSE included
STORED_FILES = 553  # files with at least one story stored
SKIPPED_FILES = 1555  # files with nothing stored, each with its reason(s)
STORIES = 573  # stories stored when each file is its own source
REASONS = Counter({  # why files (or their entries) were skipped, entry numbers dropped
    "feed has no entries": 904,  # channel/feed metadata tests: no <item>/<entry> at all
    "entry N: no title, text or link": 643,  # entries that carry only author, date…
    "not a feed: no RSS, Atom or JSON Feed content": 7,  # CDF <CHANNEL> without <ITEM>
    "not a feed: <unknown>:6:0: no element found": 1,  # illformed/rss_empty_document.xml
    "unsupported file type (no extension)": 1,  # LICENSE, as a single-file source
})
DIR_STORIES = 108  # one source for the whole directory: entries sharing a guid are one story


@pytest.fixture(scope="module")
def per_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], IngestReport, Path]:
    """One ingest whose sources are the corpus files, one source per file, so each
    file's outcome is its own report. Watchlists and clustering run as in the CLI."""
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    db = tmp_path_factory.mktemp("corpus") / "db.json"
    store = Store(db)
    specs = [SourceSpec(name=p.relative_to(CORPUS).as_posix(), path=p) for p in files]
    report = ingest(store, specs, Watcher(load_watchset(watchlist_paths([]), store)),
                    ClusterService())
    return files, report, db


def _reason(line: str, path: Path) -> str:
    assert line.startswith(f"{path}: "), line
    return re.sub(r"^entry \d+:", "entry N:", line[len(f"{path}: "):])


def test_every_file_is_stored_or_skipped_with_a_reason(per_file) -> None:
    files, report, db = per_file
    assert len(files) == len(report.sources) == FILES
    stored, skipped, reasons = [], [], Counter()
    for path, source in zip(files, report.sources, strict=True):
        assert source.location == str(path)
        lines = source.skipped + ([source.error] if source.error else [])
        for line in lines:
            assert "\n" not in line and line.strip() == line, repr(line)
            reason = _reason(line, path)
            # a parser exception caught by the last-resort handlers is a crash, not a skip
            assert not reason.startswith(("failed:", "feed parser failed:")), line
            reasons[reason] += 1
        if source.counts.new:
            stored.append(path)
        else:
            assert lines, f"{path}: nothing stored and no reason given"
            skipped.append(path)
    assert (len(stored), len(skipped)) == (STORED_FILES, SKIPPED_FILES)
    assert reasons == REASONS
    assert sum(s.counts.new for s in report.sources) == STORIES
    assert Store(db).count("stories") == STORIES  # a fresh reader sees them all


def test_directory_ingest_through_the_cli(per_file, tmp_path: Path) -> None:
    """`newswatch ingest <corpus>`: one line per skipped file, the same files as above
    (LICENSE aside: a directory walk passes over unknown file types), and a rerun that
    stores nothing twice."""
    files, report, _ = per_file
    db = str(tmp_path / "db.json")
    done = cli("ingest", str(CORPUS), "--db", db)
    assert_no_traceback(done)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    skip_lines = [line for line in lines if line.startswith("  skipped ")]
    assert len(skip_lines) == REASONS.total() - 1
    named = {line.removeprefix("  skipped ").split(": ", 1)[0] for line in skip_lines}
    by_report = {str(path) for path, s in zip(files, report.sources, strict=True)
                 if s.skipped and not s.error}
    assert named == by_report
    rest = [line for line in lines if not line.startswith("  skipped ")]
    assert rest[0] == f"feedparser-tests: {DIR_STORIES} new, 0 updated, 0 unchanged"
    assert rest[-1].startswith(f"ingested 1 source(s): {DIR_STORIES} new, 0 updated, 0 failed")

    again = cli("ingest", str(CORPUS), "--db", db)
    assert again.returncode == 0
    assert f"feedparser-tests: 0 new, 0 updated, {DIR_STORIES} unchanged" in again.stderr
    assert Store(db).count("stories") == DIR_STORIES
