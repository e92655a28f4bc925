"""The newswatch desk: alerts, clusters and stories on the left, the reader on the right.

All store work runs in thread workers that post messages back; widgets are only touched
on the app's own thread."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import webbrowser
from pathlib import Path

from textual import on, work
from textual.actions import SkipAction
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from newswatch.alerts import set_flags
from newswatch.locations import bundled
from newswatch.poller import Poller
from newswatch.store import Store
from newswatch.stories import newest_stories
from newswatch.tui.messages import DeskLoaded, Polled, Rematched, StoryLoaded
from newswatch.tui.palette import DeskCommands
from newswatch.tui.reader import Reader
from newswatch.tui.rowlist import Column, Row, RowList
from newswatch.tui.rows import alert_rows, cluster_rows, story_rows
from newswatch.tui.screens import EditorScreen, HelpScreen
from newswatch.views import (
    AlertGroup,
    DeskView,
    load_alert_groups,
    load_desk,
    status_line,
    story_detail,
    toast_lines,
    watchlist_file,
)
from newswatch.watching import ensure_current

PANES = ["alerts", "clusters", "stories"]
MAX_TOASTS = 5
PREVIEW_DELAY_S = 0.12  # the reader follows the cursor after it rests this long


class NewswatchApp(App[None]):
    """The TUI. Build it with :func:`make_app`."""

    CSS_PATH = str(bundled("styles") / "app.tcss")
    TITLE = "newswatch"
    COMMANDS = App.COMMANDS | {DeskCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("tab", "pane(1)", "Next pane", priority=True),
        Binding("shift+tab", "pane(-1)", "Prev pane", show=False, priority=True),
        Binding("slash", "search", "Search"),
        Binding("r", "poll_now", "Poll now"),
        Binding("o", "open_link", "Open link"),
        Binding("m", "mark", "Mark read/ack"),
        Binding("e", "edit_watchlist", "Edit watchlist"),
        Binding("E", "edit_external", "Edit in $EDITOR", show=False),
    ]

    def __init__(self, poller: Poller, *, autopoll: bool = True) -> None:
        super().__init__()
        self.poller = poller
        self.store: Store = poller.store
        self.autopoll = autopoll
        self.view = DeskView([], None, None)
        self._preview_timer: Timer | None = None
        self.groups: dict[str, AlertGroup] = {}
        self.load_seconds: float | None = None
        self.search_ids: set[str] | None = None

    # ------------------------------------------------------------------ layout

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """A toast. Plain text unless asked: toasts quote stories' titles and feeds'
        errors, and "[/b]" in a headline must not crash the desk (nor "[@click=…]" in one
        make a button)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="desk"):
            with TabbedContent(id="panes", initial="alerts"):
                with TabPane("Alerts", id="alerts"):
                    yield RowList([Column("when", 11), Column("severity", 8),
                                   Column("rule", 22), Column("stories", 7),
                                   Column("src", 4), Column("headline")],
                                  id="alert-list")
                with TabPane("Clusters", id="clusters"):
                    yield RowList([Column("last update", 11), Column("size", 4),
                                   Column("sources", 16), Column("event")], id="cluster-list")
                with TabPane("Stories", id="stories"), Vertical():
                    yield Input(placeholder="search title and text, enter to apply",
                                id="search")
                    yield RowList([Column("when", 11), Column("source", 16),
                                   Column("headline")], id="story-list")
            yield Reader(id="reader")
        yield Static("starting…", id="status", markup=False)  # errors from feeds in it
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#alert-list", RowList).focus()
        self.load_desk()
        if self.autopoll:
            self.poll(force=True)
            self.set_interval(1.0, self._tick)
            self.set_interval(2.0, self._check_watchlists)

    # ------------------------------------------------------------------ workers

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_desk(self) -> None:
        start = time.perf_counter()
        worker = get_current_worker()
        # alerts first (their own small table): the first screen does not wait for stories
        groups = load_alert_groups(self.store)
        if worker.is_cancelled:  # a newer load replaced this one
            return
        self.post_message(DeskLoaded(DeskView(groups, None, None),
                                          time.perf_counter() - start))

    @work(thread=True, exclusive=True, group="load-rest", exit_on_error=False)
    def load_rest(self, groups: list[AlertGroup]) -> None:
        """Clusters and stories, started after the alerts are on screen (a worker thread
        holding the GIL before the first paint would delay it)."""
        start = time.perf_counter()
        view = load_desk(self.store, groups)
        if not get_current_worker().is_cancelled:
            self.post_message(DeskLoaded(view, time.perf_counter() - start))

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def poll(self, force: bool = False) -> None:
        report = self.poller.poll(force=force)
        new = list(report.ingest.alerts.new)
        if report.ingest.rematched is not None:
            new += report.ingest.rematched.new
        self.post_message(Polled(report, toast_lines(self.store, new)))

    @work(thread=True, group="flags", exit_on_error=False)
    def save_flags(self, alert_ids: list[str], read: bool, ack: bool) -> None:
        set_flags(self.store, alert_ids, read=read, ack=ack)

    @work(thread=True, exclusive=True, group="story", exit_on_error=False)
    def load_story(self, story_id: str, mark_read: bool = False) -> None:
        detail = story_detail(self.store, story_id, self.poller.watcher.highlighter())
        if detail is None:
            return
        if get_current_worker().is_cancelled:  # the cursor moved on: don't show or mark it
            return
        if mark_read:  # only an explicit open marks read: a commit per cursor move would lag
            set_flags(self.store, [a.id for a in detail.alerts if not a.read], read=True)
        self.post_message(StoryLoaded(detail))

    @work(thread=True, exclusive=True, group="rematch", exit_on_error=False)
    def rematch(self) -> None:
        self.poller.reload_watchlists_if_changed()
        done = ensure_current(self.store, self.poller.watcher)
        self.post_message(Rematched(len(done.new) if done else 0))

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def search(self, query: str) -> None:
        found = newest_stories(self.store, search=query, with_text=False) if query else None
        ids = {s.id for s in found} if found is not None else None
        if not get_current_worker().is_cancelled:  # a newer search replaced this one
            self.call_from_thread(self._apply_search, ids)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker errors surface: a toast, never a crash."""
        if event.state == WorkerState.ERROR:
            self.notify(f"{event.worker.name}: {event.worker.error}", severity="error",
                        timeout=10)

    # ------------------------------------------------------------------ messages

    def on_desk_loaded(self, message: DeskLoaded) -> None:
        if not self.is_running:  # shutting down: the widgets may already be gone
            return
        view = message.view
        if view.clusters is None or view.stories is None:  # first phase: alerts only
            self.view = DeskView(view.alerts, self.view.clusters, self.view.stories)
            self.load_seconds = message.seconds
            self.groups = {g.key: g for g in view.alerts}
            self.query_one("#alert-list", RowList).set_rows(alert_rows(view.alerts))
            self.call_after_refresh(self.load_rest, view.alerts)
        else:
            self.view = view
            self.query_one("#cluster-list", RowList).set_rows(cluster_rows(view.clusters))
            self._fill_stories()
        self._update_status()

    def _fill_stories(self) -> None:
        rows = story_rows(self.view.stories or [], self.search_ids)
        self.query_one("#story-list", RowList).set_rows(rows)

    def _apply_search(self, ids: set[str] | None) -> None:
        if not self.is_running:
            return
        self.search_ids = ids
        self._fill_stories()
        count = len(ids) if ids is not None else len(self.view.stories or [])
        self.notify(f"{count} stor{'y' if count == 1 else 'ies'}", timeout=2)

    def on_polled(self, message: Polled) -> None:
        report = message.report
        for line in report.watch_errors:
            self.notify(line, severity="warning", timeout=8)
        for source in report.ingest.sources:
            if source.error:
                self.notify(f"{source.location}: {source.error}", severity="error", timeout=6)
        self._toast_alerts(message.toasts)
        self.load_desk()

    def on_rematched(self, message: Rematched) -> None:
        self.notify(f"Watchlists reloaded: {message.new_alerts} new alert(s)", timeout=4)
        self.load_desk()

    def on_story_loaded(self, message: StoryLoaded) -> None:
        if self.is_running:  # a story loaded while the app shuts down has no reader
            self.query_one("#reader", Reader).show(message.detail)

    def _toast_alerts(self, toasts: list[tuple[str, str, str]]) -> None:
        for severity, rule, title in toasts[:MAX_TOASTS]:
            self.notify(title, title=f"{severity}: {rule}",
                        severity="error" if severity in ("high", "critical") else "warning",
                        timeout=6)
        if len(toasts) > MAX_TOASTS:
            self.notify(f"…and new alerts on {len(toasts) - MAX_TOASTS} more events", timeout=6)

    @on(RowList.Highlighted)
    def _row_highlighted(self, event: RowList.Highlighted) -> None:
        """Show the row's story once the cursor rests, so holding j stays smooth."""
        if not event.rowlist.has_focus:
            return
        if self._preview_timer is not None:
            self._preview_timer.stop()
        rowlist, key = event.rowlist, event.key
        self._preview_timer = self.set_timer(PREVIEW_DELAY_S,
                                             lambda: self._open(rowlist, key))

    @on(RowList.Selected)
    def _row_selected(self, event: RowList.Selected) -> None:
        self._open(event.rowlist, event.key, mark_read=True)
        self.query_one("#reader", Reader).focus()

    def _open(self, rowlist: RowList, key: str, mark_read: bool = False) -> None:
        if rowlist.id == "alert-list":
            group = self.groups.get(key)
            if group is not None:
                self.load_story(group.story_id, mark_read)
        elif rowlist.id == "cluster-list":
            cluster = next((c for c in self.view.clusters or [] if c.id == key), None)
            if cluster and cluster.story_ids:
                self.load_story(cluster.story_ids[-1], mark_read)
        else:
            self.load_story(key, mark_read)

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self.search(event.value.strip())
        self.query_one("#story-list", RowList).focus()

    # ------------------------------------------------------------------ actions

    def action_pane(self, step: int) -> None:
        if self.screen is not self.default_screen:
            # tab is a priority binding: on the editor, help or command palette let the
            # key through to that screen instead of switching the desk's panes behind it
            raise SkipAction()
        order = ["alert-list", "cluster-list", "story-list", "reader"]
        focused = self.focused.id if self.focused is not None else None
        if focused == "search":  # the search box belongs to the Stories pane
            focused = "story-list"
        index = order.index(focused) if focused in order else 0
        target = order[(index + step) % len(order)]
        if target != "reader":
            self.query_one(TabbedContent).active = PANES[order.index(target)]
        self.query_one(f"#{target}").focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_search(self) -> None:
        self.query_one(TabbedContent).active = "stories"
        self.query_one("#search", Input).focus()

    def action_poll_now(self) -> None:
        if self._worker_running("poll"):  # a thread cannot be cancelled: never two at once
            self.notify("A poll is running already", timeout=2)
            return
        self.notify("Polling every source…", timeout=2)
        self.poll(force=True)

    async def action_quit(self) -> None:
        self.poller.cancel.set()  # a poll waiting on a hanging feed ends now, not at its timeout
        await super().action_quit()

    def action_open_link(self) -> None:
        detail = self.query_one("#reader", Reader).detail
        if detail is None or not detail.story.url:
            self.notify("This story has no link", severity="warning")
            return
        self.open_link(detail.story.url)

    @work(thread=True, group="browser", exit_on_error=False)
    def open_link(self, url: str) -> None:
        """In a thread: a browser can take seconds to start, and the desk must not wait."""
        if not webbrowser.open(url):
            self.call_from_thread(self.notify, f"No web browser found; the link: {url}",
                                  severity="warning", timeout=10)

    def action_mark(self) -> None:
        rowlist = self.query_one("#alert-list", RowList)
        group = self.groups.get(rowlist.cursor_key or "")
        if group is None or self.focused is not rowlist:
            self.notify("Select an alert in the Alerts pane to acknowledge it",
                        severity="warning")
            return
        value = not group.acknowledged
        self.save_flags(group.alert_ids, True, value)
        group.acknowledged = value
        group.unread = 0
        row = rowlist.rows[rowlist.cursor]
        rowlist.replace_row(Row(row.key, row.cells, row.style, dim=value))

    def watchlist_path(self) -> Path | None:
        group = self.groups.get(self.query_one("#alert-list", RowList).cursor_key or "")
        return watchlist_file(self.poller.watcher.watchset.watchlists,
                              group.watchlist if group is not None else None)

    def action_edit_watchlist(self) -> None:
        path = self.watchlist_path()
        if path is None:
            self.notify("No watchlist file to edit", severity="warning")
            return

        try:
            text = path.read_text(encoding="utf-8") if path.exists() else ""
        except (OSError, UnicodeDecodeError) as exc:
            self.notify(f"{path}: cannot edit here: {exc}", severity="error")
            return

        def saved(ok: bool | None) -> None:
            if ok:
                self.notify(f"Saved {path.name}; re-matching stored stories…", timeout=3)
                self.rematch()

        self.push_screen(EditorScreen(path, text), saved)

    def action_edit_external(self) -> None:
        path = self.watchlist_path()
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if path is None or not editor:
            self.notify("Set $EDITOR to edit outside the app", severity="warning")
            return
        with self.suspend():
            subprocess.run([*shlex.split(editor), str(path)], check=False)
        self.rematch()

    # ------------------------------------------------------------------ timers

    def _tick(self) -> None:
        if self.poller.due() and not self._worker_running("poll"):
            self.poll()
        self._update_status()

    def _check_watchlists(self) -> None:
        if self.poller.watchlists_changed() and not self._worker_running("rematch"):
            self.rematch()

    def _worker_running(self, group: str) -> bool:
        # not "_running": that is MessagePump's own bool attribute, which shadows a method
        return any(w.group == group and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
                   for w in self.workers)

    def _update_status(self) -> None:
        if self.is_running:
            self.query_one("#status", Static).update(status_line(self.poller, self.view))


def make_app(poller: Poller, *, autopoll: bool = True) -> NewswatchApp:
    """The one factory for the CLI and the tests."""
    return NewswatchApp(poller, autopoll=autopoll)
