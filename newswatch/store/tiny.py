"""TinyDB parts of the store: an atomic orjson storage, a cache that writes only on
commit, and tables keyed by our own string ids."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import Storage
from tinydb.table import Table

from newswatch.errors import StoreError
from newswatch.store.files import atomic_write


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

    def write_unsynced(self, data: Mapping[str, Any]) -> None:
        """Write the file; the caller syncs its directory (one fsync for many files)."""
        atomic_write(self.path, orjson.dumps(data), sync_dir=False)

    def close(self) -> None:
        pass


class HeldCache(CachingMiddleware):
    """CachingMiddleware that only writes when the store commits a transaction."""

    WRITE_CACHE_SIZE = 2**62

    def invalidate(self) -> None:
        self.cache = None
        self._cache_modified_count = 0


class KeyedTable(Table):
    """Tables keyed by our own string ids (story id, alert id…), not TinyDB's ints."""

    document_id_class = str


class KeyedTinyDB(TinyDB):
    table_class = KeyedTable
