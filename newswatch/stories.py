"""Stories in the store: typed reads and the dedupe/update rule for writes."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from newswatch.models import EntityMention, FeedState, Item, Story, UpsertCounts
from newswatch.store import Doc, Store, Transaction

STORIES = "stories"
FEEDS = "feeds"


def story_from_doc(key: str, doc: Mapping[str, Any], text: str | None = None) -> Story:
    return Story(
        id=key,
        guid=doc["guid"],
        source=doc["source"],
        title=doc.get("title", ""),
        url=doc.get("url"),
        published=doc.get("published"),
        fetched=doc.get("fetched", ""),
        updated=doc.get("updated", doc.get("fetched", "")),
        content_hash=doc.get("hash", ""),
        entities=[EntityMention(e["id"], e["name"], e["count"]) for e in doc.get("entities", [])],
        cluster_id=doc.get("cluster"),
        text=text,
    )


def _doc_from_item(item: Item, fetched: str, previous: Doc | None) -> Doc:
    doc: Doc = dict(previous) if previous else {}
    doc.update(
        guid=item.guid,
        source=item.source,
        title=item.title,
        url=item.url,
        published=item.published,
        hash=item.content_hash,
        updated=fetched,
    )
    doc.setdefault("fetched", fetched)
    return doc


@dataclass(slots=True)
class UpsertResult:
    counts: UpsertCounts
    changed: list[str]  # ids of new or updated stories, in input order


def upsert_items(tx: Transaction, items: Iterable[Item], now: str) -> UpsertResult:
    """Store items: a new (source, guid) is inserted, changed content replaces the old
    text, identical content is left alone. A guid repeated in one batch counts once, and
    its last version is the one compared and kept: comparing each version in turn would
    report (and rewrite) the story as updated on every run."""
    latest: dict[str, Item] = {}
    for item in items:
        latest[item.id] = item  # first position, last version
    status: dict[str, str] = {}
    stored = tx.get_many(STORIES, latest)  # one lookup pass for the batch
    for sid, item in latest.items():
        previous = stored.get(sid)
        if previous is not None and previous.get("hash") == item.content_hash:
            status[sid] = "unchanged"
            continue
        status[sid] = "updated" if previous is not None else "new"
        tx.put(STORIES, sid, _doc_from_item(item, now, previous))
        tx.put_text(sid, item.text)
    counts = UpsertCounts()
    for st in status.values():
        setattr(counts, st, getattr(counts, st) + 1)
    return UpsertResult(counts, [sid for sid, st in status.items() if st != "unchanged"])


def get_story(store: Store, sid: str, with_text: bool = True) -> Story | None:
    doc = store.get(STORIES, sid)
    if doc is None:
        return None
    text = store.texts([sid]).get(sid, "") if with_text else None
    return story_from_doc(sid, doc, text)


def story_headers(store: Store) -> list[Story]:
    """Every stored story without its text, newest first."""
    stories = [story_from_doc(k, d) for k, d in store.items(STORIES)]
    stories.sort(key=lambda s: s.sort_key, reverse=True)
    return stories


def newest_stories(store: Store, limit: int | None = None, search: str | None = None,
                   with_text: bool = True) -> list[Story]:
    """Newest first; ``search`` is a case-insensitive substring of title or text."""
    items = store.items(STORIES)
    if limit is not None and not search:
        items = heapq.nlargest(limit, items, key=_newest_key)
    else:
        items.sort(key=_newest_key, reverse=True)
    out: list[Story] = []
    needle = search.casefold() if search else None
    batch = 256
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        texts = store.texts(k for k, _ in chunk) if (with_text or needle) else {}
        for key, doc in chunk:
            text = texts.get(key, "")
            if needle and needle not in doc.get("title", "").casefold() \
                    and needle not in text.casefold():
                continue
            out.append(story_from_doc(key, doc, text if with_text else None))
            if limit is not None and len(out) >= limit:
                return out
    return out


def _newest_key(kv: tuple[str, Mapping[str, Any]]) -> str:
    doc = kv[1]
    return doc.get("published") or doc.get("fetched") or ""


# ------------------------------------------------------------------ feed state


def feed_state(store: Store, url: str) -> FeedState:
    doc = store.get(FEEDS, url)
    return FeedState(url=url, **doc) if doc else FeedState(url=url)


def feed_states(store: Store, urls: Iterable[str]) -> dict[str, FeedState]:
    urls = list(urls)
    docs = store.get_many(FEEDS, urls)
    return {url: FeedState(url=url, **docs[url]) if url in docs else FeedState(url=url)
            for url in urls}


def put_feed_state(tx: Transaction, state: FeedState) -> None:
    doc = {
        "etag": state.etag,
        "last_modified": state.last_modified,
        "last_ok": state.last_ok,
        "last_error": state.last_error,
        "failures": state.failures,
        "next_try": state.next_try,
    }
    tx.put(FEEDS, state.url, doc)
