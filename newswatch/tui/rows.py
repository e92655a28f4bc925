"""The desk's lists as rows: alert groups, clusters and stories from the view models."""

from __future__ import annotations

from collections.abc import Iterable

from newswatch.tui.rowlist import Row
from newswatch.views import AlertGroup, ClusterView, StoryRowView


def alert_rows(groups: Iterable[AlertGroup]) -> list[Row]:
    """One row per alert group, styled by severity; dim once acknowledged, bold while
    unread."""
    return [Row(g.key, (_short(g.created), g.severity, g.rule, str(len(g.alert_ids)),
                        str(len(g.sources)), g.title), style=g.severity,
                dim=g.acknowledged, bold=g.unread > 0 and not g.acknowledged)
            for g in groups]


def cluster_rows(clusters: Iterable[ClusterView]) -> list[Row]:
    return [Row(c.id, (_short(c.last_seen), str(c.size), ", ".join(c.sources), c.label))
            for c in clusters]


def story_rows(stories: Iterable[StoryRowView], ids: set[str] | None = None) -> list[Row]:
    """The stories' rows; with ``ids`` (a search's hits), only those."""
    return [Row(s.id, (_short(s.when), s.source, s.title)) for s in stories
            if ids is None or s.id in ids]


def _short(stamp: str) -> str:
    return stamp[5:16].replace("T", " ") if stamp else ""
