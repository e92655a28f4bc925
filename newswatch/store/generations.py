"""Where a table's shard and index files live, one file per generation
(``stories.12.7.json``: shard 12 as of generation 7; ``stories.index.7.json``), and the
removal of the generations a commit superseded."""

from __future__ import annotations

import contextlib
from pathlib import Path

from newswatch.store.shards import Layout


def shard_path(tables_dir: Path, table: str, shard: int, gen: int) -> Path:
    return tables_dir / f"{table}.{shard}.{gen}.json"


def index_path(tables_dir: Path, table: str, gen: int) -> Path:
    return tables_dir / f"{table}.index.{gen}.json"


def prune(tables_dir: Path, table: str, old: Layout, new: Layout) -> None:
    """Delete the files that the replaced generations superseded: each rewritten shard
    (and the index) keeps its new file and the one before, for readers mid-read."""
    doomed: list[tuple[str, int]] = [
        (f"{table}.{shard}.", old.shards[shard])
        for shard in range(len(old.shards)) if new.shards[shard] != old.shards[shard]]
    if new.index != old.index:
        doomed.append((f"{table}.index.", old.index))
    for prefix, keep_from in doomed:
        for path in tables_dir.glob(f"{prefix}*.json"):
            gen = path.name[len(prefix):-5]
            if gen.isdigit() and int(gen) < keep_from:
                with contextlib.suppress(OSError):
                    path.unlink()
