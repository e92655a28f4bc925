"""Reclaiming the space of replaced texts: a story whose text changes gets a new entry in
the open segment and its old entry stays behind, dead (see :class:`Segments`). A feed that
rewrites its items on every poll leaves a little of that each time.

:func:`compact_texts` copies the live texts of every closed segment that is mostly dead
into the open one, in ordinary commits (so a crash leaves the old references in force),
and only then deletes the old segment files."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from newswatch.errors import StoreError
from newswatch.store.store import DEAD_TEXT

if TYPE_CHECKING:
    from newswatch.store.store import Store

STORIES = "stories"  # the table whose documents hold the text references
GROUP = 8  # segments compacted per commit: bounds the texts held in memory (~32 MB)
# ``compact_if_worth_it`` compacts once replaced texts take this much, and half the
# segments' bytes: then some closed segment is at least half dead, and what is left dead
# after compacting is less than half, so the next ingest does not scan again in vain
AUTO_MIN_DEAD = 64 * 1024 * 1024
AUTO_SHARE = 0.5

log = logging.getLogger("newswatch")


@dataclass(slots=True)
class CompactReport:
    removed: list[str] = field(default_factory=list)  # segment files deleted
    kept: list[str] = field(default_factory=list)  # mostly dead, but a live text unreadable
    moved: int = 0  # live texts copied to the open segment
    bytes_before: int = 0  # text segments on disk, before and after
    bytes_after: int = 0


def compact_texts(store: Store, min_dead: float = 0.5) -> CompactReport:
    """Rewrite the live texts of closed segments whose bytes are at least ``min_dead``
    dead, then delete those segments. A segment holding a live text that cannot be read is
    left as it is (never lose what is stored)."""
    segments = store._segments
    report = CompactReport(bytes_before=segments.disk_bytes())
    names = segments.names()
    live: dict[str, list[str]] = defaultdict(list)  # segment -> story ids whose text is there
    live_bytes: dict[str, int] = defaultdict(int)
    for sid, doc in store.items(STORIES):
        ref = doc.get("text")
        if ref:
            live[ref[0]].append(sid)
            live_bytes[ref[0]] += ref[2]
    size = {n: segments.size(n) for n in names}
    # the open (last) segment takes the copies: never a candidate
    targets = [n for n in names[:-1] if live_bytes[n] <= (1.0 - min_dead) * size[n]]
    for start in range(0, len(targets), GROUP):
        group = targets[start:start + GROUP]
        done: list[str] = []
        with store.transaction() as tx:
            for name in group:
                # still there? Other writers only ever point stories away from a closed
                # segment (new texts go to the open one), so this is all that can change
                docs = tx.get_many(STORIES, live[name])
                wanted = [sid for sid, doc in docs.items()
                          if doc.get("text") and doc["text"][0] == name]
                texts = store.texts(wanted)  # read through the references
                if len(texts) < len(wanted):
                    report.kept.append(name)
                    continue
                for sid in wanted:
                    tx.put_text(sid, texts[sid])  # the commit points the story at the copy
                report.moved += len(wanted)
                done.append(name)
        for name in done:  # committed: nothing refers to them any more
            segments.remove(name)
            report.removed.append(name)
    report.bytes_after = segments.disk_bytes()
    # what is still dead and could be reclaimed: the replaced entries of the closed
    # segments left (the copies are all live; a kept segment cannot be compacted)
    gone = set(report.removed) | set(report.kept)
    dead = sum(max(0, size[n] - live_bytes[n]) for n in names[:-1] if n not in gone)
    with store.transaction() as tx:
        tx.put("meta", DEAD_TEXT, {"bytes": dead})
    return report


def compact_if_worth_it(store: Store) -> CompactReport | None:
    """``compact_texts`` when replaced texts take ``AUTO_MIN_DEAD`` bytes and
    ``AUTO_SHARE`` of the segments (run after each ingest). A failure is logged: it never
    costs the stories just stored."""
    dead = store.dead_text_bytes()
    if dead < AUTO_MIN_DEAD or dead < AUTO_SHARE * store._segments.disk_bytes():
        return None
    try:
        done = compact_texts(store)
    except (StoreError, OSError) as exc:
        log.warning("%s: compacting the texts failed: %s", store.path, exc)
        return None
    log.info("texts: compacted %d segment(s); %.1f MB -> %.1f MB", len(done.removed),
             done.bytes_before / 1e6, done.bytes_after / 1e6)
    return done
