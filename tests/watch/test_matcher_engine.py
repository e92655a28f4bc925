"""Matcher internals that the query tests do not reach: presence pre-checks, lazy offsets."""

from __future__ import annotations

from newswatch.watch import Matcher, MatchInput, Rule, Watchlist, parse

from .conftest import ENTITIES


def test_terms_may_be_in_different_fields(hits) -> None:
    # A rule is evaluated over all of its fields, whichever field triggered it.
    assert hits("truce AND ceasefire", "a ceasefire", title="Truce") == ["Truce", "ceasefire"]
    assert hits("truce AND NOT ceasefire", "a ceasefire", title="Truce") is None
    assert hits("truce AND ceasefire", "a ceasefire", title="Truce", fields=("title",)) is None


def test_repeated_words_and_non_ascii_offsets(hits) -> None:
    text = "“Sea” — sea-black, Black Sea’s sea; the black sea—and ＳＥＡ sea"
    assert hits("sea", text) == ["Sea", "sea", "Sea’s", "sea", "sea", "ＳＥＡ", "sea"]
    assert hits('"black sea"', text) == ["Black Sea’s", "black sea"]
    assert hits("black NEAR/1 sea", text) == ["sea", "black", "Black", "Sea’s", "black", "sea"]


def test_presence_check_is_only_a_filter(hits) -> None:
    # Phrases, hyphenated words and NEAR are "maybe" on presence: positions decide.
    assert hits('"cease fire"', "fire cease") is None
    assert hits("cease-fire", "fire and cease") is None
    assert hits("cease NEAR/1 fire", "cease x y fire") is None
    assert hits('NOT "cease fire" truce', "fire cease truce") == ["truce"]
    assert hits('NOT "cease fire" truce', "cease fire truce") is None


def test_deeply_nested_rule_uses_the_interpreter(hits) -> None:
    deep = "truce AND " + "NOT " * 30 + "ceasefire"  # even number of NOTs
    assert hits(deep, "truce and ceasefire") == ["truce"]  # NOT contributes no spans
    assert hits(deep, "truce alone") is None


def test_many_rules_share_offsets_and_caches() -> None:
    aliases = {e.id: list(e.aliases) for e in ENTITIES}
    queries = ["putin", "@putin", '"vladimir putin"', "putin OR sea", "vladimir NEAR/1 putin"]
    rules = tuple(Rule(f"r{i}", parse(q, aliases), q) for i, q in enumerate(queries))
    m = Matcher([Watchlist("w", entities=ENTITIES, rules=rules)])
    text = "Vladimir Putin’s sea. " * 3 + "Putin"
    for _ in range(2):  # second run: every chunk already cached
        res = m.match(MatchInput("s", "Putin", text))
        assert [h.rule for h in res.hits] == ["r0", "r1", "r2", "r3", "r4"]
        for h in res.hits:
            for sp in h.matches:
                assert ("Putin" if sp.field == "title" else text)[sp.start : sp.end] == sp.text
        assert [sp.text for sp in res.hits[1].matches] == ["Putin"] + ["Vladimir Putin’s"] * 3 + [
            "Putin"]
        assert {e.id: e.count for e in res.entities} == {"putin": 5}
