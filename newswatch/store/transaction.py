"""A Transaction: changes staged under the store's exclusive lock, read through to the
committed documents, and written by :meth:`Store.transaction` when the block ends."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newswatch.store.store import Store

Doc = dict[str, Any]


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
        doc = self._store._doc(table, key)
        return dict(doc) if doc is not None else None

    def committed(self, table: str, key: str) -> Doc | None:
        """A document as it was before this transaction (a copy), whatever is staged."""
        doc = self._store._doc(table, key)
        return dict(doc) if doc is not None else None

    def get_many(self, table: str, keys: Iterable[str]) -> dict[str, Doc]:
        """``get`` of many keys: the documents found (copies), staged changes first."""
        changes = self.staged.get(table, {})
        keys = list(keys)
        committed = self._store._docs(table, [k for k in keys if k not in changes])
        out = {}
        for key in keys:
            doc = changes[key] if key in changes else committed.get(key)
            if doc is not None:
                out[key] = dict(doc)
        return out

    def put(self, table: str, key: str, doc: Doc) -> None:
        self.staged.setdefault(table, {})[key] = doc

    def delete(self, table: str, key: str) -> None:
        self.staged.setdefault(table, {})[key] = None

    def put_text(self, story_key: str, text: str) -> None:
        self.staged_texts[story_key] = text

    def put_blob(self, name: str, data: bytes) -> None:
        """Replace a blob; written as a new generation when the transaction commits."""
        self.staged_blobs[name] = data
