"""Parse one fetched feed body into plain tuples, with the work done on its items where
they are parsed (clustering features, watchlist matches): what a fetch worker sends back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newswatch.cluster_features import Features
    from newswatch.cluster_types import PackedFeatures

# What a parse gives: (error, skipped, item field tuples, the items' clustering features
# packed in a few arrays). Plain tuples keep pickling cheap.
RawParse = tuple[str | None, list[str], list[tuple[Any, ...]], "PackedFeatures | None"]
# Work done on each parsed item where it was parsed: (source, title, text) -> a picklable
# result that rides on the item (e.g. the watchlist matches, see watching.Prematcher).
Enrich = Callable[[str, str, str], Any]


@dataclass(slots=True)
class Worker:
    """What one parser keeps between feeds: the enrich function and one clustering
    ``Features`` whose word caches serve every feed it parses (its results never depend
    on what it saw before). Not for sharing between threads."""

    enrich: Enrich | None = None
    features: Features | None = None


def parse_body(data: bytes, source: str, location: str, content_type: str | None,
               worker: Worker) -> RawParse:
    """Parse one document to plain tuples, with each item's clustering features (the
    CPU-heavy, state-free part of clustering, computed for the whole feed at once) and
    what ``worker.enrich`` makes of it."""
    from newswatch.sources.feedparse import parse_feed

    if worker.features is None:
        from newswatch.cluster_features import Features
        from newswatch.cluster_params import Params

        worker.features = Features(Params())
    enrich = worker.enrich
    parsed = parse_feed(data, source, location, content_type)
    items = parsed.items
    rows = [(i.source, i.guid, i.title, i.text, i.url, i.published, None,
             _extra(enrich, i.source, i.title, i.text) if enrich is not None else None,
             i.id, i.content_hash)
            for i in items]
    packed: PackedFeatures | None = None
    if items:  # entities the enrich result names (a prematch's) are folded in here
        entities = [getattr(row[7], "entity_ids", ()) for row in rows]
        packed = _extra(worker.features.stories, [(i.title, i.text) for i in items], entities)
        if packed is not None:  # what crosses to the storing process: half the bytes
            packed = packed.slim()
    return parsed.error, parsed.skipped, rows, packed


def _extra(work: Callable[..., Any], *args: Any) -> Any:
    """Work done ahead for the ingest; if it fails, the ingest does it again itself (and
    reports any error there), so it never costs the feed its items."""
    try:
        return work(*args)
    except Exception:
        return None
