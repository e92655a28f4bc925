"""Property tests: parser, matcher and loader never raise undocumented errors."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newswatch.watch import (
    Matcher,
    MatchInput,
    QueryError,
    Rule,
    Watchlist,
    WatchlistError,
    load_watchlist,
    parse,
)
from newswatch.watch.evaluate import Doc

from .conftest import ENTITIES

ALIASES = {e.id: list(e.aliases) for e in ENTITIES}
QUERY_BITS = st.sampled_from(
    ["a", "b", "cease-fire", "AND", "OR", "NOT", "(", ")", '"', "NEAR/2", "NEAR", "@putin",
     "@x", "pri*", "*", "’s", "ＣＥＡ", " ", "\u2011", "ﬁ"]
)
queries = st.one_of(st.text(max_size=40), st.lists(QUERY_BITS, max_size=12).map(" ".join))
TEXT_BITS = st.sampled_from(
    ["a", "b", " ", "-", "cease", "fire", "ﬁre", "’s", "Putin", "ＣＥＡＳＥＦＩＲＥ", "\u0301",
     "—", "“", ".", "\n", "İ", "ß", "½", "x'y", "e\u0301"]
)
texts = st.one_of(st.text(max_size=80), st.lists(TEXT_BITS, max_size=30).map("".join))


@settings(max_examples=300, deadline=None)
@given(queries)
def test_parser_raises_only_query_error(q: str) -> None:
    try:
        parse(q, ALIASES)
    except QueryError as e:
        assert 1 <= e.column <= len(q) + 1


def _matcher_for(q: str) -> Matcher | None:
    try:
        node = parse(q, ALIASES)
    except QueryError:
        return None
    return Matcher([Watchlist("w", entities=ENTITIES, rules=(Rule("r", node, q),))])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries, texts, texts)
def test_matcher_spans_point_into_original(q: str, title: str, text: str) -> None:
    m = _matcher_for(q)
    if m is None:
        return
    res = m.match(MatchInput("s", title, text))
    for hit in res.hits:
        assert hit.matches == sorted(set(hit.matches), key=lambda s: (s.field != "title", s.start,
                                                                       s.end))
        for sp in hit.matches:
            original = title if sp.field == "title" else text
            assert original[sp.start : sp.end] == sp.text and sp.start < sp.end
    for ent in res.entities:
        assert ent.count == len(ent.spans) > 0
    counted = m.match(MatchInput("s", title, text), entity_spans=False)  # the ingest's way
    assert counted.hits == res.hits
    assert [(e.id, e.count, e.spans) for e in counted.entities] == [
        (e.id, e.count, []) for e in res.entities]


OR_BITS = st.sampled_from(["a", "b", "cease", "fire", "cease-fire", "ceasefire", "@putin",
                           "pri*", '"a b"', '"cease fire"', "putin", "sea"])
or_groups = st.lists(OR_BITS, min_size=2, max_size=4).map(lambda ts: "(" + " OR ".join(ts) + ")")
grouped_queries = st.one_of(
    or_groups,
    st.tuples(or_groups, st.sampled_from(["NEAR/1", "NEAR/3", "AND", "AND NOT", "OR"]),
              st.one_of(or_groups, OR_BITS)).map(" ".join),
    queries,
)


DENSE_BITS = st.sampled_from(["a", "b", " ", "-", "cease", "fire", "cease-fire", "Putin",
                              "Vladimir Putin", "sea", "prize", "\n"])
dense_texts = st.one_of(texts, st.lists(DENSE_BITS, max_size=30).map(" ".join))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grouped_queries, dense_texts, dense_texts)
def test_an_or_of_terms_matched_as_one_leaf_matches_like_its_terms(q: str, title: str,
                                                                    text: str) -> None:
    try:
        node = parse(q, ALIASES)
    except QueryError:
        return
    lists = [Watchlist("w", entities=ENTITIES, rules=(Rule("r", node, q),))]
    doc = MatchInput("s", title, text)
    assert Matcher(lists).match(doc) == Matcher(lists, group_terms=False).match(doc)


SCOPES = st.sampled_from([("title", "text"), ("title",), ("text",)])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grouped_queries, grouped_queries, SCOPES, dense_texts, dense_texts)
def test_matching_without_spans_finds_the_same_rules_and_entity_counts(
        q1: str, q2: str, fields: tuple[str, ...], title: str, text: str) -> None:
    """What the ingest stores (``spans=False``: presence, NEAR stopped at its first pair)
    agrees with the full match that highlighting runs when an alert is read."""
    rules = []
    for k, q in enumerate((q1, q2, f"({q1}) NEAR/2 ({q2})", f"{q1} AND NOT ({q2})")):
        try:
            rules.append(Rule(f"r{k}", parse(q, ALIASES), q, fields=fields))
        except QueryError:
            continue
    m = Matcher([Watchlist("w", entities=ENTITIES, rules=tuple(rules))])
    doc = MatchInput("s", title, text)
    full, lite = m.match(doc), m.match(doc, spans=False)
    assert [h.rule for h in lite.hits] == [h.rule for h in full.hits]
    assert all(not h.matches for h in lite.hits)
    assert all(h.matches for h in full.hits)  # every hit shows where (no budget here)
    assert [(e.id, e.count) for e in lite.entities] == [(e.id, e.count) for e in full.entities]
    # highlighting an alert's rule alone finds the spans the full match finds
    assert m.spans(doc, [("w", h.rule) for h in full.hits]) == {
        ("w", h.rule): h.matches for h in full.hits}
    # the same rules as evaluating every occurrence, rule by rule (the reference)
    d = Doc(title, text, m._chunks, m._leaves)
    assert [h.rule for h in lite.hits] == [
        cr.rule.id for cr in m._rules if d.eval(cr.node, cr.scope) is not None]


def test_a_phrase_of_a_hyphenated_word_is_not_its_joined_form_split_otherwise() -> None:
    """"cease-fire" finds "cease-fire", "cease fire" and "ceasefire", not the compound
    "cea-se-fire" (nor a word with soft hyphens): presence alone must not decide it."""
    rule = Rule("r", parse('"cease-fire"', ALIASES), '"cease-fire"')
    m = Matcher([Watchlist("w", rules=(rule,))])
    for text, hit in (("A cease-fire.", True), ("A ceasefire.", True),
                      ("A cea\u00adse\u00adfire.", False), ("A ceas-efire.", False)):
        doc = MatchInput("s", "", text)
        assert bool(m.match(doc).hits) is hit, text
        assert bool(m.match(doc, spans=False).hits) is hit, text


def test_a_rules_hits_and_spans_never_depend_on_the_other_rules() -> None:
    """Each NEAR's bounds are its own: a rule that spends them over a dense text changes
    neither another rule's decision nor its spans, in any order (review finding)."""
    eater = " ".join(["gamma"] + ["beta"] * 998 + ["delta"] + ["alpha"] * 1000)
    text = eater + " . zeta " + " ".join(["eta"] * 400) + " . p q zed ."
    queries = {"A": "alpha NEAR/1 (beta OR (gamma NEAR/1000 delta))",
               "B": "zeta NEAR/1000 eta", "C": "(p NEAR/50 q) NEAR/1 zed"}
    rules = {k: Rule(k, parse(q, {}), q) for k, q in queries.items()}
    doc = MatchInput("s", "", text)
    alone = {k: Matcher([Watchlist("w", rules=(r,))]).match(doc) for k, r in rules.items()}
    together = Matcher([Watchlist("w", rules=tuple(rules.values()))])
    full = {h.rule: h.matches for h in together.match(doc).hits}
    assert full == {k: res.hits[0].matches for k, res in alone.items() if res.hits}
    assert set(full) == {"A", "B", "C"} and len(full["B"]) == 401
    for order in (["A", "B", "C"], ["C", "B", "A"]):
        assert together.spans(doc, [("w", k) for k in order]) == {
            ("w", k): v for k, v in full.items()}


def test_near_rules_are_decided_alike_when_an_earlier_one_spent_the_budget() -> None:
    """The NEAR budget bounds the occurrences found for spans; it never changes which
    rules hit, whether or not spans are asked for (review finding)."""
    text = " ".join(["gamma"] + ["beta"] * 998 + ["delta"] + ["alpha"] * 1000) + (
        ". Then y y w q.")
    queries = ['alpha NEAR/1 (beta OR (gamma NEAR/1000 delta))', 'q NEAR/1 ("y y w" OR y)']
    rules = tuple(Rule(f"r{k}", parse(q, {}), q) for k, q in enumerate(queries))
    doc = MatchInput("s", "", text)
    full = Matcher([Watchlist("w", rules=rules)]).match(doc)
    lite = Matcher([Watchlist("w", rules=rules)]).match(doc, spans=False)
    assert [h.rule for h in full.hits] == [h.rule for h in lite.hits] == ["r0", "r1"]
    assert full.hits[1].matches  # "y" NEAR/1 "q" is found exactly


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from([
        "rules:", "\n", "  - id: a", "    query: ", "'x AND'", '"@putin"', "entities:",
        "  putin: {name: P}", "    any: [a, b]", "severity: high", "[", "{", ":", "&a", "*a",
        "!!binary", "    fields: [title]", "    sources: 3", "watchlist: 1", "- ", "\t", "'",
    ]), max_size=20).map("".join),
))
def test_loader_raises_only_watchlist_error(tmp_path: Path, body: str) -> None:
    p = tmp_path / "w.yaml"
    p.write_text(body, encoding="utf-8", errors="surrogatepass")
    try:
        load_watchlist(p)
    except WatchlistError as e:
        assert e.errors and all(err.startswith(f"{p}:") for err in e.errors)
