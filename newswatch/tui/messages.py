"""Messages the desk's thread workers post back to the app's own thread."""

from __future__ import annotations

from textual.message import Message

from newswatch.poller import PollReport
from newswatch.views import DeskView, StoryDetail


class DeskLoaded(Message):
    def __init__(self, view: DeskView, seconds: float) -> None:
        super().__init__()
        self.view = view
        self.seconds = seconds


class Polled(Message):
    def __init__(self, report: PollReport, toasts: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.report = report
        self.toasts = toasts  # (severity, "watchlist/rule", headline) of new alerts


class StoryLoaded(Message):
    def __init__(self, detail: StoryDetail) -> None:
        super().__init__()
        self.detail = detail


class Rematched(Message):
    def __init__(self, new_alerts: int) -> None:
        super().__init__()
        self.new_alerts = new_alerts
