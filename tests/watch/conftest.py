from __future__ import annotations

from collections.abc import Callable

import pytest

from newswatch.watch import Entity, Matcher, MatchInput, MatchResult, Rule, Watchlist, parse

ENTITIES = (
    Entity("putin", "Vladimir Putin", "person", ("Putin", "Vladimir Putin")),
    Entity("black-sea", "Black Sea", "place", ("Black Sea",)),
)


def make_matcher(query: str, **rule_kw: object) -> Matcher:
    aliases = {e.id: list(e.aliases) for e in ENTITIES}
    rule = Rule("r", parse(query, aliases), query=query, **rule_kw)  # type: ignore[arg-type]
    return Matcher([Watchlist("w", entities=ENTITIES, rules=(rule,))])


@pytest.fixture
def hits() -> Callable[..., list[str] | None]:
    """hits(query, text) -> matched span texts, or None when the rule does not match."""

    def run(query: str, text: str, title: str = "", source: str = "src", **kw: object):
        res: MatchResult = make_matcher(query, **kw).match(MatchInput(source, title, text))
        for hit in res.hits:
            for sp in hit.matches:
                original = title if sp.field == "title" else text
                assert original[sp.start : sp.end] == sp.text
        return [sp.text for sp in res.hits[0].matches] if res.hits else None

    return run
