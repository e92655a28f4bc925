"""What a store must look like whatever happened to the processes that wrote it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from newswatch.alerts import ALERTS, alert_id
from newswatch.clusters import CLUSTERS
from newswatch.models import story_id
from newswatch.store import Store
from newswatch.stories import STORIES


def check_store(db: Path) -> dict[str, dict[str, Any]]:
    """Open the store as a new process would and check it is whole; returns the stories.

    Whole: each (source, guid) once under its own id, every story's text readable, every
    alert keyed by (story, watchlist, rule) of a stored story that lists it, every story in
    exactly one cluster and that cluster agreeing, no leftover temp file named in the
    manifest."""
    store = Store(db)
    stories = {key: dict(doc) for key, doc in store.items(STORIES)}
    pairs = Counter((doc["source"], doc["guid"]) for doc in stories.values())
    assert not [p for p, n in pairs.items() if n > 1], "a story is stored twice"
    assert all(key == story_id(doc["source"], doc["guid"]) for key, doc in stories.items())
    texts = store.texts(stories)
    missing = [key for key in stories if not texts.get(key)]
    assert not missing, f"{len(missing)} committed stories lost their text"

    alerts = dict(store.items(ALERTS))
    for aid, doc in alerts.items():
        assert aid == alert_id(doc["story"], doc["watchlist"], doc["rule"])
        assert doc["story"] in stories, f"alert {aid} of a story that is not stored"
        assert aid in stories[doc["story"]].get("alerts", []), f"story does not list {aid}"
    for key, doc in stories.items():
        for aid in doc.get("alerts", []):
            assert aid in alerts, f"story {key} lists alert {aid}, which is not stored"

    members = Counter(sid for _, c in store.items(CLUSTERS) for sid in c["stories"])
    assert not [s for s, n in members.items() if n > 1], "a story is in two clusters"
    clusters = dict(store.items(CLUSTERS))
    for key, doc in stories.items():
        cid = doc.get("cluster")
        assert cid in clusters and key in clusters[cid]["stories"], f"story {key} unclustered"
        assert clusters[cid]["size"] == len(clusters[cid]["stories"])
    assert set(members) <= set(stories), "a cluster lists a story that is not stored"
    return stories
