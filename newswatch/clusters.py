"""Clusters in the store: assigning new stories inside an ingest transaction, merge
bookkeeping, and the cluster records the CLI, TUI and headless mode read.

The clusterer's index lives in a store blob committed with the same transaction as the
stories it has seen, and is reloaded when another process committed a newer one."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from newswatch.alerts import set_cluster
from newswatch.models import story_time
from newswatch.store import Store, Transaction
from newswatch.stories import STORIES

if TYPE_CHECKING:  # numpy is imported only when a story is clustered
    from newswatch.cluster import Assignment, Clusterer
    from newswatch.cluster_types import StoryFeatures

log = logging.getLogger("newswatch")

CLUSTERS = "clusters"
MERGES = "merges"  # absorbed cluster id -> the cluster it was merged into
BLOB = "clusterer"


@dataclass(slots=True)
class ClusterReport:
    assigned: int = 0
    merges: list[tuple[str, str]] = field(default_factory=list)  # (absorbed, into)
    failed: int = 0


class ClusterService:
    """Keeps one process's clusterer in step with the store."""

    def __init__(self) -> None:
        self._clusterer: Clusterer | None = None
        self._gen: int | None = None

    def _current(self, tx: Transaction) -> Clusterer:
        meta = tx.get("meta", f"blob:{BLOB}")
        return self._load(tx.store, meta["gen"] if meta else 0)

    def prepare(self, store: Store) -> None:
        """Load the clusterer now (imports, and the saved state of a big store: a quarter
        of a second at 100k stories) rather than in the first commit: an ingest calls this
        while its first feeds are still being fetched. The commit checks again that no
        other process saved a newer state meanwhile."""
        meta = store.get("meta", f"blob:{BLOB}")
        self._load(store, meta["gen"] if meta else 0)

    def _load(self, store: Store, gen: int) -> Clusterer:
        from newswatch.cluster import Clusterer, Params

        if self._clusterer is None or gen != self._gen:
            data = store.get_blob(BLOB) if gen else None
            try:
                # decided with this version's thresholds, whatever version saved it
                self._clusterer = (Clusterer.from_bytes(data, thresholds=Params()) if data
                                   else Clusterer())
            except ValueError as exc:
                log.warning("%s: clusterer state unreadable (%s); starting afresh",
                            store.path, exc)
                self._clusterer = Clusterer()
            self._gen = gen
        return self._clusterer

    def assign(self, tx: Transaction, story_ids: list[str], texts: Mapping[str, str],
               report: ClusterReport,
               features: Mapping[str, StoryFeatures] | None = None) -> None:
        """Cluster new stories (their docs are staged in ``tx``) and save the index.
        ``features`` holds the stories' features where they were computed already."""
        if not story_ids:
            return
        from newswatch.cluster import ClusterInput

        clusterer = self._current(tx)
        members: dict[str, set[str]] = {}  # cluster id -> its story ids, for this batch
        todo = []
        for sid in story_ids:
            doc = tx.get(STORIES, sid)
            if doc is None:
                continue
            if doc.get("cluster"):  # updated: it stays in its cluster, which may change
                _refresh(tx, doc, tx.committed(STORIES, sid))
            else:
                todo.append((sid, doc))
        known = dict(features or {})
        missing = [(sid, doc) for sid, doc in todo if sid not in known]
        if missing:  # featurised together: much cheaper than one by one
            try:
                computed = clusterer.featurise([(doc.get("title", ""), texts.get(sid, ""))
                                                for sid, doc in missing])
                known.update((sid, f) for (sid, _), f in zip(missing, computed, strict=True))
            except Exception as exc:  # then each story is featurised (and fails) alone
                log.warning("featurising %d stories together failed: %s: %s",
                            len(missing), type(exc).__name__, exc)
        for sid, doc in todo:
            if doc.get("cluster"):  # listed twice: clustered already
                continue
            inp = ClusterInput(sid, doc.get("title", ""), texts.get(sid, ""),
                               doc.get("source", ""), doc.get("published"),
                               doc.get("fetched", ""),
                               tuple(e["id"] for e in doc.get("entities", [])),
                               known.get(sid))
            try:
                assignment = clusterer.add(inp)
            except Exception as exc:  # clustering must never stop a story being stored
                log.warning("story %s not clustered: %s: %s", sid, type(exc).__name__, exc)
                report.failed += 1
                continue
            _record(tx, sid, doc, assignment, report, members)
            report.assigned += 1
        tx.put_blob(BLOB, clusterer.to_bytes())
        self._gen = (self._gen or 0) + 1  # the generation this commit will write


def _when(doc: Mapping[str, Any]) -> str:
    return story_time(doc.get("published"), doc.get("fetched"))


def _record(tx: Transaction, sid: str, doc: dict[str, Any], assignment: Assignment,
            report: ClusterReport, members: dict[str, set[str]]) -> None:
    cid = assignment.cluster_id
    cluster = tx.get(CLUSTERS, cid) or {"label": "", "size": 0, "sources": [],
                                         "first_seen": _when(doc), "last_seen": _when(doc),
                                         "stories": []}
    ids = members.get(cid)
    if ids is None:  # first touch in this batch: copy the lists, never edit committed ones
        for key in ("stories", "sources", "merged"):
            if key in cluster:
                cluster[key] = list(cluster[key])
        ids = members[cid] = set(cluster["stories"])
    for absorbed in assignment.merged:
        _absorb(tx, absorbed, cid, cluster, ids)
        members.pop(absorbed, None)
        report.merges.append((absorbed, cid))
    _add_story(cluster, sid, doc, ids)
    doc["cluster"] = cid
    set_cluster(tx, doc.get("alerts", []), cid)
    tx.put(STORIES, sid, doc)
    tx.put(CLUSTERS, cid, cluster)


def _refresh(tx: Transaction, doc: Mapping[str, Any], old: Mapping[str, Any] | None
             ) -> None:
    """The record of an updated story's cluster: the story's new headline if its old one
    was the label, and the story's time in first and last seen."""
    cid = doc["cluster"]
    cluster = tx.get(CLUSTERS, cid)
    if cluster is None:
        return
    new = dict(cluster)  # never edit a committed record in place
    title = doc.get("title") or ""
    if title and old is not None and new.get("label") == old.get("title"):
        new["label"] = title
    when = _when(doc)
    if when:
        new["first_seen"] = min(new.get("first_seen") or when, when)
        new["last_seen"] = max(new.get("last_seen") or when, when)
    if new != cluster:
        tx.put(CLUSTERS, cid, new)


def _add_story(cluster: dict[str, Any], sid: str, doc: Mapping[str, Any],
               members: set[str]) -> None:
    """Add a story to a cluster record; ``members`` is the set of its story ids (kept in
    step), so absorbing a big cluster into another stays linear."""
    if sid not in members:
        members.add(sid)
        cluster["stories"].append(sid)
    cluster["size"] = len(cluster["stories"])
    source = doc.get("source", "")
    if source and source not in cluster["sources"]:
        cluster["sources"].append(source)
    when = _when(doc)
    if when:
        cluster["first_seen"] = min(cluster["first_seen"] or when, when)
        cluster["last_seen"] = max(cluster["last_seen"] or when, when)
    title = doc.get("title") or ""
    # a real headline beats one cut from a story's first sentence (those end in "…")
    if title and (not cluster["label"] or (cluster["label"].endswith("…")
                                           and not title.endswith("…"))):
        cluster["label"] = title


def _absorb(tx: Transaction, absorbed: str, into: str, cluster: dict[str, Any],
            members: set[str]) -> None:
    """Move an absorbed cluster's stories into ``cluster``; remember where it went."""
    old = tx.get(CLUSTERS, absorbed)
    if old is None:
        return
    for sid in old.get("stories", []):
        story = tx.get(STORIES, sid)
        if story is not None:
            story["cluster"] = into
            set_cluster(tx, story.get("alerts", []), into)
            tx.put(STORIES, sid, story)
            _add_story(cluster, sid, story, members)
    merged = cluster.setdefault("merged", [])
    known = set(merged)
    for m in (absorbed, *old.get("merged", [])):
        if m not in known:
            known.add(m)
            merged.append(m)  # in merge order; append-only, so no re-sort per merge
    tx.delete(CLUSTERS, absorbed)
    tx.put(MERGES, absorbed, {"into": into})


def cluster_json(store: Store, cid: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    stories = store.get_many(STORIES, doc.get("stories", []))
    return {
        "id": cid,
        "label": doc.get("label", ""),
        "size": doc.get("size", 0),
        "first_seen": doc.get("first_seen", ""),
        "last_seen": doc.get("last_seen", ""),
        "stories": [{"id": sid, "guid": s.get("guid"), "source": s.get("source"),
                     "title": s.get("title")}
                    for sid in doc.get("stories", []) if (s := stories.get(sid)) is not None],
    }


def newest_clusters(store: Store, limit: int | None = None
                    ) -> list[tuple[str, Mapping[str, Any]]]:
    items = sorted(store.items(CLUSTERS), key=lambda kv: (kv[1].get("last_seen", ""), kv[0]),
                   reverse=True)
    return items[:limit] if limit else items


def cluster_sizes(store: Store, cluster_ids: Iterable[str]) -> dict[str, int]:
    return {cid: doc.get("size", 1) for cid, doc in store.get_many(CLUSTERS, cluster_ids).items()}
