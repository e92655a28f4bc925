"""What the desk shows, computed from a real store (no Textual here)."""

from __future__ import annotations

from pathlib import Path

from newswatch.alerts import save_alert
from newswatch.store import Store
from newswatch.views import toast_lines


def _alert(story: str, rule: str, severity: str, cluster: str | None, title: str) -> dict:
    return {"watchlist": "peace", "rule": rule, "severity": severity,
            "created": "2025-03-18T20:00:00Z", "updated": "2025-03-18T20:00:00Z",
            "story": story, "matches": [], "title": title, "source": "a", "url": None,
            "guid": story, "published": None, "cluster": cluster}


def test_new_alerts_toast_once_per_event_most_severe_first(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.json")
    alerts = {
        "a1": _alert("s1", "talks", "medium", "c1", "Talks resume"),
        "a2": _alert("s1", "ceasefire", "high", "c1", "Talks resume"),
        "a3": _alert("s2", "ceasefire", "high", "c1", "Ceasefire agreed"),  # same event
        "a4": _alert("s3", "talks", "low", "c2", "Envoys meet"),
        "a5": _alert("s4", "nuclear", "critical", None, "Plant shelled"),  # not clustered
        "a6": _alert("s1", "leaders", "medium", "c1", "Talks resume"),
    }
    with store.transaction() as tx:
        for aid, doc in alerts.items():
            save_alert(tx, aid, doc)
    assert toast_lines(store, list(alerts)) == [
        ("critical", "peace/nuclear", "Plant shelled"),
        ("high", "peace/ceasefire +2 rules", "Talks resume (2 stories)"),
        ("low", "peace/talks", "Envoys meet"),
    ]
    assert toast_lines(store, ["a4", "gone"]) == [("low", "peace/talks", "Envoys meet")]
    with store.transaction() as tx:  # a long headline is cut, its story count kept
        save_alert(tx, "a7", _alert("s5", "talks", "low", "c3", "Envoys " * 20))
        save_alert(tx, "a8", _alert("s6", "talks", "low", "c3", "Other"))
    [(_, _, line)] = toast_lines(store, ["a7", "a8"])
    assert line.endswith("… (2 stories)") and len(line) <= 90
