"""The Store: sharded tables under a TinyDB manifest, texts and blobs beside
it, atomic commits under an inter-process lock (the layout: :mod:`newswatch.store`)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from tinydb.table import Document

from newswatch.errors import StoreError
from newswatch.store.files import Blobs, Segments, fsync_dir, make_dir
from newswatch.store.generations import index_path, prune, shard_path
from newswatch.store.migrations import MIGRATIONS
from newswatch.store.paths import refuse_orphaned_data, store_path
from newswatch.store.shards import Layout, index_doc, index_from_doc, plan
from newswatch.store.tiny import AtomicJSONStorage, HeldCache, KeyedTinyDB
from newswatch.store.transaction import Transaction

SCHEMA_VERSION = 3
DEAD_TEXT = "texts:dead"  # meta record: bytes of replaced texts left in the segments
LOCK_TIMEOUT_S = 60.0

Doc = dict[str, Any]


def _damaged(path: Path) -> StoreError:
    return StoreError(f"{path}: damaged table file (not what newswatch writes); restore the "
                      "store from a backup")


class Store:
    """A newswatch store on one TinyDB file. Safe to share between threads and processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = store_path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.path.parent}: cannot create store directory: "
                             f"{exc.strerror or exc}") from exc
        self._segments = Segments(self.path.with_name(self.path.name + ".texts"))
        self._blobs = Blobs(self.path.with_name(self.path.name + ".blobs"))
        self._tables_dir = self.path.with_name(self.path.name + ".tables")
        # caches, each entry tagged with the generation it was read at:
        self._shards: dict[tuple[str, int], tuple[int, dict[str, Doc]]] = {}
        self._indexes: dict[str, tuple[int, dict[str, int]]] = {}
        self._tables: dict[str, tuple[int, dict[str, Doc]]] = {}  # whole tables, merged
        self._layouts: dict[str, Layout] = {}  # from the manifest in memory; cleared with it
        self._lock = FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT_S)
        self._mutex = threading.RLock()
        self._db = KeyedTinyDB(self.path, storage=HeldCache(AtomicJSONStorage))
        self._middleware: HeldCache = self._db.storage  # type: ignore[assignment]
        self._signature: tuple[int, int, int] | None = None
        self._check_schema()

    # ----------------------------------------------------------------- lifecycle

    def close(self) -> None:
        with self._mutex:
            self._middleware.invalidate()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stat_signature(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _refresh(self) -> None:
        """Drop the in-memory copy if another process (or thread) committed since."""
        sig = self._stat_signature()
        if sig != self._signature:
            self._middleware.invalidate()
            self._db.clear_cache()
            self._layouts.clear()
            self._signature = sig

    def _check_schema(self) -> None:
        with self._mutex:
            self._refresh()
            try:
                meta = self._db.table("meta").get(doc_id="schema")
                if meta is not None and not isinstance(meta, dict):
                    raise TypeError("schema record")
                tables = self._db.tables()
            except (AttributeError, TypeError, ValueError, KeyError):
                raise StoreError(f"{self.path}: damaged store file (its records are not what "
                                 "newswatch writes); restore it from a backup") from None
            if meta is None:
                if any(name != "meta" for name in tables):
                    raise StoreError(f"{self.path}: this TinyDB file is not a newswatch store "
                                     "(no schema record); point --db at another file")
                refuse_orphaned_data(self.path, (self._tables_dir, self._segments.dir,
                                                 self._blobs.dir))
                with self.transaction() as tx:
                    if tx.get("meta", "schema") is None:
                        tx.put("meta", "schema", {"version": SCHEMA_VERSION})
                return
            version = meta.get("version")
            if version == SCHEMA_VERSION:
                return
            if isinstance(version, int) and version > SCHEMA_VERSION:
                raise StoreError(f"{self.path}: store has schema {version}, newer than this "
                                 f"newswatch understands ({SCHEMA_VERSION}); upgrade newswatch")
            migrate = MIGRATIONS.get(version) if isinstance(version, int) else None
            if migrate is None:
                raise StoreError(f"{self.path}: store has schema {version!r}, which cannot be "
                                 f"migrated to {SCHEMA_VERSION}; ingest into a new --db")
            with self.transaction() as tx:
                migrate(tx)
                tx.put("meta", "schema", {"version": SCHEMA_VERSION})
            if version == 2:  # committed: the single-file tables are garbage now
                for path in self._tables_dir.glob("*.json"):
                    if path.name.count(".") == 2:  # stories.7.json, not stories.0.7.json
                        path.unlink(missing_ok=True)

    # ----------------------------------------------------------------- reads

    def _layout(self, table: str) -> Layout:
        layout = self._layouts.get(table)
        if layout is None:
            try:
                layout = Layout.from_doc(self._db.table("meta").get(doc_id=f"table:{table}"))
            except (KeyError, TypeError, ValueError):
                raise StoreError(f"{self.path}: damaged store file (the record of table "
                                 f"{table!r}); restore it from a backup") from None
            self._layouts[table] = layout
        return layout

    def _read_file(self, path: Path) -> dict[str, Any]:
        raw = AtomicJSONStorage(path).read()
        if raw is None:
            raise StoreError(f"{path}: table file missing; the store was damaged outside "
                             "newswatch")
        if not isinstance(raw, dict):
            raise _damaged(path)
        return raw

    def _index(self, table: str, layout: Layout) -> dict[str, int]:
        """Key -> shard of a table (cached per generation)."""
        cached = self._indexes.get(table)
        if cached is not None and cached[0] == layout.index:
            return cached[1]
        index: dict[str, int] = {}
        if layout.index:
            path = index_path(self._tables_dir, table, layout.index)
            try:
                index = index_from_doc(self._read_file(path))
            except (KeyError, TypeError):
                raise _damaged(path) from None
        self._indexes[table] = (layout.index, index)
        return index

    def _shard(self, table: str, shard: int, layout: Layout) -> dict[str, Doc]:
        gen = layout.shards[shard]
        cached = self._shards.get((table, shard))
        if cached is not None and cached[0] == gen:
            return cached[1]
        path = shard_path(self._tables_dir, table, shard, gen)
        data = self._read_file(path).get(table, {})
        if not isinstance(data, dict) or not all(isinstance(d, dict) for d in data.values()):
            raise _damaged(path)
        self._shards[(table, shard)] = (gen, data)
        return data

    def _doc(self, table: str, key: str) -> Doc | None:
        """One committed document, reading only its shard. Caller holds the mutex and
        has refreshed."""
        if table == "meta":
            return self._raw(table).get(key)
        layout = self._layout(table)
        shard = self._index(table, layout).get(key)
        return None if shard is None else self._shard(table, shard, layout).get(key)

    def _docs(self, table: str, keys: Iterable[str]) -> dict[str, Doc]:
        """``_doc`` of many keys (those found), the table's layout and index looked up once."""
        if table == "meta":
            raw = self._raw(table)
            return {k: raw[k] for k in keys if k in raw}
        layout = self._layout(table)
        index = self._index(table, layout)
        shards: dict[int, dict[str, Doc]] = {}
        out: dict[str, Doc] = {}
        for key in keys:
            shard = index.get(key)
            if shard is None:
                continue
            data = shards.get(shard)
            if data is None:
                data = shards[shard] = self._shard(table, shard, layout)
            doc = data.get(key)
            if doc is not None:
                out[key] = doc
        return out

    def _raw(self, table: str) -> dict[str, Doc]:
        """Every committed document of a table (cached per generation). Caller holds
        the mutex and has refreshed."""
        if table == "meta":
            return (self._middleware.read() or {}).get("meta", {})
        layout = self._layout(table)
        cached = self._tables.get(table)
        if cached is not None and cached[0] == layout.gen:
            return cached[1]
        data: dict[str, Doc] = {}
        for shard in range(len(layout.shards)):
            data.update(self._shard(table, shard, layout))
        self._tables[table] = (layout.gen, data)
        return data

    def get(self, table: str, key: str) -> Doc | None:
        with self._mutex:
            self._refresh()
            doc = self._doc(table, key)
            return dict(doc) if doc is not None else None

    def get_many(self, table: str, keys: Iterable[str]) -> dict[str, Doc]:
        with self._mutex:
            self._refresh()
            return {key: dict(doc) for key, doc in self._docs(table, keys).items()}

    def items(self, table: str) -> list[tuple[str, Mapping[str, Any]]]:
        """Every (key, document) of a table, without copying: treat them as read-only.

        A commit replaces changed documents with new dicts and never edits one in place,
        so what this returns stays a consistent snapshot."""
        with self._mutex:
            self._refresh()
            return list(self._raw(table).items())

    def version(self, table: str) -> int:
        """A number that changes with every commit that changes ``table`` (by any process):
        a reader that saw it unchanged knows the table is as it was."""
        with self._mutex:
            self._refresh()
            return self._layout(table).gen

    def count(self, table: str) -> int:
        with self._mutex:
            self._refresh()
            if table == "meta":
                return len(self._raw(table))
            return len(self._index(table, self._layout(table)))

    def texts(self, keys: Iterable[str], unreadable: set[str] | None = None
              ) -> dict[str, str]:
        """Full texts of the given story ids (missing ones are left out; those stored
        but unreadable, in a damaged or lost segment, are added to ``unreadable``)."""
        heads = self.get_many("stories", keys)
        refs = {k: tuple(d["text"]) for k, d in heads.items() if d.get("text")}
        with self._mutex:
            return self._segments.read(refs, unreadable)  # type: ignore[arg-type]

    def get_blob(self, name: str) -> bytes | None:
        """The committed generation of a blob (see :class:`Blobs`), or None."""
        meta = self.get("meta", f"blob:{name}")
        return self._blobs.read(name, meta["gen"]) if meta else None

    def dead_text_bytes(self) -> int:
        """About how many bytes of the text segments hold replaced texts (counted as texts
        are replaced; ``compact.compact_texts`` resets it)."""
        meta = self.get("meta", DEAD_TEXT)
        return meta["bytes"] if meta else 0

    def disk_bytes(self) -> int:
        size = self.path.stat().st_size if self.path.exists() else 0
        if self._tables_dir.is_dir():
            size += sum(p.stat().st_size for p in self._tables_dir.glob("*.json"))
        return size + self._segments.disk_bytes()

    # ----------------------------------------------------------------- writes

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Stage changes; on a clean exit they are committed as one atomic write."""
        with self._mutex:
            try:
                self._lock.acquire()
            except Timeout as exc:
                raise StoreError(f"{self.path}: store is locked by another process for more "
                                 f"than {LOCK_TIMEOUT_S:.0f} s") from exc
            except OSError as exc:  # e.g. a read-only store directory
                raise StoreError(f"{self._lock.lock_file}: cannot lock the store: "
                                 f"{exc.strerror or exc}") from exc
            try:
                self._refresh()
                tx = Transaction(self)
                yield tx
                self._commit(tx)
            finally:
                self._lock.release()

    def _commit(self, tx: Transaction) -> None:
        if not tx.staged and not tx.staged_texts and not tx.staged_blobs:
            return
        placed = self._segments.append(tx.staged_texts)
        written: dict[str, int] = {}
        for name, data in tx.staged_blobs.items():
            meta = tx.get("meta", f"blob:{name}")
            gen = (meta["gen"] if meta else 0) + 1
            self._blobs.write(name, gen, data)
            tx.put("meta", f"blob:{name}", {"gen": gen})
            written[name] = gen
        stories = tx.staged.setdefault("stories", {})
        dead = 0  # bytes of the texts these replace (see ``dead_text_bytes``)
        for sid, ref in placed.items():
            doc = stories.get(sid)
            if doc is None:  # text changed for an otherwise untouched story
                doc = tx.get("stories", sid)
                if doc is None:
                    continue
                stories[sid] = doc
            if doc.get("text"):
                dead += doc["text"][2]
            doc["text"] = list(ref)
        if dead:
            counted = tx.get("meta", DEAD_TEXT)
            tx.put("meta", DEAD_TEXT, {"bytes": (counted["bytes"] if counted else 0) + dead})
        replaced: list[tuple[str, Layout]] = []  # (table, its layout before this commit)
        cached: list[tuple[str, Layout, dict[int, dict[str, Doc]], dict[str, int] | None]] = []
        for name, changes in list(tx.staged.items()):
            if name == "meta" or not changes:
                continue
            old = self._layout(name)
            step = plan(old, self._index(name, old), changes)
            make_dir(self._tables_dir)
            shards: dict[int, dict[str, Doc]] = {}
            for shard, edits in step.by_shard.items():
                data = dict(self._shard(name, shard, old)) if shard < len(old.shards) else {}
                for key, doc in edits.items():
                    if doc is None:
                        data.pop(key, None)
                    else:
                        data[key] = doc
                AtomicJSONStorage(shard_path(self._tables_dir, name, shard, step.layout.gen)
                                  ).write_unsynced({name: data})
                shards[shard] = data
            if step.index is not None:
                AtomicJSONStorage(index_path(self._tables_dir, name, step.layout.gen)
                                  ).write_unsynced(
                    index_doc(step.index, len(step.layout.shards)))
            tx.put("meta", f"table:{name}", step.layout.to_doc())
            replaced.append((name, old))
            cached.append((name, step.layout, shards, step.index))
        if replaced:
            fsync_dir(self._tables_dir)  # every new shard durable before the manifest
        try:
            changes = tx.staged.get("meta", {})
            table = self._db.table("meta")
            existing = [k for k in changes if table.contains(doc_id=k)]
            if existing:
                table.remove(doc_ids=existing)
            docs = [Document(doc, doc_id=k) for k, doc in changes.items() if doc is not None]
            if docs:
                table.insert_multiple(docs)
            self._layouts.clear()
            self._middleware.flush()
        except BaseException:
            # Memory may now be ahead of the file: forget it and re-read on next access.
            self._middleware.invalidate()
            self._db.clear_cache()
            self._layouts.clear()
            self._signature = None
            raise
        for name, layout, shards, index in cached:
            for shard, data in shards.items():
                self._shards[(name, shard)] = (layout.gen, data)
            if index is not None:
                self._indexes[name] = (layout.gen, index)
        for name, old in replaced:
            prune(self._tables_dir, name, old, self._layout(name))
        self._signature = self._stat_signature()
        for name, gen in written.items():
            self._blobs.prune(name, keep_from=gen - 1)
