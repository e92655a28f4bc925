"""A process that ingests seeds-like stories in batches through the real pipeline, for the
kill -9 tests: local files read by ``read_local``, matched against the bundled watchlist,
clustered, one transaction per batch, then ``committed B`` on stdout (flushed).

    python tests/reliability/ingest_worker.py DB BATCH_ROOT BATCHES

BATCH_ROOT holds one directory per batch (b0000, b0001…) of .txt stories, made by
``write_batches``. Rerunning the worker over the same store redoes nothing already
committed (every story is unchanged) and finishes the rest."""

from __future__ import annotations

import random
import sys
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
SOURCE = "wire"


def write_batches(root: Path, start: int, stop: int, per_batch: int) -> None:
    """Batches ``start``..``stop - 1``: stories made of sentences of the two bundled seeds,
    shuffled and numbered, so some match the watchlist, clusters form and texts differ."""
    sentences = [s.strip() + "." for p in sorted(SEEDS.glob("*.txt"))
                 for s in p.read_text(encoding="utf-8").replace("\n", " ").split(". ")
                 if len(s.split()) > 4]
    for b in range(start, stop):
        rng = random.Random(b)
        folder = root / f"b{b:04d}"
        folder.mkdir(parents=True)
        for i in range(per_batch):
            body = " ".join(rng.sample(sentences, 4))
            (folder / f"s{b:04d}-{i:02d}.txt").write_text(
                f"Dispatch {b}-{i}: {body.split('.')[0][:80]}\n{body}\nFiled as {b}/{i}.\n",
                encoding="utf-8")


def main() -> None:
    from newswatch.clusters import ClusterService
    from newswatch.pipeline import ingest
    from newswatch.sources import SourceSpec
    from newswatch.store import Store
    from newswatch.watching import Watcher, load_watchset, watchlist_paths

    db, root, batches = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    store = Store(db)
    watcher = Watcher(load_watchset(watchlist_paths([]), store))
    clusters = ClusterService()
    for b in range(batches):
        # one directory per batch, all under one source name: guids are the file names
        report = ingest(store, [SourceSpec(name=SOURCE, path=root / f"b{b:04d}")], watcher,
                        clusters)
        assert not report.all_failed, report.sources[0].error
        print(f"committed {b}", flush=True)


if __name__ == "__main__":
    main()
