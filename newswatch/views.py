"""Read models for the screens: alerts grouped by cluster, clusters, story lists.

Plain data built from one store snapshot, cheap enough for 100k stories and 20k alerts;
the TUI builds them in a worker thread and only draws them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newswatch.alerts import ALERTS, SEVERITY_RANK, Alert, alert_from_doc
from newswatch.models import Story
from newswatch.store import Store
from newswatch.stories import STORIES, get_story

if TYPE_CHECKING:
    from newswatch.highlight import Highlighter
    from newswatch.poller import Poller
    from newswatch.watch.model import Watchlist

CLUSTERS = "clusters"


@dataclass(slots=True)
class AlertGroup:
    """The alerts of one rule on one cluster: what an editor needs to see once."""

    key: str  # cluster key + watchlist + rule
    watchlist: str
    rule: str
    severity: str
    created: str  # newest alert of the group
    story_id: str  # newest story of the group
    title: str
    cluster_key: str
    alert_ids: list[str] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)
    unread: int = 0
    acknowledged: bool = False


@dataclass(slots=True)
class ClusterView:
    id: str
    label: str
    size: int
    sources: list[str]
    first_seen: str
    last_seen: str
    story_ids: list[str]


@dataclass(slots=True)
class StoryRowView:
    id: str
    title: str
    source: str
    when: str
    cluster_key: str


@dataclass(slots=True)
class DeskView:
    alerts: list[AlertGroup]
    clusters: list[ClusterView] | None  # None: not loaded yet (the alerts come first)
    stories: list[StoryRowView] | None


def load_alert_groups(store: Store) -> list[AlertGroup]:
    """Alert groups from the alerts table alone (alerts carry their story's header), so
    the desk's first screen does not wait for 100k stories to load."""
    groups: dict[str, AlertGroup] = {}
    for aid, doc in store.items(ALERTS):
        if doc.get("retired"):
            continue
        ckey = doc.get("cluster") or doc["story"]
        gkey = f"{ckey}\0{doc['watchlist']}\0{doc['rule']}"
        group = groups.get(gkey)
        if group is None:
            group = groups[gkey] = AlertGroup(
                gkey, doc["watchlist"], doc["rule"], doc.get("severity", "medium"),
                doc["created"], doc["story"], doc.get("title") or "", ckey, acknowledged=True)
        elif doc["created"] > group.created:
            group.created, group.story_id = doc["created"], doc["story"]
            group.title = doc.get("title") or ""
        group.alert_ids.append(aid)
        group.sources.add(doc.get("source") or "")
        if not doc.get("read"):
            group.unread += 1
        group.acknowledged = group.acknowledged and bool(doc.get("ack"))
    return sorted(groups.values(), key=lambda g: (g.created, SEVERITY_RANK.get(g.severity, 0)),
                  reverse=True)


def load_desk(store: Store, alerts: list[AlertGroup] | None = None) -> DeskView:
    stories = dict(store.items(STORIES))
    story_rows = [StoryRowView(sid, d.get("title", ""), d.get("source", ""),
                               d.get("published") or d.get("fetched") or "",
                               d.get("cluster") or sid)
                  for sid, d in stories.items()]
    story_rows.sort(key=lambda r: r.when, reverse=True)
    groups = alerts if alerts is not None else load_alert_groups(store)
    return DeskView(groups, load_clusters(store, stories), story_rows)


def load_clusters(store: Store, stories: Mapping[str, Mapping[str, Any]] | None = None
                  ) -> list[ClusterView]:
    """Clusters newest first. Stories not (yet) clustered count as clusters of one."""
    stories = stories if stories is not None else dict(store.items(STORIES))
    views = [ClusterView(cid, d.get("label", ""), d.get("size", 0), list(d.get("sources", [])),
                         d.get("first_seen", ""), d.get("last_seen", ""),
                         list(d.get("stories", [])))
             for cid, d in store.items(CLUSTERS)]
    for sid, doc in stories.items():
        if not doc.get("cluster"):
            when = doc.get("published") or doc.get("fetched") or ""
            views.append(ClusterView(sid, doc.get("title", ""), 1, [doc.get("source", "")],
                                     when, when, [sid]))
    views.sort(key=lambda c: c.last_seen, reverse=True)
    return views


@dataclass(slots=True)
class StoryDetail:
    """Everything the reader shows about one story."""

    story: Story
    alerts: list[Alert] = field(default_factory=list)
    siblings: list[tuple[str, str, str]] = field(default_factory=list)  # (id, source, title)


def story_detail(store: Store, story_id: str, highlighter: Highlighter | None = None
                 ) -> StoryDetail | None:
    """The story with its text, its live alerts (with where they matched, when a
    ``highlighter`` is given) and the other stories of its cluster."""
    story = get_story(store, story_id)
    if story is None:
        return None
    doc = store.get(STORIES, story_id) or {}
    alerts = [alert_from_doc(k, d) for k, d in store.get_many(ALERTS, doc.get("alerts", [])).items()
              if not d.get("retired")]
    if highlighter is not None:
        highlighter.fill(store, alerts)
    siblings: list[tuple[str, str, str]] = []
    if story.cluster_id:
        cluster = store.get(CLUSTERS, story.cluster_id) or {}
        others = [s for s in cluster.get("stories", []) if s != story_id]
        for sid, sdoc in store.get_many(STORIES, others).items():
            siblings.append((sid, sdoc.get("source", ""), sdoc.get("title", "")))
    return StoryDetail(story, alerts, siblings)


TOAST_HEADLINE = 76  # characters of a headline in a toast, before "(N stories)"


def toast_lines(store: Store, alert_ids: list[str]) -> list[tuple[str, str, str]]:
    """One toast per event among new alerts, the most severe first: (severity,
    "watchlist/rule", headline) of its most severe alert. An event is a cluster (a story
    not clustered yet is one of its own), so one story told by five outlets and matching
    three rules is one toast, "watchlist/rule +2 rules", "headline (5 stories)"."""
    docs = store.get_many(ALERTS, alert_ids)
    events: dict[str, list[dict[str, Any]]] = {}
    for aid in alert_ids:
        if (d := docs.get(aid)) is not None:
            events.setdefault(d.get("cluster") or d.get("story") or aid, []).append(d)
    out = []
    for group in events.values():
        # the first of the most severe
        top = max(group, key=lambda d: SEVERITY_RANK.get(d["severity"], 0))
        rules = {(d["watchlist"], d["rule"]) for d in group}
        stories = {d.get("story") for d in group}
        label = f"{top['watchlist']}/{top['rule']}"
        if len(rules) > 1:
            label += f" +{len(rules) - 1} rule{'s' if len(rules) > 2 else ''}"
        headline = top.get("title") or ""
        if len(headline) > TOAST_HEADLINE:
            headline = headline[: TOAST_HEADLINE - 1].rstrip() + "…"
        if len(stories) > 1:
            headline += f" ({len(stories)} stories)"
        out.append((SEVERITY_RANK.get(top["severity"], 0), top["severity"], label, headline))
    out.sort(key=lambda t: -t[0])  # stable: events of one severity keep their order
    return [(severity, label, headline) for _, severity, label, headline in out]


def status_line(poller: Poller, view: DeskView) -> str:
    """The desk's status bar: last poll, sources ok and failing, stories, alert groups."""
    last = poller.last_poll
    when = datetime.fromtimestamp(last).strftime("%H:%M:%S") if last else "never"
    failing = poller.failing
    total = len(poller.status)
    parts = [f"last poll {when}", f"{total - len(failing)}/{total} sources ok"]
    if failing:
        parts.append("failing: " + ", ".join(f"{s.spec.name} ({s.last_error})"
                                             for s in failing[:3]))
    stories = "…" if view.stories is None else str(len(view.stories))
    parts.append(f"{stories} stories · {len(view.alerts)} alert groups")
    return "  ·  ".join(parts)


def watchlist_file(watchlists: Sequence[Watchlist], name: str | None) -> Path | None:
    """The file of the watchlist called ``name``, else of the first one loaded."""
    for wl in watchlists:
        if name is not None and wl.name == name and wl.path:
            return Path(wl.path)
    return Path(watchlists[0].path) if watchlists and watchlists[0].path else None
