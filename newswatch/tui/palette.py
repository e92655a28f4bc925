"""Command palette entries: every desk action, findable by name."""

from __future__ import annotations

from textual.command import DiscoveryHit, Hit, Hits, Provider

ACTIONS = [
    ("Poll now", "poll_now", "Fetch every source now"),
    ("Edit watchlist", "edit_watchlist", "Open the watchlist in the built-in editor"),
    ("Edit watchlist in $EDITOR", "edit_external", "Suspend and run your editor"),
    ("Mark read / acknowledge", "mark", "Toggle the selected alert group"),
    ("Open link", "open_link", "Open the story's URL in a browser"),
    ("Search stories", "search", "Search titles and full text"),
    ("Show help", "help", "Keys and what they do"),
]


class DeskCommands(Provider):
    """The desk's actions in the command palette (ctrl+p)."""

    async def discover(self) -> Hits:
        for name, action, help_text in ACTIONS:
            yield DiscoveryHit(name, self._runner(action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in ACTIONS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), self._runner(action), help=help_text)

    def _runner(self, action: str):  # noqa: ANN202 - a zero-argument callback
        async def run() -> None:
            await self.app.run_action(action)

        return run
