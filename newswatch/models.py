"""Typed records that cross module seams: items from sources, stored stories, feed state."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newswatch.cluster_types import StoryFeatures
    from newswatch.watching import Prematch


def utc_now() -> str:
    """The current time as ISO 8601 UTC with a trailing Z, second precision."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# A published time more than this after the fetch time is not trusted: the fetch time is
# the story's time instead (for clustering, and for a cluster's first and last seen).
FUTURE_SLACK_DAYS = 1.0


def days_of(ts: str | None) -> float | None:
    """An ISO 8601 time in days since the epoch (naive times are UTC); None if not one."""
    if not ts:
        return None
    try:
        dt = datetime.fromisoformat(ts.strip().replace("Z", "+00:00"))
    except (ValueError, TypeError, AttributeError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp() / 86400.0


def story_time(published: str | None, fetched: str | None) -> str:
    """When a story happened as far as we know: its published time, unless that is more
    than FUTURE_SLACK_DAYS after it was fetched (a wrong date), else the fetch time."""
    if published and fetched and published > fetched:
        p, f = days_of(published), days_of(fetched)
        if p is not None and f is not None and p > f + FUTURE_SLACK_DAYS:
            return fetched
    return published or fetched or ""


def story_id(source: str, guid: str) -> str:
    """Stable story id derived from (source, guid)."""
    return hashlib.blake2b(f"{source}\0{guid}".encode(), digest_size=10).hexdigest()


def content_hash(title: str, text: str, url: str | None) -> str:
    data = f"{title}\0{text}\0{url or ''}".encode()
    return hashlib.blake2b(data, digest_size=12).hexdigest()


TITLE_LIMIT = 1000  # characters of a title kept; the rest is cut with "…"


@dataclass(slots=True, frozen=True)
class Item:
    """One story as a source delivers it, before it is stored."""

    source: str
    guid: str
    title: str
    text: str
    url: str | None = None
    published: str | None = None  # ISO 8601 UTC or None
    # clustering features computed where the item was parsed (a feed worker process), so
    # the ingest does not compute them again; None: computed when the story is clustered
    features: StoryFeatures | None = field(default=None, compare=False, repr=False)
    # the watchlist matches computed where the item was parsed (see watching.Prematcher)
    prematch: Prematch | None = field(default=None, compare=False, repr=False)
    # ``id`` and ``content_hash`` when computed already (where the item was parsed); else
    # each is computed, once, when first asked for
    known_id: str | None = field(default=None, compare=False, repr=False)
    known_hash: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.title) > TITLE_LIMIT:  # a headline, not a text: lists lay it out often
            object.__setattr__(self, "title", self.title[:TITLE_LIMIT - 1].rstrip() + "…")

    @property
    def id(self) -> str:
        if self.known_id is None:
            object.__setattr__(self, "known_id", story_id(self.source, self.guid))
        return self.known_id  # type: ignore[return-value]

    @property
    def content_hash(self) -> str:
        if self.known_hash is None:
            object.__setattr__(self, "known_hash", content_hash(self.title, self.text, self.url))
        return self.known_hash  # type: ignore[return-value]


@dataclass(slots=True)
class EntityMention:
    """A watchlist entity found in a story."""

    id: str
    name: str
    count: int
    spans: list[tuple[str, int, int]] = field(default_factory=list)  # (field, start, end)


@dataclass(slots=True)
class Story:
    """A stored story. ``text`` is None when only the header was loaded."""

    id: str
    guid: str
    source: str
    title: str
    url: str | None
    published: str | None
    fetched: str
    updated: str
    content_hash: str
    entities: list[EntityMention] = field(default_factory=list)
    cluster_id: str | None = None
    text: str | None = None

    @property
    def sort_key(self) -> str:
        """Newest-first ordering key: published time, else fetch time."""
        return self.published or self.fetched


@dataclass(slots=True)
class FeedState:
    """What a feed told us last time, for conditional GET and backoff."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_ok: str | None = None
    last_error: str | None = None
    failures: int = 0
    next_try: str | None = None


@dataclass(slots=True)
class UpsertCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
