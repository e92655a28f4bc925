"""Schema migrations: bring an older store to the current layout."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newswatch.store.transaction import Transaction


def _from_v2(tx: Transaction) -> None:
    """Schema 2 kept each table in one file per generation (``stories.7.json``): stage
    every document so that the commit writes them as shards."""
    store = tx.store
    for key, doc in list(store._raw("meta").items()):
        if not key.startswith("table:") or "shards" in doc:
            continue
        name = key[len("table:"):]
        path = store._tables_dir / f"{name}.{doc['gen']}.json"
        for sid, table_doc in store._read_file(path).get(name, {}).items():
            tx.put(name, sid, table_doc)


# Schema migrations: old version -> function that stages the changes that bring a store
# to SCHEMA_VERSION, inside one transaction (the schema record is updated with them).
MIGRATIONS: dict[int, Callable[[Transaction], None]] = {2: _from_v2}
