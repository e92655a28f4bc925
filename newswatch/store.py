"""The TinyDB store: the only module that imports TinyDB.

Layout on disk, for a store at ``newswatch.json``:

    newswatch.json          TinyDB file: every table except full texts (stories' metadata,
                            alerts, clusters, feed state, meta/schema)
    newswatch.json.lock     inter-process lock (flock)
    newswatch.json.texts/   full texts in append-only TinyDB segment files (~4 MB each)

Why: a TinyDB JSON file is rewritten whole on every write. Keeping texts apart means a
batch rewrites the metadata file (~0.4 KB per story) plus one small open text segment,
never the hundreds of MB of text. Every write goes to a temp file, is fsynced and
atomically renamed, so a killed process leaves the previous or the next version, never a
torn file. A batch of changes is staged in a :class:`Transaction` and committed as one
write under an exclusive file lock; readers notice another process's commit by the
file's stat signature and reload.
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
from newswatch.files import Blobs, Segments, atomic_write

SCHEMA_VERSION = 1
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

    def get(self, table: str, key: str) -> Doc | None:
        with self._mutex:
            self._refresh()
            doc = self._db.table(table).get(doc_id=key)
            return dict(doc) if doc is not None else None

    def get_many(self, table: str, keys: Iterable[str]) -> dict[str, Doc]:
        with self._mutex:
            self._refresh()
            tbl = self._db.table(table)
            found: dict[str, Doc] = {}
            for key in keys:
                doc = tbl.get(doc_id=key)
                if doc is not None:
                    found[key] = dict(doc)
            return found

    def items(self, table: str) -> list[tuple[str, Mapping[str, Any]]]:
        """Every (key, document) of a table, without copying: treat them as read-only.

        A commit replaces changed documents with new dicts and never edits one in place,
        so what this returns stays a consistent snapshot."""
        with self._mutex:
            self._refresh()
            raw = self._middleware.read() or {}
            return list(raw.get(table, {}).items())

    def count(self, table: str) -> int:
        with self._mutex:
            self._refresh()
            return len(self._db.table(table))

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
        try:
            for name, changes in tx.staged.items():
                if not changes:
                    continue
                table = self._db.table(name)
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
        self._signature = self._stat_signature()
        for name, gen in written.items():
            self._blobs.prune(name, keep_from=gen - 1)


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
        doc = self._store._db.table(table).get(doc_id=key)
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
