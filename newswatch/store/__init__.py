"""The TinyDB store (this package is the only place that imports TinyDB).

Layout on disk, for a store at ``newswatch.json``:

    newswatch.json          TinyDB file with one table, ``meta``: the schema version and the
                            manifest naming the current generation of every other table
    newswatch.json.tables/  each table as shards of <= 2,000 documents, one TinyDB file
                            per shard and generation (stories.12.7.json: shard 12, gen 7),
                            plus a key -> shard index (stories.index.7.json); metadata
                            without full texts
    newswatch.json.texts/   full texts in append-only TinyDB segment files (~4 MB each)
    newswatch.json.blobs/   opaque state such as the clusterer's index, by generation
    newswatch.json.lock     inter-process lock (flock)
    newswatch.json.emit.lock  held by the one headless process delivering alerts

Why: a TinyDB JSON file is rewritten and re-read whole. Keeping texts apart means a batch
never rewrites the hundreds of MB of text; keeping each table in its own file means a
reader loads only the tables it needs (the desk's first screen reads alerts, not 100k
stories); sharding means a batch rewrites only the shards it changed (new keys fill the
last shard) and a lookup by key reads one shard (see :mod:`newswatch.store.shards`). A commit
writes the changed shards as new generations, then atomically replaces the manifest that
names them; every
write is temp file + fsync + rename. A killed process therefore leaves the previous or
the next consistent version, never a torn one. Commits happen under an exclusive file
lock; readers notice another process's commit by the manifest's stat signature.
"""

from newswatch.errors import StoreError
from newswatch.store.paths import store_path
from newswatch.store.store import SCHEMA_VERSION, Doc, Store
from newswatch.store.transaction import Transaction

__all__ = ["SCHEMA_VERSION", "Doc", "Store", "StoreError", "Transaction", "store_path"]
