"""Alerts in the store: one per (story, watchlist, rule), reconciled whenever a story is
(re)matched, and read back for the CLI, the TUI and the headless sinks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from newswatch.store import Store, Transaction
from newswatch.watch.model import RuleHit, Span

ALERTS = "alerts"
# alert id -> {"created": …} for every alert neither emitted nor retired, kept in step by
# every alert write (``save_alert``), so a headless pass finds what to emit without
# reading the whole alerts table
OUTBOX = "outbox"
OUTBOX_BUILT = "outbox"  # meta record: the outbox has been built for this store
SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def alert_id(story_id: str, watchlist: str, rule: str) -> str:
    key = f"{story_id}\0{watchlist}\0{rule}".encode()
    return hashlib.blake2b(key, digest_size=10).hexdigest()


@dataclass(slots=True)
class Alert:
    id: str
    watchlist: str
    rule: str
    severity: str
    created: str
    updated: str
    story_id: str
    # where the rule matched the story: not stored, filled in when the alert is read
    # (newswatch.highlight); empty until then
    matches: list[Span] = field(default_factory=list)
    retired: bool = False
    read: bool = False
    acknowledged: bool = False
    emitted: bool = False
    # the story's header, kept on the alert so listing alerts needs no story table
    title: str = ""
    source: str = ""
    url: str | None = None
    guid: str = ""
    published: str | None = None
    cluster_id: str | None = None


def alert_from_doc(key: str, doc: Mapping[str, Any]) -> Alert:
    return Alert(
        id=key,
        watchlist=doc["watchlist"],
        rule=doc["rule"],
        severity=doc.get("severity", "medium"),
        created=doc["created"],
        updated=doc.get("updated", doc["created"]),
        story_id=doc["story"],
        retired=doc.get("retired", False),
        read=doc.get("read", False),
        acknowledged=doc.get("ack", False),
        emitted=doc.get("emitted", False),
        title=doc.get("title", ""),
        source=doc.get("source", ""),
        url=doc.get("url"),
        guid=doc.get("guid", ""),
        published=doc.get("published"),
        cluster_id=doc.get("cluster"),
    )


STORY_FIELDS = ("title", "source", "url", "guid", "published", "cluster")


def story_header(story_doc: Mapping[str, Any]) -> dict[str, Any]:
    """The story fields an alert carries (see :class:`Alert`)."""
    return {f: story_doc.get(f) for f in STORY_FIELDS}


@dataclass(slots=True)
class Reconciled:
    new: list[str] = field(default_factory=list)  # alert ids created
    retired: list[str] = field(default_factory=list)
    revived: list[str] = field(default_factory=list)


# A rule hit as plain values: (watchlist, rule, severity); RuleHit records and
# watching.Prematch.wire hits both read as this. Where the rule matched is not stored: it
# is found when the alert is read (newswatch.highlight).
HitRow = tuple[str, str, str]


def reconcile(tx: Transaction, story_id: str, story_doc: dict[str, Any],
              hits: Iterable[HitRow | RuleHit], now: str, out: Reconciled) -> None:
    """Make the story's alerts agree with ``hits``: create new ones, refresh the severity
    and story header of existing ones, retire those whose rule no longer matches (never
    delete).

    ``story_doc["alerts"]`` keeps the story's alert ids, so this needs no table scan."""
    previous: list[str] = list(story_doc.get("alerts", []))
    current: list[str] = []
    header = story_header(story_doc)
    for hit in hits:
        watchlist, rule, severity = (
            (hit.watchlist, hit.rule, hit.severity) if isinstance(hit, RuleHit) else hit)
        aid = alert_id(story_id, watchlist, rule)
        current.append(aid)
        doc = tx.get(ALERTS, aid)
        if doc is None:
            save_alert(tx, aid, {"watchlist": watchlist, "rule": rule,
                                 "severity": severity, "created": now, "updated": now,
                                 "story": story_id, **header})
            out.new.append(aid)
            continue
        changed = (doc.get("severity") != severity
                   or any(doc.get(f) != v for f, v in header.items()))
        if doc.get("retired"):
            doc["retired"] = False
            out.revived.append(aid)
            changed = True
        if changed:
            doc.pop("matches", None)  # stored by versions before highlighting on read
            doc.update(severity=severity, updated=now, **header)
            save_alert(tx, aid, doc)
    for aid in previous:
        if aid in current:
            continue
        doc = tx.get(ALERTS, aid)
        if doc is not None and not doc.get("retired"):
            doc.update(retired=True, updated=now)
            save_alert(tx, aid, doc)
            out.retired.append(aid)
    story_doc["alerts"] = sorted(set(previous) | set(current))


def save_alert(tx: Transaction, aid: str, doc: dict[str, Any]) -> None:
    """Write an alert and keep the outbox in step with its emitted / retired flags."""
    save_alerts(tx, {aid: doc})


def save_alerts(tx: Transaction, docs: Mapping[str, dict[str, Any]]) -> None:
    """``save_alert`` of many alerts, their outbox entries looked up together."""
    if docs and tx.get("meta", OUTBOX_BUILT) is None and not tx.store.count(ALERTS):
        # the store's first alerts: every alert it will hold goes through here, so its
        # outbox is complete from the start and never needs building from a scan
        tx.put("meta", OUTBOX_BUILT, {"built": True})
    queued = tx.get_many(OUTBOX, docs)
    for aid, doc in docs.items():
        tx.put(ALERTS, aid, doc)
        if doc.get("emitted") or doc.get("retired"):
            if aid in queued:
                tx.delete(OUTBOX, aid)
        elif aid not in queued:
            tx.put(OUTBOX, aid, {"created": doc["created"]})


def pending_alerts(store: Store) -> list[tuple[str, dict[str, Any]]]:
    """Alerts neither emitted nor retired, oldest first, read through the outbox (built
    from one scan of the alerts table the first time a store is asked)."""
    if store.get("meta", OUTBOX_BUILT) is None:
        with store.transaction() as tx:
            for aid, doc in tx.store.items(ALERTS):
                if not doc.get("emitted") and not doc.get("retired"):
                    tx.put(OUTBOX, aid, {"created": doc["created"]})
            tx.put("meta", OUTBOX_BUILT, {"built": True})
    # oldest first; equal times keep the outbox's (insertion) order: the order raised
    ids = [aid for aid, _ in sorted(store.items(OUTBOX), key=lambda kv: kv[1]["created"])]
    docs = store.get_many(ALERTS, ids)
    return [(aid, docs[aid]) for aid in ids
            if aid in docs and not docs[aid].get("emitted") and not docs[aid].get("retired")]


def alert_json(alert: Alert, cluster_size: int | None = None) -> dict[str, Any]:
    """The spec's alert shape (one JSON line of `alerts --json` and `run --headless`)."""
    return {
        "id": alert.id,
        "watchlist": alert.watchlist,
        "rule": alert.rule,
        "severity": alert.severity,
        "created": alert.created,
        "story": {"id": alert.story_id, "guid": alert.guid, "title": alert.title,
                  "url": alert.url, "source": alert.source, "published": alert.published},
        "cluster": ({"id": alert.cluster_id, "size": cluster_size or 1}
                    if alert.cluster_id else None),
        "matches": [{"field": m.field, "start": m.start, "end": m.end, "text": m.text}
                    for m in alert.matches],
    }


def set_cluster(tx: Transaction, alert_ids: Iterable[str], cluster_id: str) -> None:
    """Point alerts at their story's (new) cluster: on assignment and after merges."""
    for aid in alert_ids:
        doc = tx.get(ALERTS, aid)
        if doc is not None and doc.get("cluster") != cluster_id:
            doc["cluster"] = cluster_id
            tx.put(ALERTS, aid, doc)


def retire_alerts(tx: Transaction, alert_ids: Iterable[str], now: str) -> int:
    count = 0
    for aid in alert_ids:
        doc = tx.get(ALERTS, aid)
        if doc is not None and not doc.get("retired"):
            doc.update(retired=True, updated=now)
            save_alert(tx, aid, doc)
            count += 1
    return count


def set_flags(store: Store, alert_ids: Iterable[str], **flags: bool) -> None:
    """Persist read / acknowledged / emitted flags (keys: read, ack, emitted)."""
    with store.transaction() as tx:
        for aid in alert_ids:
            doc = tx.get(ALERTS, aid)
            if doc is not None:
                doc.update(flags)
                save_alert(tx, aid, doc)


def list_alerts(store: Store, *, since: str | None = None, watchlist: str | None = None,
                rule: str | None = None, limit: int | None = None,
                include_retired: bool = False) -> list[Alert]:
    """Alerts newest first, filtered; ``since`` is an ISO 8601 UTC lower bound."""
    out: list[Alert] = []
    for key, doc in store.items(ALERTS):
        if doc.get("retired") and not include_retired:
            continue
        if watchlist is not None and doc["watchlist"] != watchlist:
            continue
        if rule is not None and doc["rule"] != rule:
            continue
        if since is not None and doc["created"] < since:
            continue
        out.append(alert_from_doc(key, doc))
    out.sort(key=lambda a: (a.created, SEVERITY_RANK.get(a.severity, 0), a.id), reverse=True)
    return out[:limit] if limit else out


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(value: str, now: datetime | None = None) -> str:
    """``--since``: an ISO 8601 time (``2025-03-18``, ``2025-03-18T20:00Z``) or an age
    such as ``90m``, ``2h``, ``3d``. Returns ISO 8601 UTC with Z; ValueError if neither."""
    text = value.strip()
    try:
        if text and text[-1] in _UNITS and text[:-1].isdigit():
            age = timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]])
            moment = (now or datetime.now(UTC)) - age
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError):  # an age or a time beyond what a date can hold
        raise ValueError(f"not a time: {value!r}") from None
