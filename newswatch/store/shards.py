"""How one logical store table is laid out as shard files plus a key index.

A table is a list of shards (each a file of at most ``SHARD_DOCS`` documents) and an index
file mapping every key to its shard. New keys fill the last shard, then open a new one, so
a batch of new stories rewrites one or two small shards and the index, never the whole
table; an update rewrites only the shards holding the changed keys. Pure bookkeeping: the
store reads and writes the files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SHARD_DOCS = 2000

Doc = dict[str, Any]


@dataclass(slots=True)
class Layout:
    """The manifest record of one table (``table:<name>`` in the ``meta`` table)."""

    gen: int = 0  # bumped by every commit that changes the table
    shards: list[int] = field(default_factory=list)  # generation of each shard's file
    sizes: list[int] = field(default_factory=list)  # documents in each shard
    index: int = 0  # generation of the key index file; 0 = no keys yet

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> Layout:
        if not doc or "shards" not in doc:  # none yet, or a schema-2 single file
            return cls()
        return cls(doc["gen"], list(doc["shards"]), list(doc["sizes"]), doc["index"])

    def to_doc(self) -> Doc:
        return {"gen": self.gen, "shards": self.shards, "sizes": self.sizes,
                "index": self.index}


@dataclass(slots=True)
class Plan:
    """What one commit does to a table."""

    layout: Layout  # the new manifest record
    by_shard: dict[int, dict[str, Doc | None]]  # shard -> its changed keys (None = delete)
    index: dict[str, int] | None  # the new key index, or None when no key came or went


def plan(layout: Layout, index: Mapping[str, int], changes: Mapping[str, Doc | None]
         ) -> Plan:
    """Place each change in a shard: existing keys where they live, new keys in the last
    shard until it holds ``SHARD_DOCS``, then in new shards."""
    gen = layout.gen + 1
    new = Layout(gen, list(layout.shards), list(layout.sizes), layout.index)
    by_shard: dict[int, dict[str, Doc | None]] = {}
    added: dict[str, int] = {}
    removed: list[str] = []
    for key, doc in changes.items():
        shard = index.get(key)
        if shard is None:
            if doc is None:
                continue  # deleting a key that was never stored
            if not new.sizes or new.sizes[-1] >= SHARD_DOCS:
                new.shards.append(0)
                new.sizes.append(0)
            shard = len(new.sizes) - 1
            new.sizes[shard] += 1
            added[key] = shard
        elif doc is None:
            new.sizes[shard] -= 1
            removed.append(key)
        by_shard.setdefault(shard, {})[key] = doc
    for shard in by_shard:
        new.shards[shard] = gen
    new_index = None
    if added or removed:
        new_index = dict(index)
        new_index.update(added)
        for key in removed:
            del new_index[key]
        new.index = gen
    return Plan(new, by_shard, new_index)


def index_doc(index: Mapping[str, int], shards: int) -> Doc:
    """The index file's content: the keys of each shard, in shard order (compact)."""
    keys: list[list[str]] = [[] for _ in range(shards)]
    for key, shard in index.items():
        keys[shard].append(key)
    return {"keys": keys}


def index_from_doc(doc: Mapping[str, Any]) -> dict[str, int]:
    return {key: shard for shard, keys in enumerate(doc["keys"]) for key in keys}
