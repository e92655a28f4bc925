from __future__ import annotations

from pathlib import Path

import pytest

from newswatch.watch import Matcher, MatchInput, load_watchlist

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher([load_watchlist(ROOT / "watchlists" / "ukraine-peace.yaml")])


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name)
def test_seed_hits_ceasefire_and_prisoner_exchange(matcher: Matcher, seed: Path) -> None:
    title, _, text = seed.read_text(encoding="utf-8").partition("\n")
    res = matcher.match(MatchInput("seeds", title, text))
    by_rule = {h.rule: h for h in res.hits}
    assert {"ceasefire", "prisoner-exchange"} <= set(by_rule)
    assert by_rule["ceasefire"].severity == "high"
    assert "exchange" in [s.text for s in by_rule["prisoner-exchange"].matches]
    ents = {e.id: e for e in res.entities}
    assert {"putin", "trump", "black-sea"} <= set(ents)
    for e in ents.values():
        for fld, start, end in e.spans:
            assert (title if fld == "title" else text)[start:end]


def test_prisoner_swap_sentence(matcher: Matcher) -> None:
    res = matcher.match(MatchInput("s", "", "Both sides would exchange 175 prisoners on Wednesday"))
    hit = next(h for h in res.hits if h.rule == "prisoner-exchange")
    assert [s.text for s in hit.matches] == ["exchange", "prisoners"]


def test_core_does_not_import_textual_or_tinydb() -> None:
    import subprocess
    import sys

    code = ("import sys, newswatch.watch; "
            "print(any(m.split('.')[0] in ('textual', 'tinydb') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
