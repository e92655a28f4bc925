"""Clustering throughput: 100,000 generated ~3 KB stories through one Clusterer, one core.

    .venv/bin/python benchmarks/bench_cluster.py [--stories 100000] [--events 20000] [--days 0]
    .venv/bin/python benchmarks/bench_cluster.py --features   # main-process part only

Stories are built from ECB+ sentences (benchmarks/data/ecbplus.jsonl): each belongs to one
of `--events` synthetic events (a base ECB+ article plus three invented names and a
number) and mixes sentences of the base article with random corpus sentences and event
names. By default every story has the same date, so the time window never evicts and the
active set grows to its cap -- the worst case for the index. `--days N` spreads the
stream evenly over N days instead. Prints ms per 1,000 stories over each stretch ending
at 10k, 25k, 50k and 100k stored, the total, state size and reload time. `--features`
computes every story's features before the clock starts, as the product does in its parse
workers, so only the clustering process's own part of `add` is timed.
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newswatch.cluster import Clusterer, ClusterInput, Params  # noqa: E402
from newswatch.cluster_features import Features  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "ecbplus.jsonl"
_SPLIT = re.compile(r"(?<=[.!?])\s+|\n")
SYL = ["ka", "lo", "mi", "ra", "zen", "tor", "vik", "an", "el", "bur", "stad", "ov", "ski",
       "ham", "ton", "ville"]


def stream(n: int, n_events: int, days: float, seed: int = 0) -> list[ClusterInput]:
    rnd = random.Random(seed)
    with DATA.open("rb") as f:
        docs = [orjson.loads(line) for line in f]
    sents = [s for d in docs for s in _SPLIT.split(d["text"]) if len(s) > 30]

    def name() -> str:
        return "".join(rnd.choice(SYL) for _ in range(rnd.randint(2, 4))).capitalize()

    events = []
    for _ in range(n_events):
        ents = [f"{name()} {name()}" for _ in range(3)] + [str(rnd.randint(10, 9999))]
        events.append((rnd.choice(docs), ents))
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        base, ents = events[rnd.randrange(n_events)]
        bs = _SPLIT.split(base["text"])
        parts = rnd.sample(bs, min(len(bs), 6))
        while sum(map(len, parts)) < 2900:
            s = rnd.choice(sents)
            if rnd.random() < 0.5:
                s = f"{s} {rnd.choice(ents)} said."
            elif rnd.random() < 0.3:
                s = f"{name()} {s}"
            parts.append(s)
        title = f"{base['title'][:80]} {ents[0]}"
        when = (t0 + timedelta(days=days * i / n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append(ClusterInput(f"s{i}", title, " ".join(parts)[:3200], f"src{i % 40}",
                                when, when))
    return out


CHUNK = 500  # stories featurised together (the ingest does a whole batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stories", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--days", type=float, default=0.0)
    ap.add_argument("--save", type=Path, help="also write the final state to this file")
    ap.add_argument("--features", action="store_true",
                    help="precompute story features (as parse workers do); time the rest")
    a = ap.parse_args()
    items = stream(a.stories, a.events, a.days)
    if a.features:
        packed = Features(Params()).stories([(x.title, x.text) for x in items])
        items = [replace(x, features=f) for x, f in zip(items, packed.unpack(), strict=True)]
    size = sum(len(x.text) + len(x.title) for x in items) / len(items)
    print(f"{len(items):,} stories, mean {size:,.0f} chars, {a.events:,} events, "
          f"spread over {a.days:g} days{', features precomputed' if a.features else ''}")
    marks = [m for m in (10_000, 25_000, 50_000, 100_000) if m <= len(items)]
    if len(items) not in marks:
        marks.append(len(items))
    c = Clusterer()
    print("ms per 1,000 stories over the stretch ending at `stored` (wall clock and CPU time)")
    print(f"{'stored':>8s} {'wall ms':>8s} {'cpu ms':>7s} {'total s':>8s} {'active':>7s}")
    t0 = prev_t = time.perf_counter()
    c0 = prev_c = time.process_time()
    prev = 0
    for i, x in enumerate(items, 1):
        if not a.features and (i - 1) % CHUNK == 0:  # featurised a chunk at a time, as the
            chunk = items[i - 1 : i - 1 + CHUNK]  # ingest featurises each batch
            items[i - 1 : i - 1 + CHUNK] = [
                replace(y, features=f) for y, f in zip(
                    chunk, c.featurise([(y.title, y.text) for y in chunk]), strict=True)]
            x = items[i - 1]
        c.add(x)
        if i in marks:
            now, cpu = time.perf_counter(), time.process_time()
            k = (i - prev) / 1000
            print(f"{i:8,d} {(now - prev_t) * 1000 / k:8.0f} {(cpu - prev_c) * 1000 / k:7.0f}"
                  f" {now - t0:8.1f} {len(c.clusters):7,d}", flush=True)
            prev_t, prev_c, prev = now, cpu, i
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"total {total:.1f} s wall, {cpu:.1f} s CPU for {len(items):,} stories "
          f"({total / len(items) * 1000:.3f} ms/story wall)")
    t = time.perf_counter()
    b = c.to_bytes()
    dump = time.perf_counter() - t
    t = time.perf_counter()
    Clusterer.from_bytes(b)
    load = time.perf_counter() - t
    # a restart: a fresh process reads the file and rebuilds the clusterer
    with tempfile.TemporaryDirectory() as tmp:
        path = a.save or Path(tmp) / "state.bin"
        path.write_bytes(b)
        code = ("import sys, time; from pathlib import Path; sys.path.insert(0, sys.argv[2]); "
                "from newswatch.cluster import Clusterer; t = time.perf_counter(); "
                "Clusterer.from_bytes(Path(sys.argv[1]).read_bytes()); "
                "print(time.perf_counter() - t)")
        out = subprocess.run([sys.executable, "-c", code, str(path), str(ROOT)],
                             capture_output=True, text=True, check=True).stdout
    print(f"state {len(b):,} bytes ({len(b) / 1e6:.1f} MB), to_bytes {dump:.3f} s, "
          f"from_bytes {load:.3f} s in this process, {float(out):.3f} s read + load in a "
          f"fresh process")


if __name__ == "__main__":
    main()
