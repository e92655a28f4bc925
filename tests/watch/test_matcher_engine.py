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


def test_repeated_terms_match_like_one(hits) -> None:
    assert hits("truce truce", "a truce") == ["truce"]
    assert hits("@putin @putin", "PUTIN") == ["PUTIN"]
    assert hits("(sea OR sea) NEAR/2 black", "black x sea") == ["black", "sea"]
    assert hits("truce AND (truce OR truce)", "no deal") is None


def test_phrases_and_near_do_not_join_title_and_text(hits) -> None:
    # Title and text share one token sequence inside the matcher; they must not touch.
    assert hits('"black sea"', "sea of trouble", title="Into the black") is None
    assert hits("black NEAR/1 sea", "sea of trouble", title="Into the black") is None
    assert hits("black-sea", "sea of trouble", title="Into the black") is None
    assert hits("black AND sea", "sea of trouble", title="Into the black") == ["black", "sea"]
    assert hits('"black sea"', "x", title="Black Sea", fields=("text",)) is None
    assert hits('"black sea"', "Black Sea", title="x", fields=("text",)) == ["Black Sea"]


def test_word_cache_is_bounded_and_rebuilt() -> None:
    aliases = {e.id: list(e.aliases) for e in ENTITIES}
    queries = ["putin", '"black sea" OR truce', "cease-fire NEAR/3 putin"]
    rules = tuple(Rule(f"r{i}", parse(q, aliases), q) for i, q in enumerate(queries))
    wl = Watchlist("w", entities=ENTITIES, rules=rules)
    small, fresh = Matcher([wl]), Matcher([wl])
    small._chunks.max_chunks = 3  # cleared before almost every document
    docs = [MatchInput("s", f"Title {i}", f"Putin’s cease-fire {i} on the Black Sea; truce {i}")
            for i in range(5)]
    for doc in docs * 2:
        assert small.match(doc) == fresh.match(doc)
        assert len(small._chunks.info) <= 20
    assert [h.rule for h in fresh.match(docs[0]).hits] == ["r0", "r1", "r2"]


def test_case_folding_ignores_ascii_case_before_combining_marks(hits) -> None:
    # NFKC composes "j" + caron into "ǰ" but not "J" + caron: ASCII case is folded first,
    # so upper and lower case still match each other.
    assert hits("\u01f0\u0323", "J\u0323\u030c!") == ["J\u0323\u030c"]
    assert hits("J\u0323\u030c", "\u01f0\u0323") == ["\u01f0\u0323"]
    assert hits("Ｃａｆｅ\u0301", "CAFÉ") == ["CAFÉ"]
