"""Ingest benchmark: a 100k-story store, and 200 feeds against newsboat.

    .venv/bin/python benchmarks/bench_ingest.py [--stories 100000] [--skip-feeds] [--skip-store]
                                                [--repeat 3]

Prints a table. Targets (issue 3): with 100,000 stored, ingest 1,000 more in <= 2 s and
`stories --json --limit 200` in <= 1 s, peak RSS <= 600 MB; feeds cold <= 1.0x newsboat's
wall time and warm (every feed answers 304) <= 0.25x.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
FEEDFARM = REPO.parent / "shared" / "tools" / "feedfarm.py"
sys.path.insert(0, str(REPO))

from newswatch.clusters import ClusterService  # noqa: E402
from newswatch.models import Item  # noqa: E402
from newswatch.pipeline import store_results  # noqa: E402
from newswatch.sources import SourceResult, SourceSpec  # noqa: E402
from newswatch.store import Store  # noqa: E402
from newswatch.watching import Watcher, load_watchset  # noqa: E402

WORDS = " ".join(p.read_text() for p in sorted((REPO / "seeds").glob("*.txt"))).split()


def fake_items(source: str, n: int, seed: int, start: int = 0) -> list[Item]:
    rng = random.Random(seed)
    items = []
    for i in range(start, start + n):
        text = " ".join(rng.choices(WORDS, k=480))  # ~3 KB
        title = " ".join(rng.choices(WORDS, k=9))
        published = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00Z"
        items.append(Item(source=source, guid=f"{source}-{i}", title=title, text=text,
                          url=f"https://example.org/{source}/{i}", published=published))
    return items


# Runs commands for the benchmark and reports each one's own peak RSS. A child started
# straight from this (by then large) process inherits its high-water mark at exec, so
# RUSAGE_CHILDREN would report this process's size; the launcher is started while this
# process is still small and reads each child's rusage with wait4.
_LAUNCHER = """
import json, os, subprocess, sys, tempfile, time
for line in sys.stdin:
    argv, cwd = json.loads(line)
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        err.seek(0)
        tail = err.read().decode(errors="replace")
    print(json.dumps([wall, usage.ru_maxrss, proc.returncode, tail]), flush=True)
"""


class Launcher:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def run(self, argv: list[str], cwd: Path) -> tuple[float, float, int, str]:
        """(wall seconds, peak RSS MB, exit code, stderr) of one command."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(orjson.dumps([argv, str(cwd)]).decode() + "\n")
        self.proc.stdin.flush()
        wall, rss_kb, code, err = orjson.loads(self.proc.stdout.readline())
        return wall, rss_kb / 1024, code, err

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()


LAUNCHER: Launcher | None = None


def newswatch(*args: str, db: Path) -> tuple[float, float, str]:
    """Run the CLI; return (wall seconds, peak RSS MB of that child, stderr's last line)."""
    assert LAUNCHER is not None
    wall, rss, code, err = LAUNCHER.run(
        [sys.executable, "-m", "newswatch.cli", "--db", str(db), *args], REPO)
    if code != 0:
        raise SystemExit(f"newswatch {' '.join(args)} failed: {err.strip()}")
    lines = err.strip().splitlines()
    return wall, rss, lines[-1] if lines else ""


def bench_store(n: int, rows: list[tuple[str, str, str]], work: Path) -> None:
    db = work / "store" / "newswatch.json"
    store = Store(db)
    start = time.perf_counter()
    chunk = 5000
    clusters = ClusterService()
    for begin in range(0, n, chunk):
        items = fake_items("bulk", min(chunk, n - begin), seed=begin, start=begin)
        store_results(store, [SourceResult(SourceSpec(name="bulk"), items)], None, clusters)
    bulk = time.perf_counter() - start
    rows.append((f"ingest {n:,} stories into an empty store (store + cluster, batches "
                 f"of {chunk:,})", f"{bulk:.1f} s", "report"))
    # The generated text is soup drawn from the seed articles, so the bundled watchlist
    # would hit every story several times; the bulk load is not matched. Record that the
    # store is current with the bundled watchlist, or the next ingest would re-match all.
    watcher = Watcher(load_watchset([REPO / "watchlists"]))
    with store.transaction() as tx:
        watcher.remember(tx)
    del store

    extra = work / "extra.jsonl"
    with extra.open("wb") as fh:
        for item in fake_items("extra", 1000, seed=999):
            fh.write(orjson.dumps({"id": item.guid, "title": item.title, "text": item.text,
                                   "url": item.url, "published": item.published}) + b"\n")
    extra_plain = work / "extra-plain.jsonl"
    with extra_plain.open("wb") as fh:
        for item in fake_items("plain", 1000, seed=998):
            fh.write(orjson.dumps({"id": item.guid, "title": item.title, "text": item.text,
                                   "url": item.url, "published": item.published}) + b"\n")
    empty = work / "no-watchlists"
    empty.mkdir(exist_ok=True)
    with Store(db).transaction() as tx:  # current with "no watchlists": no re-match
        Watcher(load_watchset([empty])).remember(tx)
    wall, rss, tail = newswatch("--watchlists", str(empty), "ingest", str(extra_plain), db=db)
    rows.append((f"with {n:,} stored: ingest 1,000 more (CLI: store, cluster; no watchlist)",
                 f"{wall:.2f} s", "<= 2 s"))
    # the bulk had no alerts to retire; put the bundled watchlist's fingerprint back so
    # the next ingest does not re-match everything
    with Store(db).transaction() as tx:
        Watcher(load_watchset([REPO / "watchlists"])).remember(tx)
    wall, rss, tail = newswatch("ingest", str(extra), db=db)
    rows.append((f"with {n:,} stored: ingest 1,000 more (CLI: store, match, cluster)",
                 f"{wall:.2f} s", "<= 2 s"))
    rows.append(("  its summary", tail, ""))
    rows.append(("  peak RSS of that ingest", f"{rss:.0f} MB", "<= 600 MB"))
    wall, rss, _ = newswatch("stories", "--json", "--limit", "200", db=db)
    rows.append((f"with {n + 1000:,} stored: stories --json --limit 200", f"{wall:.2f} s",
                 "<= 1 s"))
    rows.append(("  peak RSS of that listing", f"{rss:.0f} MB", "<= 600 MB"))
    meta = (db.stat().st_size + sum(p.stat().st_size for p in
                                    (db.parent / (db.name + ".tables")).iterdir())) / 1e6
    texts = sum(p.stat().st_size for p in (db.parent / (db.name + ".texts")).iterdir()) / 1e6
    rows.append(("size on disk (metadata + texts)", f"{meta:.0f} + {texts:.0f} MB", "report"))


def bench_feeds(rows: list[tuple[str, str, str]], work: Path, feeds: int, items: int,
                repeat: int) -> None:
    port = 18765
    urls = work / "urls.txt"
    farm = subprocess.Popen([sys.executable, str(FEEDFARM), "--feeds", str(feeds), "--items",
                             str(items), "--port", str(port), "--urls-file", str(urls)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert farm.stdout is not None
        farm.stdout.readline()
        newsboat = shutil.which("newsboat")
        cfg = work / "newsboat-config"
        cfg.write_text("")

        def nb_run(cache: Path) -> float | None:
            if not newsboat:
                return None
            return _timed([newsboat, "-u", str(urls), "-c", str(cache), "-C", str(cfg), "-x",
                           "reload"])

        label = f"{feeds} feeds x {items} items"
        empty = work / "no-watchlists"
        empty.mkdir(exist_ok=True)
        # newsboat fetches, parses and stores; newswatch's ingest also clusters every new
        # story (no watchlists: no matching) and, in the second pair, matches them too.
        # Both are disk-bound in part and vary run to run: the cold pair is run `repeat`
        # times, alternately, each on a fresh cache / store; medians are compared.
        nb_colds: list[float] = []
        nb_warm = None
        for what, extra in (("fetch+parse+store+cluster", ["--watchlists", str(empty)]),
                            ("+ match (bundled watchlist)", [])):
            first = not nb_colds
            colds = []
            for r in range(repeat if first else 1):
                if first:
                    cache = work / f"newsboat-{r}.db"
                    nb_cold = nb_run(cache)
                    if nb_cold is not None:
                        nb_colds.append(nb_cold)
                db = work / f"feeds-{len(extra)}-{r}" / "newswatch.json"
                nw_cold, _, cold_tail = newswatch(*extra, "ingest", "--feeds-from", str(urls),
                                                  db=db)
                colds.append(nw_cold)
            if first:
                nb_warm = nb_run(cache)  # the last cold run's cache: every feed answers 304
            nw_warm, _, _ = newswatch(*extra, "ingest", "--feeds-from", str(urls), db=db)
            nw_cold = statistics.median(colds)
            spread = f" ({min(colds):.2f}-{max(colds):.2f})" if len(colds) > 1 else ""
            if nb_colds and nb_warm:
                nb_cold = statistics.median(nb_colds)
                nb_spread = (f" ({min(nb_colds):.2f}-{max(nb_colds):.2f})"
                             if len(nb_colds) > 1 else "")
                runs = f", median of {len(colds)}" if len(colds) > 1 else ""
                rows.append((f"{label}, {what}, cold{runs}: newswatch / newsboat",
                             f"{nw_cold:.2f} s{spread} / {nb_cold:.2f} s{nb_spread} = "
                             f"{nw_cold / nb_cold:.2f}x", "<= 1.0x"))
                rows.append((f"{label}, {what}, warm (304): newswatch / newsboat",
                             f"{nw_warm:.2f} s / {nb_warm:.2f} s = {nw_warm / nb_warm:.2f}x",
                             "<= 0.25x"))
            else:
                rows.append((f"{label}, {what}, cold / warm (no newsboat installed)",
                             f"{nw_cold:.2f} s / {nw_warm:.2f} s", "apt-get install newsboat"))
            rows.append(("  newswatch cold summary", str(cold_tail), ""))
        nb_cold = statistics.median(nb_colds) if nb_colds else None
        # issue 7: the whole headless pipeline (fetch, parse, store, match, cluster, emit)
        config = work / "config.yaml"
        config.write_text(f"db: {work / 'run' / 'newswatch.json'}\n"
                          f"sources:\n  - {{urls: {urls}}}\n")
        run = ["--config", str(config), "run", "--headless", "--once"]
        nw_cold = _timed([sys.executable, "-m", "newswatch.cli", *run], cwd=REPO)
        nw_warm = _timed([sys.executable, "-m", "newswatch.cli", *run], cwd=REPO)
        if nb_cold and nb_warm:
            rows.append((f"{label}, run --headless --once, cold: newswatch / newsboat (median)",
                         f"{nw_cold:.2f} s / {nb_cold:.2f} s = {nw_cold / nb_cold:.2f}x",
                         "<= 1.0x"))
            rows.append((f"{label}, run --headless --once, warm: newswatch / newsboat",
                         f"{nw_warm:.2f} s / {nb_warm:.2f} s = {nw_warm / nb_warm:.2f}x",
                         "<= 0.25x"))
    finally:
        farm.send_signal(signal.SIGTERM)
        farm.wait()


def _timed(cmd: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=False, cwd=cwd)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stories", type=int, default=100_000)
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--skip-store", action="store_true")
    ap.add_argument("--skip-feeds", action="store_true")
    ap.add_argument("--repeat", type=int, default=3,
                    help="cold feed runs of each program, alternating (medians compared)")
    args = ap.parse_args()
    rows: list[tuple[str, str, str]] = []
    global LAUNCHER
    LAUNCHER = Launcher()
    with tempfile.TemporaryDirectory(prefix="nw-bench-") as tmp:
        work = Path(tmp)
        if not args.skip_store:
            bench_store(args.stories, rows, work)
        if not args.skip_feeds:
            bench_feeds(rows, work, args.feeds, args.items, args.repeat)
    LAUNCHER.close()
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':{width}}  {'result':32}  target")
    for name, value, target in rows:
        print(f"{name:{width}}  {value:32}  {target}")
    print(f"(cores: {os.cpu_count()}, python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
