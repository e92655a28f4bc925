from __future__ import annotations

import pytest

from newswatch.watch import QueryError, parse
from newswatch.watch.query import MAX_DEPTH, MAX_TERMS


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("prisoner", "175 prisoners were freed"),
        ("exchange", "they exchanged prisoners"),
        ("prisoners", "a prisoner"),
        ("CEASEFIRE", "a ceasefire now"),
        ("cease-fire", "a ceasefire now"),
        ("cease-fire", "a cease fire now"),
        ("cease-fire", "a cease-fire now"),
        ("cease-fire", "a cease\u2011fire now"),
        ("ceasefire", "a cease-fire now"),
        ("ceasefire", "a cease–fire now"),
        ("black-sea", "in the Black Sea today"),
        ("ceasefire", "ＣＥＡＳＥＦＩＲＥ announced"),
        ("fire", "the ﬁre spread"),
        ('"cease fire"', "a cease, fire"),
        ('"Black Sea"', "the black   sea"),
        ("“black sea”", "the Black Sea"),
        ("negotiat*", "negotiations began"),
        ("@putin", "Putin’s spokesman"),
        ("@putin", "Putin's spokesman"),
        ("@putin", "said Vladimir Putin."),
        ("café", "un cafe\u0301 noir"),
        ("a AND b", "b then a"),
        ("a b", "b then a"),
        ("a OR zz", "only a here"),
        ("a AND NOT b", "only a here"),
        ("(a OR b) AND c", "b and c"),
        # other scripts; Chinese and Japanese words inside text written without spaces
        ("перемирие", "Перемирие вступит в силу"),
        ('"обмен пленными"', "провели обмен пленными"),
        ("εκεχειρία", "Συμφωνία για εκεχειρία"),
        ("地震", "四川发生6级地震，造成12人死亡"),
        ('"发生地震"', "四川发生地震"),
        ("地震 NEAR/3 死亡", "四川发生地震造成死亡"),
        ("本塁打", "大谷翔平選手が本塁打を打ちました"),
        ("東京*", "東京都で地震"),  # each character is a word: a prefix is the word itself
        ('"東京 大阪"', "東京・大阪で"),  # ・ is punctuation, not a word between them
    ],
)
def test_matches(hits, query: str, text: str) -> None:
    assert hits(query, text) is not None


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("prisoner", "imprisonment"),
        ("war", "toward the warship"),
        ('"cease fires"', "a cease fire"),  # phrases are not stemmed
        ('"black sea"', "the sea black"),
        ("a AND b", "only a here"),
        ("a AND NOT b", "a and b"),
        ("NOT b a", "a b"),
        ("negotiat*", "renegotiate"),
        ("@putin", "Putinism"),
        ("ceasefire", "cease fire"),
        ("地震", "四川发生震地"),
        ("地震 NEAR/1 死亡", "四川发生地震后造成十人死亡"),
    ],
)
def test_does_not_match(hits, query: str, text: str) -> None:
    assert hits(query, text) is None


def test_precedence_not_near_and_or(hits) -> None:
    # OR binds loosest: a OR (b AND c)
    assert hits("a OR b AND c", "a alone") is not None
    assert hits("a OR b AND c", "b alone") is None
    # NOT binds tighter than AND
    assert hits("NOT a b", "b only") is not None


@pytest.mark.parametrize(("gap", "ok"), [(1, True), (5, True), (6, False)])
def test_near_window_edges(hits, gap: int, ok: bool) -> None:
    # NEAR/5: "b" exactly 5 words after "a" matches, 6 does not; either order.
    filler = " ".join(["x"] * (gap - 1))
    assert (hits("a NEAR/5 b", f"a {filler} b") is not None) is ok
    assert (hits("a NEAR/5 b", f"b {filler} a") is not None) is ok


def test_near_with_groups_phrases_entities(hits) -> None:
    q = '(prisoner OR POW) NEAR/6 (exchange OR swap)'
    assert hits(q, "Russia and Ukraine would exchange 175 prisoners of war") == [
        "exchange", "prisoners"]
    assert hits('"black sea" NEAR/4 @putin', "Putin spoke of the Black Sea") is not None
    assert hits('"black sea" NEAR/3 @putin', "Putin spoke of the Black Sea") is None
    assert hits("(a NEAR/2 b) NEAR/2 c", "a b c") is not None


def test_spans_point_into_original_text(hits) -> None:
    text = "Ｔｈｅ ＣＥＡＳＥＦＩＲＥ — and the “cease‑fire” ﬁnally: Putin’s word"
    assert hits("ceasefire", text) == ["ＣＥＡＳＥＦＩＲＥ", "cease‑fire"]
    assert hits("地震", "四川发生地震，地震造成12人死亡") == ["地震", "地震"]
    assert hits("@putin", text) == ["Putin’s"]
    assert hits("final*", text) == ["ﬁnally"]


def test_spans_deduped_and_sorted(hits) -> None:
    assert hits("ceasefire OR ceasefire OR truce", "truce then ceasefire") == [
        "truce", "ceasefire"]
    assert hits("@putin", "Vladimir Putin met Putin") == ["Vladimir Putin", "Putin"]


def test_title_spans_first(hits) -> None:
    assert hits("truce", "a truce", title="Truce!") == ["Truce", "truce"]


def test_fields_scope(hits) -> None:
    assert hits("truce", "a truce", title="x", fields=("title",)) is None
    assert hits("truce", "x", title="truce", fields=("title",)) == ["truce"]


def test_sources_scope(hits) -> None:
    assert hits("truce", "a truce", source="bbc-world", sources=("bbc-*",)) is not None
    assert hits("truce", "a truce", source="cnn", sources=("bbc-*",)) is None
    # case does not matter: feeds named from OPML titles are slugs ("BBC World" -> bbc-world)
    assert hits("truce", "a truce", source="bbc-world", sources=("BBC*",)) is not None


@pytest.mark.parametrize(
    ("query", "message", "column"),
    [
        ("", "empty query", 1),
        ("NOT a", "query needs at least one positive term", 1),
        ("a OR NOT b", "query needs at least one positive term", 1),
        ("a AND", "query ends where a term was expected", 6),
        ("(a OR b", "unclosed '('", 1),
        ("a OR b)", "unbalanced ')'", 7),
        ('a "open phrase', "unterminated phrase (missing closing quote)", 3),
        ("a NEAR b", "NEAR needs a distance, e.g. NEAR/5", 3),
        ("a NEAR/x b", "NEAR needs a distance, e.g. NEAR/5", 3),
        ("(a AND b) NEAR/3 c", "NEAR operands must be words, phrases, prefixes, @entities "
         "or OR groups of them", 11),
        ("ab*c", "'*' is only allowed at the end of a word", 3),
        ("a*", "a prefix* needs at least 2 letters", 1),
        ("x @", "'@' must be followed by an entity id", 3),
        ("a , b", "unexpected character ','", 3),
        ("()", "empty parentheses", 1),
    ],
)
def test_query_errors(query: str, message: str, column: int) -> None:
    with pytest.raises(QueryError) as e:
        parse(query)
    assert (e.value.message, e.value.column) == (message, column)


def test_unknown_entity_column() -> None:
    with pytest.raises(QueryError) as e:
        parse("a AND @nobody", {"putin": ["Putin"]})
    assert (e.value.message, e.value.column) == ("unknown entity @nobody", 7)


def test_pathological_queries_are_refused_quickly() -> None:
    with pytest.raises(QueryError, match="nested too deeply"):
        parse("(" * 500 + "a" + ")" * 500)
    with pytest.raises(QueryError, match="nested too deeply"):
        parse("NOT " * 500 + "a")
    with pytest.raises(QueryError, match="too many terms"):
        parse(" OR ".join(f"w{i}" for i in range(10_000)))
    parse("(" * (MAX_DEPTH - 1) + "a" + ")" * (MAX_DEPTH - 1))
    parse(" OR ".join(f"w{i}" for i in range(MAX_TERMS)))


def test_lowercase_operators_are_words(hits) -> None:
    assert hits("truce or peace", "truce or peace") is not None
    assert hits("truce or peace", "truce") is None


def test_a_phrase_word_written_joined_matches_the_hyphenated_text(hits) -> None:
    """Words in text match joined and split forms, phrases included: "ceasefire talks"
    finds "cease-fire talks" (it once found only "ceasefire talks")."""
    assert hits('"ceasefire talks"', "The cease-fire talks resumed.") == ["cease-fire talks"]
    assert hits('"ceasefire talks"', "The ceasefire talks resumed.") == ["ceasefire talks"]
    assert hits('"the postwar order"', "Into the post-war order.") == ["the post-war order"]
    assert hits('"ceasefire talks"', "The cease-fire was agreed; talks resumed.") is None
    assert hits('"ceasefire talks" NEAR/2 resumed', "cease-fire talks resumed") is not None
    # ... and a phrase word written with a hyphen matches the joined text
    assert hits('"cease-fire talks"', "The ceasefire talks resumed.") == ["ceasefire talks"]
    assert hits('"post-war cease-fire"', "a postwar ceasefire") == ["postwar ceasefire"]
    assert hits('"cease-fire"', "a ceasefire") == ["ceasefire"]
    assert hits('"cease-fire talks"', "The cease fire talks.") == ["cease fire talks"]
