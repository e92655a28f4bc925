"""Where stories come from: local files and directories, feed URLs, feed lists.

Every source is read into a :class:`SourceResult`; nothing here touches the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from newswatch.models import FeedState, Item


@dataclass(slots=True, frozen=True)
class SourceSpec:
    """One thing to ingest: a local path or a feed URL, under a source name."""

    name: str
    path: Path | None = None
    url: str | None = None
    interval_s: float | None = None
    tags: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        return self.url if self.url else str(self.path)


@dataclass(slots=True)
class SourceResult:
    """What reading one source produced.

    ``error`` is a one-line reason when the whole source failed; ``skipped`` holds one
    line per file or entry that was left out while the rest was read."""

    spec: SourceSpec
    items: list[Item] = field(default_factory=list)
    error: str | None = None
    skipped: list[str] = field(default_factory=list)
    not_modified: bool = False
    feed_state: FeedState | None = None
