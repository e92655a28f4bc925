"""The desk as a user drives it: Pilot key presses against a real store in a temp dir.

Every wait is bounded (``wait_until``); the tests are sync functions that run the Pilot
scenario with ``asyncio.run`` so they need no async test plugin."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("textual")

from textual.command import CommandList, CommandPalette  # noqa: E402
from textual.widgets import Input, Static, TabbedContent, TextArea  # noqa: E402

from newswatch.alerts import ALERTS  # noqa: E402
from newswatch.config import Settings  # noqa: E402
from newswatch.sources import SourceSpec  # noqa: E402
from newswatch.store import Store  # noqa: E402
from newswatch.stories import STORIES  # noqa: E402
from newswatch.tui.reader import Reader  # noqa: E402
from newswatch.tui.rowlist import RowList  # noqa: E402
from newswatch.tui.screens import EditorScreen, HelpScreen  # noqa: E402
from tests.feedserver import FeedServer, rss_feed  # noqa: E402
from tests.tui.desk import (  # noqa: E402
    HEADLINE,
    REPO,
    RULE,
    SEVERITY,
    SIZE,
    SOURCE_COUNT,
    STORY_COUNT,
    TRUMP_PUTIN,
    WHEN,
    WHITE_HOUSE,
    alert_rules,
    find_alert_row,
    new_app,
    rows,
    run,
    seed_settings,
    toasts,
    wait_until,
)


def stored_alerts(db: Path) -> dict[str, dict]:
    with Store(db) as store:
        return {key: dict(doc) for key, doc in store.items(ALERTS)}


def stored_stories(db: Path) -> dict[str, dict]:
    with Store(db) as store:
        return {key: dict(doc) for key, doc in store.items(STORIES)}


def newest_titles(db: Path, alert_ids: list[str]) -> set[str]:
    """Titles of the stories that carry an alert group's newest alert: its headline is one.

    (Both seeds are ingested in one commit, so their alerts share one time stamp.)"""
    with Store(db) as store:
        alerts = store.get_many(ALERTS, alert_ids)
        newest = max(doc["created"] for doc in alerts.values())
        stories = store.get_many(STORIES, {doc["story"] for doc in alerts.values()
                                           if doc["created"] == newest})
    return {doc["title"] for doc in stories.values()}


def reader(app) -> Reader:  # noqa: ANN001
    return app.query_one("#reader", Reader)


def reader_title(app) -> str | None:  # noqa: ANN001
    detail = reader(app).detail
    return detail.story.title if detail is not None else None


def reader_story(app) -> str | None:  # noqa: ANN001
    detail = reader(app).detail
    return detail.story.id if detail is not None else None


def assert_reader_shows_the_event(app, stories: dict[str, dict]) -> None:  # noqa: ANN001
    """The reader shows one seed of the event and lists the other seed as the same event."""
    detail = reader(app).detail
    assert detail is not None
    assert set(stories) == {detail.story.id, *(sid for sid, _, _ in detail.siblings)}
    (other,) = (sid for sid in stories if sid != detail.story.id)
    assert detail.story.cluster_id == stories[other]["cluster"]
    assert detail.siblings == [(other, "seeds", stories[other]["title"])]
    listed = app.query_one("#reader-body", Static).content.renderables[-1].plain
    assert listed == f"\nSame event, 1 other story:\n  • seeds: {stories[other]['title']}\n"


def white_house_rows(app) -> list[tuple[str, ...]]:  # noqa: ANN001
    """(severity, rule, stories, src) of the alert rows of the added white-house rule."""
    return [row.cells[SEVERITY:HEADLINE] for row in rows(app, "alert-list")
            if row.cells[RULE] == "white-house"]


# ---------------------------------------------------------------------- first start


def test_first_start_ingests_the_seeds_and_lists_their_alerts(tmp_path: Path) -> None:
    settings = seed_settings(tmp_path)

    async def scenario() -> None:
        app = new_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: {"ceasefire", "prisoner-exchange"}
                             <= set(alert_rules(app)), "alert rows from the seeds")
            stories = stored_stories(settings.db)
            assert len(stories) == 2
            (event,) = {doc["cluster"] for doc in stories.values()}  # one event, one cluster
            alert_rows = rows(app, "alert-list")
            # one row per rule for the event, not one per seed story
            assert len(alert_rules(app)) == len(set(alert_rules(app)))
            assert {app.groups[r.key].cluster_key for r in alert_rows} == {event}
            for rule in ("ceasefire", "prisoner-exchange"):
                row = alert_rows[find_alert_row(app, rule)]
                # both seeds report the ceasefire and the prisoner swap, from one source
                assert row.cells[SEVERITY:HEADLINE] == ("high", rule, "2", "1")
                assert row.style == "high"
                group = app.groups[row.key]
                assert {stored_alerts(settings.db)[a]["story"] for a in group.alert_ids} \
                    == set(stories)
                assert row.cells[HEADLINE] in newest_titles(settings.db, group.alert_ids)
                assert row.cells[HEADLINE] == stories[group.story_id]["title"]
                assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d", row.cells[WHEN])
            # only the Trump–Putin story mentions the Zaporizhzhia plant
            nuclear = alert_rows[find_alert_row(app, "zaporizhzhia-nuclear")]
            assert nuclear.cells[SEVERITY:] == ("critical", "zaporizhzhia-nuclear", "1", "1",
                                                TRUMP_PUTIN)
            assert not any(r.dim for r in alert_rows)
            # the Clusters pane (filled after the alerts): the one event, both seeds,
            # under the real headline
            await wait_until(pilot, lambda: rows(app, "cluster-list"), "the clusters pane")
            (cluster,) = rows(app, "cluster-list")
            assert cluster.key == event
            assert cluster.cells[1:] == ("2", "seeds", TRUMP_PUTIN)
            assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d", cluster.cells[0])
            titles = [r.cells[2] for r in rows(app, "story-list")]
            assert len(titles) == 2 and TRUMP_PUTIN in titles
            assert any(t.startswith(WHITE_HOUSE) for t in titles)
            status = str(app.query_one("#status", Static).content)
            assert "1/1 sources ok" in status and "2 stories" in status
            assert f"{len(alert_rows)} alert groups" in status
            # the alert list has the focus and its first row is already in the reader
            assert app.focused is app.query_one("#alert-list")
            first = app.groups[alert_rows[0].key]
            await wait_until(pilot, lambda: reader_story(app) == first.story_id, "the reader")
            assert_reader_shows_the_event(app, stories)
        with Store(settings.db) as store:
            assert store.count("stories") == 2

    run(scenario)


# ---------------------------------------------------------------------- navigation


def test_keys_move_the_cursor_switch_panes_and_open_the_reader(tmp_path: Path) -> None:
    settings = seed_settings(tmp_path)

    async def scenario() -> None:
        app = new_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: len(rows(app, "alert-list")) >= 4, "alert rows")
            alerts = app.query_one("#alert-list", RowList)
            tabs = app.query_one("#panes", TabbedContent)
            assert alerts.cursor == 0
            await pilot.press("j")
            assert alerts.cursor == 1
            await pilot.press("down")
            assert alerts.cursor == 2
            await pilot.press("k")
            assert alerts.cursor == 1
            await pilot.press("up", "up", "k")  # stops at the first row
            assert alerts.cursor == 0
            await pilot.press("G")
            assert alerts.cursor == len(alerts.rows) - 1
            await pilot.press("g")
            assert alerts.cursor == 0

            # moving the cursor shows the highlighted alert's story in the reader, and the
            # reader lists the other seed as the same event
            stories = stored_stories(settings.db)
            for _ in range(find_alert_row(app, "ceasefire")):
                await pilot.press("j")
            assert alerts.rows[alerts.cursor].cells[RULE] == "ceasefire"
            truce = app.groups[alerts.cursor_key]
            await wait_until(pilot, lambda: reader_story(app) == truce.story_id,
                             "the ceasefire alert's story in the reader")
            assert reader_title(app) == alerts.rows[alerts.cursor].cells[HEADLINE]
            assert_reader_shows_the_event(app, stories)

            # tab cycles Alerts → Clusters → Stories → Reader → Alerts; shift+tab goes back
            seen = []
            for _ in range(4):
                await pilot.press("tab")
                seen.append((app.focused.id if app.focused else None, tabs.active))
            assert seen == [("cluster-list", "clusters"), ("story-list", "stories"),
                            ("reader", "stories"), ("alert-list", "alerts")]
            await pilot.press("shift+tab")
            assert app.focused is reader(app)
            await pilot.press("shift+tab")
            assert (app.focused.id, tabs.active) == ("story-list", "stories")

            # enter in the stories pane opens that story: the seed the prisoner-exchange
            # row does not show, so that opening the alert below changes the reader
            swap_row = rows(app, "alert-list")[find_alert_row(app, "prisoner-exchange")]
            swap_group = app.groups[swap_row.key]
            await wait_until(pilot, lambda: len(rows(app, "story-list")) == 2, "two stories")
            story_rows = rows(app, "story-list")
            other = next(r for r in story_rows if r.key != swap_group.story_id)
            app.query_one("#story-list", RowList).move_to(other.key)
            await pilot.press("enter")
            assert app.focused is reader(app)
            await wait_until(pilot, lambda: reader_story(app) == other.key,
                             "the other seed in the reader")
            assert reader_title(app) == other.cells[2]
            assert_reader_shows_the_event(app, stories)

            # enter on an alert opens its story in the reader, with the matches highlighted
            await pilot.press("tab")  # from the reader back to the alerts
            assert app.focused is alerts
            alerts.move_to(swap_row.key)
            await pilot.press("enter")
            assert app.focused is reader(app)
            await wait_until(pilot, lambda: reader_story(app) == swap_group.story_id,
                             "the prisoner-exchange alert's story in the reader")
            assert reader_title(app) == swap_row.cells[HEADLINE]
            assert_reader_shows_the_event(app, stories)
            detail = reader(app).detail
            assert detail is not None and detail.story.text
            rules = {a.rule for a in detail.alerts}
            assert {"ceasefire", "prisoner-exchange"} <= rules
            for alert in detail.alerts:
                assert alert.matches, alert.rule
                for span in alert.matches:
                    source = detail.story.title if span.field == "title" else detail.story.text
                    assert source[span.start:span.end] == span.text
            swap = next(a for a in detail.alerts if a.rule == "prisoner-exchange")
            assert any("prisoners" in s.text for s in swap.matches)
            # the reader draws each matched span underlined in its rule's colour
            body = app.query_one("#reader-body", Static).content
            # title, source line, rules, entities, a blank line, the text, the same event
            assert len(body.renderables) == 7
            title_text, text = body.renderables[0], body.renderables[5]
            assert text.plain == detail.story.text
            styled = [(s.start, s.end) for s in title_text.spans + text.spans
                      if "underline" in str(s.style)]
            wanted = {(s.start, s.end) for a in detail.alerts for s in a.matches}
            assert wanted <= set(styled)
            # "Entities:" is bold, the names after it are not
            entities = body.renderables[3]
            assert entities.plain.startswith("Entities: Volodymyr Zelensky")
            assert "bold" not in str(entities.style)
            assert [(s.start, s.end) for s in entities.spans if "bold" in str(s.style)] == [
                (0, len("Entities: "))]
            # opening the story marked its alerts read in the store
            stored = stored_alerts(settings.db)
            assert all(stored[a.id].get("read") for a in detail.alerts)

    run(scenario)


def test_a_slow_story_load_never_replaces_the_newer_one(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Moving on while a story is still loading: the reader ends on the row under the cursor."""
    import threading

    import newswatch.views as views_module

    settings = seed_settings(tmp_path)
    release = threading.Event()
    real_get_story = views_module.get_story

    def get_story(store, story_id, with_text=True):  # noqa: ANN001, ANN202
        story = real_get_story(store, story_id, with_text)
        if story is not None and story.title == TRUMP_PUTIN:
            release.wait(10)  # hold this load until the newer one has been shown
        return story

    async def scenario() -> None:
        app = new_app(settings, autopoll=False)
        async with app.run_test(size=SIZE) as pilot:
            app.poll(force=True)
            await wait_until(pilot, lambda: len(rows(app, "story-list")) == 2, "two stories")
            # the first alert row's story is loaded on start: let that finish first
            await wait_until(pilot, lambda: reader_title(app) is not None
                             and not app._worker_running("story"), "the first story")
            monkeypatch.setattr(views_module, "get_story", get_story)
            await pilot.press("tab", "tab")  # the stories pane: one row per story
            stories = app.query_one("#story-list", RowList)
            trump = next(r.key for r in stories.rows if r.cells[2] == TRUMP_PUTIN)
            other = next(r.key for r in stories.rows if r.key != trump)
            stories.move_to(other)
            await wait_until(pilot, lambda: not app._worker_running("story"), "idle")
            shown: list[str] = []
            show = reader(app).show
            reader(app).show = lambda detail: (shown.append(detail.story.title), show(detail))
            stories.move_to(trump)  # starts the slow load ...
            await pilot.pause()
            stories.move_to(other)  # ... and the cursor moves on before it is done
            await wait_until(pilot, lambda: shown, "the story under the cursor")
            assert shown[0].startswith(WHITE_HOUSE)
            release.set()
            await wait_until(pilot, lambda: not app._worker_running("story"), "the slow load")
            await pilot.pause()
            assert len(shown) == 1
            assert (reader_title(app) or "").startswith(WHITE_HOUSE)

    try:
        run(scenario)
    finally:
        release.set()


# ---------------------------------------------------------------------- search


def test_search_keeps_only_the_matching_story(tmp_path: Path) -> None:
    settings = seed_settings(tmp_path)

    async def scenario() -> None:
        app = new_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: len(rows(app, "story-list")) == 2, "two stories")
            await pilot.press("slash")
            assert app.focused is app.query_one("#search", Input)
            assert app.query_one("#panes", TabbedContent).active == "stories"
            # "e" (edit watchlist) is a desk key too: typed into the search box it is text
            await pilot.press(*"lengthy phone call", "enter")
            assert app.screen is app.default_screen
            assert app.query_one("#search", Input).value == "lengthy phone call"
            await wait_until(pilot, lambda: len(rows(app, "story-list")) == 1, "one story")
            (found,) = rows(app, "story-list")
            assert found.cells[2].startswith(WHITE_HOUSE)  # only in that seed's text
            assert app.focused is app.query_one("#story-list")
            assert ("", "1 story") in toasts(app)

            # a phrase in neither story empties the list; an empty search shows them all
            await pilot.press("slash", "ctrl+u", *"no such phrase", "enter")  # "r": poll key
            await wait_until(pilot, lambda: not rows(app, "story-list"), "no stories")
            assert app.query_one("#search", Input).value == "no such phrase"
            await pilot.press("slash", "ctrl+u", "enter")
            await wait_until(pilot, lambda: len(rows(app, "story-list")) == 2, "all stories")
            # the search box is part of the Stories pane: tab goes on to the reader
            await pilot.press("slash", "tab")
            assert app.focused is reader(app)
            assert app.query_one("#panes", TabbedContent).active == "stories"
            await pilot.press("slash", "shift+tab")
            assert app.focused is app.query_one("#cluster-list")

    run(scenario)


# ---------------------------------------------------------------------- acknowledge


def test_m_acknowledges_an_alert_group_and_it_survives_a_restart(tmp_path: Path) -> None:
    settings = seed_settings(tmp_path)
    state: dict[str, object] = {}

    async def first_run() -> None:
        app = new_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: "ceasefire" in alert_rules(app), "alert rows")
            alerts = app.query_one("#alert-list", RowList)
            index = find_alert_row(app, "ceasefire")
            alerts.move_to(rows(app, "alert-list")[index].key)
            await pilot.pause()
            key = alerts.cursor_key
            row = alerts.rows[alerts.cursor]
            assert (row.cells[RULE], row.cells[STORY_COUNT], row.cells[SOURCE_COUNT]) \
                == ("ceasefire", "2", "1")
            ids = set(app.groups[key].alert_ids)
            # the one row stands for the ceasefire alert of each seed
            stored = stored_alerts(settings.db)
            assert ids == {aid for aid, doc in stored.items() if doc["rule"] == "ceasefire"}
            assert sorted(stored[a]["story"] for a in ids) == sorted(stored_stories(settings.db))
            assert not any(stored[a].get("ack") for a in ids)

            await pilot.press("m")
            stored = stored_alerts(settings.db)
            assert all(stored[a].get("ack") and stored[a].get("read") for a in ids)
            others = [doc for aid, doc in stored.items() if aid not in ids]
            assert others and not any(doc.get("ack") for doc in others)
            assert alerts.rows[alerts.cursor].key == key and alerts.rows[alerts.cursor].dim
            assert sum(r.dim for r in alerts.rows) == 1

            await pilot.press("m")  # again: unmark
            stored = stored_alerts(settings.db)
            assert not any(stored[a].get("ack") for a in ids)
            assert not alerts.rows[alerts.cursor].dim

            await pilot.press("m")
            assert all(stored_alerts(settings.db)[a].get("ack") for a in ids)
            state["key"] = key

    async def second_run() -> None:
        app = new_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: state["key"] in {r.key for r in
                                                              rows(app, "alert-list")},
                             "the acknowledged row after a restart")
            dim = {r.key for r in rows(app, "alert-list") if r.dim}
            assert dim == {state["key"]}
            assert app.groups[state["key"]].acknowledged

    run(first_run)
    run(second_run)


# ---------------------------------------------------------------------- watchlist editor

BROKEN_RULE = """
  - id: broken
    query: '(ceasefire'
"""

WHITE_HOUSE_RULE = """
  - id: white-house
    query: '"White House"'
    severity: low
"""


def test_editor_rejects_an_invalid_watchlist_then_saves_a_fix_and_rematches(
        tmp_path: Path) -> None:
    settings = seed_settings(tmp_path)
    path = settings.watchlists[0] / "ukraine-peace.yaml"
    original = path.read_text(encoding="utf-8")
    stamp = path.stat().st_mtime_ns

    async def scenario() -> None:
        app = new_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: "ceasefire" in alert_rules(app), "alert rows")
            assert "white-house" not in alert_rules(app)
            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen), "the editor")
            editor = app.screen
            assert isinstance(editor, EditorScreen)
            assert editor.path.resolve() == path.resolve()
            area = editor.query_one("#editor", TextArea)
            assert area.text == original
            assert app.focused is area

            area.text = original.rstrip("\n") + "\n" + BROKEN_RULE
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: editor.errors, "the validation errors")
            assert app.screen is editor
            errors = editor.errors
            found = re.search(r":(\d+):(\d+): ", errors)
            assert found, errors
            assert errors.startswith(f"{editor.path}:")
            assert "rule 'broken'" in errors and "unclosed '('" in errors
            assert editor.query_one("#editor-errors").has_class("visible")
            # the cursor jumped to the first error
            assert area.cursor_location == (int(found.group(1)) - 1, int(found.group(2)) - 1)
            assert path.read_text(encoding="utf-8") == original
            assert path.stat().st_mtime_ns == stamp

            fixed = original.rstrip("\n") + "\n" + WHITE_HOUSE_RULE
            area.text = fixed
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: app.screen is app.default_screen,
                             "the editor to close")
            assert path.read_text(encoding="utf-8") == fixed
            # both seeds name the White House: two new alerts, one row for the event
            await wait_until(pilot, lambda: white_house_rows(app) == [
                ("low", "white-house", "2", "1")], "the white-house row after the rematch")
            assert any(m.startswith("Watchlists reloaded: 2 new") for _, m in toasts(app))
        stored = stored_alerts(settings.db)
        assert sorted(d["story"] for d in stored.values() if d["rule"] == "white-house") \
            == sorted(stored_stories(settings.db))

    run(scenario)


def test_escape_leaves_the_editor_without_saving(tmp_path: Path) -> None:
    settings = seed_settings(tmp_path)
    path = settings.watchlists[0] / "ukraine-peace.yaml"
    original = path.read_text(encoding="utf-8")

    async def scenario() -> None:
        app = new_app(settings, autopoll=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen), "the editor")
            area = app.screen.query_one("#editor", TextArea)
            area.cursor_location = (0, 0)
            await pilot.press("tab", *"zzz")  # tab indents inside the editor
            assert area.text.startswith("    zzzwatchlist:")
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is app.default_screen,
                             "the editor to close")
            assert path.read_text(encoding="utf-8") == original

    run(scenario)


# ---------------------------------------------------------------------- live feed

LIVE_WATCHLIST = """\
watchlist: live
rules:
  - id: truce
    query: ceasefire
    severity: high
"""

QUIET = {"title": "Markets close higher on Tuesday", "guid": "wire-1",
         "link": "http://127.0.0.1/wire-1", "description": "Stocks rose across Europe."}
NEWS = {"title": "Ceasefire agreed along the front line", "guid": "wire-2",
        "link": "http://127.0.0.1/wire-2",
        "description": "Both sides agreed a ceasefire starting at midnight."}


def live_settings(tmp_path: Path, *sources: SourceSpec) -> Settings:
    """The LIVE_WATCHLIST over ``sources``, with the store in tmp_path."""
    watchlist = tmp_path / "live.yaml"
    watchlist.write_text(LIVE_WATCHLIST, encoding="utf-8")
    return Settings(db=tmp_path / "db.json", watchlists=(watchlist,), sources=sources)


def test_poll_now_picks_up_a_new_matching_item_and_toasts_it(
        tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.route("/wire.xml", body=rss_feed([QUIET]), etag='"v1"')
    settings = live_settings(tmp_path, SourceSpec(name="wire", url=url))

    async def scenario() -> None:
        app = new_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: len(rows(app, "story-list")) == 1,
                             "the first feed item", tries=200)
            assert rows(app, "story-list")[0].cells[1:] == ("wire", QUIET["title"])
            assert rows(app, "alert-list") == []

            feed_server.route("/wire.xml", body=rss_feed([NEWS, QUIET]), etag='"v2"')
            await pilot.press("r")
            await wait_until(pilot, lambda: alert_rules(app) == ["truce"],
                             "the new alert row", tries=200)
            (row,) = rows(app, "alert-list")
            assert row.cells[SEVERITY:] == ("high", "truce", "1", "1", NEWS["title"])
            assert ("high: live/truce", NEWS["title"]) in toasts(app)
            assert {r.cells[2] for r in rows(app, "story-list")} == {QUIET["title"],
                                                                      NEWS["title"]}
            assert feed_server.hits["/wire.xml"] == 2
            assert feed_server.last_headers("/wire.xml").get("if-none-match") == '"v1"'

    run(scenario)


def test_due_sources_are_polled_on_their_interval(tmp_path: Path,
                                                   feed_server: FeedServer) -> None:
    url = feed_server.route("/wire.xml", body=rss_feed([QUIET]), etag='"v1"')
    watchlist = tmp_path / "live.yaml"
    watchlist.write_text(LIVE_WATCHLIST, encoding="utf-8")
    settings = Settings(db=tmp_path / "db.json", watchlists=(watchlist,),
                        sources=(SourceSpec(name="wire", url=url, interval_s=1.0),))

    async def scenario() -> None:
        app = new_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: len(rows(app, "story-list")) == 1,
                             "the first feed item", tries=200)
            feed_server.route("/wire.xml", body=rss_feed([NEWS, QUIET]), etag='"v2"')
            # no key pressed: the source is due again after about a second
            await wait_until(pilot, lambda: alert_rules(app) == ["truce"],
                             "the alert from the next scheduled poll", tries=200)
            assert ("high: live/truce", NEWS["title"]) in toasts(app)
            assert "1/1 sources ok" in str(app.query_one("#status", Static).content)

    run(scenario)


def test_a_watchlist_edited_outside_the_app_is_reloaded_and_rematched(
        tmp_path: Path) -> None:
    settings = seed_settings(tmp_path)
    path = settings.watchlists[0] / "ukraine-peace.yaml"

    async def scenario() -> None:
        app = new_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: "ceasefire" in alert_rules(app), "alert rows")
            path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n"
                            + WHITE_HOUSE_RULE, encoding="utf-8")
            # the desk checks the watchlist files every 2 s; both seeds name the White
            # House, and they are one event: one row of two stories
            await wait_until(pilot, lambda: white_house_rows(app) == [
                ("low", "white-house", "2", "1")], "the white-house row", tries=120)
        stored = stored_alerts(settings.db)
        assert sorted(d["story"] for d in stored.values() if d["rule"] == "white-house") \
            == sorted(stored_stories(settings.db))

    run(scenario)


# ---------------------------------------------------------------------- help and palette


def test_help_screen_and_command_palette(tmp_path: Path) -> None:
    settings = seed_settings(tmp_path)

    async def scenario() -> None:
        app = new_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: rows(app, "alert-list"), "alert rows")
            await pilot.press("question_mark")
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
            assert "command palette" in str(app.screen.query_one(Static).content)
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is app.default_screen, "help to close")

            await pilot.press("ctrl+p")
            await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "palette")
            commands = app.screen.query_one(CommandList)
            await wait_until(pilot, lambda: commands.option_count > 0, "palette entries")

            def prompts() -> list[str]:
                return [str(getattr(o.prompt, "plain", o.prompt)).split("\n")[0]
                        for o in commands.options]

            assert "Poll now" in prompts()
            assert "Edit watchlist" in prompts()
            # tab inside the palette leaves the desk behind it alone
            await pilot.press("tab")
            assert app.query_one("#panes", TabbedContent).active == "alerts"
            await pilot.press(*"poll now")
            await wait_until(pilot, lambda: prompts() and prompts()[0].startswith("Poll now"),
                             "the Poll now hit first")
            await wait_until(pilot, lambda: app.poller.last_poll is not None, "first poll")
            before = app.poller.last_poll
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.screen is app.default_screen,
                             "the palette to close")
            assert ("", "Polling every source…") in toasts(app)
            await wait_until(pilot, lambda: app.poller.last_poll != before, "the poll")

    run(scenario)


# ---------------------------------------------------------------------- core stays headless

CORE = ["newswatch.store", "newswatch.sources", "newswatch.sources.fetch", "newswatch.watch",
        "newswatch.pipeline", "newswatch.poller", "newswatch.config", "newswatch.alerts",
        "newswatch.views", "newswatch.watching", "newswatch.stories", "newswatch.cluster"]

PROBE = """\
import importlib, importlib.util, json, sys
loaded = []
for name in {modules!r}:
    if importlib.util.find_spec(name) is not None:
        importlib.import_module(name)
        loaded.append(name)
print(json.dumps([loaded, sorted(m for m in sys.modules if m.split(".")[0] == "textual")]))
"""


def test_core_modules_do_not_import_textual() -> None:
    import json

    done = subprocess.run([sys.executable, "-c", PROBE.format(modules=CORE)], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    loaded, textual_modules = json.loads(done.stdout)
    assert set(loaded) >= set(CORE) - {"newswatch.cluster"}
    assert textual_modules == []


def test_markup_in_a_headline_or_a_feed_error_is_shown_as_text(
        tmp_path: Path, feed_server: FeedServer) -> None:
    """"[/b]" in a headline once crashed the desk in its toast, and "[/]" in a server's
    reason phrase in the status bar; "[@click=app.quit]" made a toast a quit button."""
    odd = dict(NEWS, title="Re: [/b] ceasefire [@click=app.quit]thread[/]")
    url = feed_server.route("/wire.xml", body=rss_feed([odd]))
    broken = feed_server.route("/broken.xml", status=503, body=b"down",
                               content_type="text/plain")
    settings = live_settings(tmp_path, SourceSpec(name="wire", url=url),
                             SourceSpec(name="[/] broken", url=broken))

    async def scenario() -> None:
        app = new_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: alert_rules(app) == ["truce"], "the alert row",
                             tries=200)
            assert ("high: live/truce", odd["title"]) in toasts(app)
            assert any(m.startswith(f"{broken}: HTTP 503") for _, m in toasts(app))
            await pilot.pause(0.3)
            assert app.is_running and app.return_code is None

    run(scenario)


def test_the_editor_refuses_a_watchlist_it_cannot_read_and_saves_through_a_symlink(
        tmp_path: Path) -> None:
    settings = seed_settings(tmp_path)
    [folder] = settings.watchlists
    real = tmp_path / "real.yaml"
    (folder / "ukraine-peace.yaml").rename(real)
    (folder / "ukraine-peace.yaml").symlink_to(real)

    async def scenario() -> None:
        app = new_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: alert_rules(app), "the alert rows", tries=200)
            real.write_bytes(real.read_bytes() + b"# caf\xe9\n")
            await pilot.press("e")
            await pilot.pause(0.2)
            assert any("cannot edit here" in m for _, m in toasts(app))
            assert app.is_running
            real.write_bytes(real.read_bytes().replace(b"# caf\xe9\n", b""))
            await pilot.press("e")
            await wait_until(pilot, lambda: app.screen.id != "_default" and
                             app.screen.__class__.__name__ == "EditorScreen", "the editor")
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: app.screen.__class__.__name__ != "EditorScreen",
                             "the editor to close")
        assert (folder / "ukraine-peace.yaml").is_symlink()

    run(scenario)


def test_o_opens_the_link_off_the_ui_thread_and_says_when_no_browser_exists(
        tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import webbrowser

    opened: list[tuple[str, bool]] = []

    def no_browser(url: str, *args: object, **kwargs: object) -> bool:
        opened.append((url, threading.current_thread() is threading.main_thread()))
        return False

    monkeypatch.setattr(webbrowser, "open", no_browser)
    url = feed_server.route("/wire.xml", body=rss_feed([NEWS]))
    settings = live_settings(tmp_path, SourceSpec(name="wire", url=url))

    async def scenario() -> None:
        app = new_app(settings)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: alert_rules(app) == ["truce"], "the alert row",
                             tries=200)
            await wait_until(pilot, lambda: app.query_one("#reader").detail is not None,
                             "the reader")
            await pilot.press("o")
            await wait_until(pilot, lambda: any("No web browser found" in m
                                                for _, m in toasts(app)), "the toast")
            assert opened == [(NEWS["link"], False)]

    run(scenario)
