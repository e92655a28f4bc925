"""Alerts end to end: ingest matches, alert JSON, dedupe across re-ingest and rematch,
retiring on edits, the last valid watchlist staying in force, `check`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from newswatch.alerts import parse_since
from newswatch.cli import main
from newswatch.store import Store

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
BUNDLED = REPO / "watchlists" / "ukraine-peace.yaml"

SMALL = """\
watchlist: small
severity: low
rules:
  - id: ceasefire
    query: ceasefire
    severity: high
"""


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def alerts(capsys, db: Path, *extra: str) -> list[dict]:
    code, out, err = cli(capsys, "alerts", "--json", "--limit", "0", "--db", str(db), *extra)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def wl_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "watchlists"
    folder.mkdir()
    return folder


def test_seeds_alert_on_ceasefire_and_prisoner_exchange(tmp_path: Path, capsys) -> None:
    db = tmp_path / "db.json"
    code, _, err = cli(capsys, "ingest", str(SEEDS), "--db", str(db))
    assert code == 0, err
    found = alerts(capsys, db)
    by_rule: dict[str, set[str]] = {}
    for alert in found:
        by_rule.setdefault(alert["rule"], set()).add(alert["story"]["guid"])
    seeds = {p.name for p in SEEDS.iterdir()}
    assert by_rule["ceasefire"] == seeds
    assert by_rule["prisoner-exchange"] == seeds
    first = found[0]
    assert set(first) == {"id", "watchlist", "rule", "severity", "created", "story",
                          "cluster", "matches"}
    assert set(first["story"]) == {"id", "guid", "title", "url", "source", "published"}
    texts = {p.name: p.read_text() for p in SEEDS.iterdir()}
    for alert in found:
        for m in alert["matches"]:
            if m["field"] == "text":
                body = texts[alert["story"]["guid"]]
                # the stored text drops the headline line of seed 004; spans index stored text
                assert m["text"].casefold() in body.casefold()


def test_reingest_and_rematch_never_duplicate(tmp_path: Path, capsys) -> None:
    db = tmp_path / "db.json"
    cli(capsys, "ingest", str(SEEDS), "--db", str(db))
    before = alerts(capsys, db)
    code, _, err = cli(capsys, "ingest", str(SEEDS), "--db", str(db))
    assert "0 new alert(s)" in err
    code, _, err = cli(capsys, "rematch", "--db", str(db))
    assert code == 0 and "0 new alerts" in err
    after = alerts(capsys, db)
    assert sorted(a["id"] for a in after) == sorted(a["id"] for a in before)
    assert len({(a["story"]["id"], a["watchlist"], a["rule"]) for a in after}) == len(after)


def _one_story(capsys, tmp_path: Path, wl_dir: Path, text: str
               ) -> tuple[Path, Path, tuple[str, ...]]:
    """One story file ingested with the SMALL watchlist: (its file, the db, the args)."""
    (wl_dir / "small.yaml").write_text(SMALL)
    docs = tmp_path / "docs"
    docs.mkdir()
    story = docs / "a.txt"
    story.write_text(text)
    db = tmp_path / "db.json"
    args = ("--db", str(db), "--watchlists", str(wl_dir))
    cli(capsys, "ingest", str(docs), *args)
    return story, db, args


def test_changed_story_retires_alerts_it_no_longer_earns(tmp_path: Path, capsys,
                                                        wl_dir: Path) -> None:
    story, db, args = _one_story(capsys, tmp_path, wl_dir, "Talks\nA ceasefire was agreed.\n")
    docs = story.parent
    assert [a["rule"] for a in alerts(capsys, db)] == ["ceasefire"]
    story.write_text("Talks\nFighting went on.\n")
    code, _, err = cli(capsys, "ingest", str(docs), *args)
    assert "1 updated" in err
    assert alerts(capsys, db) == []


def test_alert_matches_are_found_when_read_by_the_watchlists_that_raised_them(
        tmp_path: Path, capsys, wl_dir: Path) -> None:
    """The store keeps which rules a story matched, not where: `alerts --json` finds the
    spans again, with the watchlists the store was matched with (not those a command
    happens to be pointed at), and from the story's text as stored now."""
    story, db, args = _one_story(capsys, tmp_path, wl_dir,
                                 "Talks\nA ceasefire was agreed. The ceasefire held.\n")
    assert all("matches" not in d for _, d in Store(db).items("alerts"))
    empty = tmp_path / "none"
    empty.mkdir()
    for extra in ((), ("--watchlists", str(empty))):  # the bundled ones, or none at all
        (alert,) = alerts(capsys, db, *extra)
        assert [(m["field"], m["start"], m["end"], m["text"]) for m in alert["matches"]] == [
            ("text", 2, 11, "ceasefire"), ("text", 28, 37, "ceasefire")]
    story.write_text("Talks\nAfter days of talks, a ceasefire.\n")  # updated: new spans
    cli(capsys, "ingest", str(story.parent), *args)
    (alert,) = alerts(capsys, db)
    assert [(m["start"], m["text"]) for m in alert["matches"]] == [(23, "ceasefire")]


def test_alerts_of_a_store_from_before_highlighting_on_read_show_the_rules_in_force(
        tmp_path: Path, capsys, wl_dir: Path) -> None:
    """A store whose watchlists record does not say which kept texts were in force (as
    the previous version left it) shows spans by the watchlists this command would use,
    never by a stale kept text; the next ingest records them (review finding)."""
    story, db, args = _one_story(capsys, tmp_path, wl_dir,
                                 "Talks\nA truce was agreed; a ceasefire is next.\n")
    cli(capsys, "ingest", str(story.parent), "--db", str(db))  # the bundled: kept too
    (wl_dir / "small.yaml").write_text(SMALL.replace("query: ceasefire", "query: truce"))
    cli(capsys, "ingest", str(story.parent), *args)
    with Store(db).transaction() as tx:  # as the previous version wrote it
        record = tx.get("meta", "watch")
        assert record is not None and record.pop("paths")
        tx.put("meta", "watch", record)
    (alert,) = alerts(capsys, db, "--watchlists", str(wl_dir), "--rule", "ceasefire")
    assert [m["text"] for m in alert["matches"]] == ["truce"]
    # ... and watchlists that cannot be read never cost the listing
    code, out, err = cli(capsys, "alerts", "--json", "--rule", "ceasefire", "--db", str(db),
                         "--watchlists", str(tmp_path / "moved"))
    assert code == 0 and json.loads(out)["matches"] == []
    assert "watchlists unusable" in err and "matches left empty" in err
    cli(capsys, "ingest", str(story.parent), *args)  # current: records what is in force
    assert Store(db).get("meta", "watch")["paths"] == [str(wl_dir.resolve() / "small.yaml")]
    (alert,) = alerts(capsys, db, "--rule", "ceasefire")  # any --watchlists now
    assert [m["text"] for m in alert["matches"]] == ["truce"]


def test_edited_watchlist_is_reapplied_on_next_ingest(tmp_path: Path, capsys,
                                                     wl_dir: Path) -> None:
    wl = wl_dir / "small.yaml"
    wl.write_text(SMALL)
    db = tmp_path / "db.json"
    args = ("--db", str(db), "--watchlists", str(wl_dir))
    cli(capsys, "ingest", str(SEEDS), *args)
    assert {a["rule"] for a in alerts(capsys, db)} == {"ceasefire"}
    wl.write_text(SMALL.replace("id: ceasefire", "id: exchange").replace(
        "query: ceasefire", 'query: "exchange 175 prisoners"'))
    code, _, err = cli(capsys, "ingest", str(SEEDS), *args)
    assert "watchlists changed" in err
    now = alerts(capsys, db)
    assert {a["rule"] for a in now} == {"exchange"}
    assert len(now) == 2
    code, out, _ = cli(capsys, "alerts", "--db", str(db), "--rule", "ceasefire", "--json")
    assert out == ""  # retired, not listed


def test_a_store_matched_by_an_older_matcher_is_matched_again(tmp_path: Path, capsys,
                                                            wl_dir: Path, monkeypatch) -> None:
    """How text matches changed (Chinese characters became words): stories stored and
    matched before are matched again by the next ingest, as after a watchlist edit."""
    from newswatch import watching

    (wl_dir / "quake.yaml").write_text("watchlist: quake\nrules:\n  - id: quake\n"
                                       "    query: 地震\n", encoding="utf-8")
    news = tmp_path / "news"
    news.mkdir()
    (news / "zh.txt").write_text("四川发生地震\n四川省发生6级地震。", encoding="utf-8")
    db = tmp_path / "db.json"
    args = ("--db", str(db), "--watchlists", str(wl_dir))
    monkeypatch.setattr(watching, "MATCHING_VERSION", watching.MATCHING_VERSION - 1)
    cli(capsys, "ingest", str(news), *args)
    with Store(db).transaction() as tx:  # as an older matcher left it: no alert
        for sid, doc in list(tx.store.items("stories")):
            tx.put("stories", sid, {**doc, "alerts": []})
        for aid, _ in list(tx.store.items("alerts")):
            tx.delete("alerts", aid)
    assert alerts(capsys, db) == []
    monkeypatch.undo()
    code, _, err = cli(capsys, "ingest", str(news), *args)
    assert code == 0 and "watchlists changed" in err
    assert [a["rule"] for a in alerts(capsys, db)] == ["quake"]


def test_invalid_edit_keeps_the_last_valid_version(tmp_path: Path, capsys,
                                                  wl_dir: Path) -> None:
    wl = wl_dir / "small.yaml"
    wl.write_text(SMALL)
    db = tmp_path / "db.json"
    args = ("--db", str(db), "--watchlists", str(wl_dir))
    cli(capsys, "ingest", str(SEEDS), *args)
    wl.write_text(SMALL.replace("query: ceasefire", "query: '(ceasefire'"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "new.txt").write_text("Headline\nA new ceasefire was declared.\n")
    code, _, err = cli(capsys, "ingest", str(docs), *args)
    assert code == 0
    assert f"{wl}:5:" in err and "keeping the last valid version" in err
    assert "1 new alert(s)" in err


def test_check_reports_file_line_col_and_exit_codes(capsys, wl_dir: Path) -> None:
    good = wl_dir / "good.yaml"
    good.write_text(SMALL)
    assert cli(capsys, "check", str(good))[0] == 0
    bad = wl_dir / "bad.yaml"
    bad.write_text(SMALL.replace("severity: high", "severty: high"))
    code, _, err = cli(capsys, "check", str(wl_dir))
    assert code == 1
    assert f"{bad}:6:5:" in err and "severity" in err
    assert cli(capsys, "check", str(BUNDLED))[0] == 0


def test_alert_filters(tmp_path: Path, capsys) -> None:
    db = tmp_path / "db.json"
    cli(capsys, "ingest", str(SEEDS), "--db", str(db))
    assert {a["rule"] for a in alerts(capsys, db, "--rule", "ceasefire")} == {"ceasefire"}
    assert alerts(capsys, db, "--watchlist", "nope") == []
    assert len(alerts(capsys, db, "--limit", "1")) == 1
    assert alerts(capsys, db, "--since", "2999-01-01") == []
    assert alerts(capsys, db, "--since", "1h")
    code, _, err = cli(capsys, "alerts", "--db", str(db), "--since", "yesterday")
    assert code == 2 and "--since" in err  # a usage error, as --limit x


def test_parse_since_forms() -> None:
    assert parse_since("2025-03-18") == "2025-03-18T00:00:00Z"
    assert parse_since("2025-03-18T20:01:00+01:00") == "2025-03-18T19:01:00Z"
    with pytest.raises(ValueError):
        parse_since("soon")
    for beyond in ("9999999d", "99999999999999999999999999d", "0001-01-01T00:00:00+01:00",
                   "9999-12-31T23:00:00-05:00"):  # past what a date holds: no OverflowError
        with pytest.raises(ValueError, match="not a time"):
            parse_since(beyond)


def test_bundled_watchlist_copy_is_the_default(tmp_path: Path, capsys, monkeypatch) -> None:
    folder = tmp_path / "wl"
    folder.mkdir()
    shutil.copy(BUNDLED, folder)
    monkeypatch.setenv("NEWSWATCH_WATCHLISTS", str(folder))
    db = tmp_path / "db.json"
    cli(capsys, "ingest", str(SEEDS), "--db", str(db))
    assert {a["watchlist"] for a in alerts(capsys, db)} == {"ukraine-peace"}
