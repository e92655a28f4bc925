"""The TinyDB store: the only module that imports TinyDB.

Layout on disk, for a store at ``newswatch.json``:

    newswatch.json          TinyDB file with one table, ``meta``: the schema version and the
                            manifest naming the current generation of every other table
    newswatch.json.tables/  one TinyDB file per table and generation (stories.7.json,
                            alerts.7.json, clusters.3.json…): metadata without full texts
    newswatch.json.texts/   full texts in append-only TinyDB segment files (~4 MB each)
    newswatch.json.blobs/   opaque state such as the clusterer's index, by generation
    newswatch.json.lock     inter-process lock (flock)

Why: a TinyDB JSON file is rewritten and re-read whole. Keeping texts apart means a batch
never rewrites the hundreds of MB of text; keeping each table in its own file means a
reader loads only the tables it needs (the desk's first screen reads alerts, not 100k
stories) and a batch rewrites only the tables it changed. A commit writes the changed
tables as new generations, then atomically replaces the manifest that names them; every
write is temp file + fsync + rename. A killed process therefore leaves the previous or
the next consistent version, never a torn one. Commits happen under an exclusive file
lock; readers notice another process's commit by the manifest's stat signature.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
from filelock import FileLock, Timeout
from tinydb import TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import Storage
from tinydb.table import Document, Table

from newswatch.errors import StoreError
from newswatch.files import Blobs, Segments, atomic_write, make_dir

SCHEMA_VERSION = 2
LOCK_TIMEOUT_S = 60.0

Doc = dict[str, Any]


# --------------------------------------------------------------------------- TinyDB parts


class AtomicJSONStorage(Storage):
    """TinyDB storage: orjson, and every write is temp file + fsync + atomic rename."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read store: {exc.strerror or exc}") from exc
        if not raw.strip():
            return None
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise StoreError(f"{self.path}: store file is not valid JSON ({exc}); "
                             "it was left untouched") from exc
        if not isinstance(data, dict):
            raise StoreError(f"{self.path}: not a TinyDB file (top level is not an object)")
        return data

    def write(self, data: Mapping[str, Mapping[str, Any]]) -> None:
        atomic_write(self.path, orjson.dumps(data))

    def close(self) -> None:
        pass


class _HeldCache(CachingMiddleware):
    """CachingMiddleware that only writes when the store commits a transaction."""

    WRITE_CACHE_SIZE = 2**62

    def invalidate(self) -> None:
        self.cache = None
        self._cache_modified_count = 0


class _KeyedTable(Table):
    """Tables keyed by our own string ids (story id, alert id…), not TinyDB's ints."""

    document_id_class = str


class _KeyedTinyDB(TinyDB):
    table_class = _KeyedTable


# --------------------------------------------------------------------------- the store


class Store:
    """A newswatch store on one TinyDB file. Safe to share between threads and processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.path.parent}: cannot create store directory: "
                             f"{exc.strerror or exc}") from exc
        self._segments = Segments(self.path.with_name(self.path.name + ".texts"))
        self._blobs = Blobs(self.path.with_name(self.path.name + ".blobs"))
        self._tables_dir = self.path.with_name(self.path.name + ".tables")
        self._tables: dict[str, tuple[int, dict[str, Doc]]] = {}
        self._lock = FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT_S)
        self._mutex = threading.RLock()
        self._db = _KeyedTinyDB(self.path, storage=_HeldCache(AtomicJSONStorage))
        self._middleware: _HeldCache = self._db.storage  # type: ignore[assignment]
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
            self._signature = sig

    def _check_schema(self) -> None:
        with self._mutex:
            self._refresh()
            meta = self._db.table("meta").get(doc_id="schema")
            if meta is None:
                if any(name != "meta" for name in self._db.tables()):
                    raise StoreError(f"{self.path}: this TinyDB file is not a newswatch store "
                                     "(no schema record); point --db at another file")
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

    # ----------------------------------------------------------------- reads

    def _gen(self, table: str) -> int:
        entry = self._db.table("meta").get(doc_id=f"table:{table}")
        return entry["gen"] if entry else 0

    def _table_path(self, table: str, gen: int) -> Path:
        return self._tables_dir / f"{table}.{gen}.json"

    def _raw(self, table: str) -> dict[str, Doc]:
        """The committed documents of a table (cached per generation). Caller holds
        the mutex and has refreshed."""
        if table == "meta":
            return (self._middleware.read() or {}).get("meta", {})
        gen = self._gen(table)
        cached = self._tables.get(table)
        if cached is not None and cached[0] == gen:
            return cached[1]
        if gen == 0:
            data: dict[str, Doc] = {}
        else:
            try:
                raw = AtomicJSONStorage(self._table_path(table, gen)).read()
            except StoreError:
                raise
            if raw is None:
                raise StoreError(f"{self._table_path(table, gen)}: table file missing; "
                                 "the store was damaged outside newswatch")
            data = raw.get(table, {})
        self._tables[table] = (gen, data)
        return data

    def get(self, table: str, key: str) -> Doc | None:
        with self._mutex:
            self._refresh()
            doc = self._raw(table).get(key)
            return dict(doc) if doc is not None else None

    def get_many(self, table: str, keys: Iterable[str]) -> dict[str, Doc]:
        with self._mutex:
            self._refresh()
            raw = self._raw(table)
            return {key: dict(raw[key]) for key in keys if key in raw}

    def items(self, table: str) -> list[tuple[str, Mapping[str, Any]]]:
        """Every (key, document) of a table, without copying: treat them as read-only.

        A commit replaces changed documents with new dicts and never edits one in place,
        so what this returns stays a consistent snapshot."""
        with self._mutex:
            self._refresh()
            return list(self._raw(table).items())

    def count(self, table: str) -> int:
        with self._mutex:
            self._refresh()
            return len(self._raw(table))

    def texts(self, keys: Iterable[str]) -> dict[str, str]:
        """Full texts of the given story ids (missing ones are left out)."""
        heads = self.get_many("stories", keys)
        refs = {k: tuple(d["text"]) for k, d in heads.items() if d.get("text")}
        with self._mutex:
            return self._segments.read(refs)  # type: ignore[arg-type]

    def get_blob(self, name: str) -> bytes | None:
        """The committed generation of a blob (see :class:`Blobs`), or None."""
        meta = self.get("meta", f"blob:{name}")
        return self._blobs.read(name, meta["gen"]) if meta else None

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
        for sid, ref in placed.items():
            doc = stories.get(sid)
            if doc is None:  # text changed for an otherwise untouched story
                doc = tx.get("stories", sid)
                if doc is None:
                    continue
                stories[sid] = doc
            doc["text"] = list(ref)
        new_tables: dict[str, tuple[int, dict[str, Doc]]] = {}
        for name, changes in list(tx.staged.items()):
            if name == "meta" or not changes:
                continue
            data = dict(self._raw(name))
            for key, doc in changes.items():
                if doc is None:
                    data.pop(key, None)
                else:
                    data[key] = doc
            gen = self._gen(name) + 1
            make_dir(self._tables_dir)
            AtomicJSONStorage(self._table_path(name, gen)).write({name: data})
            tx.put("meta", f"table:{name}", {"gen": gen})
            new_tables[name] = (gen, data)
        try:
            changes = tx.staged.get("meta", {})
            table = self._db.table("meta")
            existing = [k for k in changes if table.contains(doc_id=k)]
            if existing:
                table.remove(doc_ids=existing)
            docs = [Document(doc, doc_id=k) for k, doc in changes.items() if doc is not None]
            if docs:
                table.insert_multiple(docs)
            self._middleware.flush()
        except BaseException:
            # Memory may now be ahead of the file: forget it and re-read on next access.
            self._middleware.invalidate()
            self._db.clear_cache()
            self._signature = None
            raise
        self._tables.update(new_tables)
        for name, (gen, _) in new_tables.items():
            self._prune(name, keep_from=gen - 1)
        self._signature = self._stat_signature()
        for name, gen in written.items():
            self._blobs.prune(name, keep_from=gen - 1)


    def _prune(self, table: str, keep_from: int) -> None:
        for path in self._tables_dir.glob(f"{table}.*.json"):
            gen = path.name[len(table) + 1:-5]
            if gen.isdigit() and int(gen) < keep_from:
                with contextlib.suppress(OSError):
                    path.unlink()


class Transaction:
    """Changes staged under the store's exclusive lock; see :meth:`Store.transaction`."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.staged: dict[str, dict[str, Doc | None]] = {}
        self.staged_texts: dict[str, str] = {}
        self.staged_blobs: dict[str, bytes] = {}

    @property
    def store(self) -> Store:
        return self._store

    def get(self, table: str, key: str) -> Doc | None:
        changes = self.staged.get(table, {})
        if key in changes:
            doc = changes[key]
            return dict(doc) if doc is not None else None
        doc = self._store._raw(table).get(key)
        return dict(doc) if doc is not None else None

    def put(self, table: str, key: str, doc: Doc) -> None:
        self.staged.setdefault(table, {})[key] = doc

    def delete(self, table: str, key: str) -> None:
        self.staged.setdefault(table, {})[key] = None

    def put_text(self, story_key: str, text: str) -> None:
        self.staged_texts[story_key] = text

    def put_blob(self, name: str, data: bytes) -> None:
        """Replace a blob; written as a new generation when the transaction commits."""
        self.staged_blobs[name] = data


# Schema migrations: old version -> function that rewrites the store to SCHEMA_VERSION
# inside one transaction. Version 1 is the first released layout, so nothing migrates yet.
MIGRATIONS: dict[int, Callable[[Transaction], None]] = {}
