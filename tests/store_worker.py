"""A separate process that writes to a store, for the crash and two-writer tests.

    python tests/store_worker.py DB SOURCE BATCHES PER_BATCH
"""

from __future__ import annotations

import sys

from newswatch.models import Item
from newswatch.pipeline import store_results
from newswatch.sources import SourceResult, SourceSpec
from newswatch.store import Store


def main() -> None:
    db, source, batches, per_batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = Store(db)
    spec = SourceSpec(name=source)
    for b in range(batches):
        items = [Item(source=source, guid=f"{source}-{b}-{i}", title=f"Story {b}/{i}",
                      text=f"Body of story {b}/{i} from {source}. " * 40)
                 for i in range(per_batch)]
        store_results(store, [SourceResult(spec, items)])
        print(f"committed {b}", flush=True)


if __name__ == "__main__":
    main()
