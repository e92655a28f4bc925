"""Matcher throughput: 10,000 ~3 KB stories against 100 / 1,000 / 10,000 rules, one core.

    .venv/bin/python benchmarks/bench_match.py [--stories N] [--rules 100,1000,10000]

Vocabulary: the words of seeds/*.txt plus synthetic words (a few thousand in all).
Story words follow a Zipf-like distribution (common words dominate, as in news);
rule terms are drawn from the less common part of the vocabulary, as watch terms
usually are (names, places, topic words), in a realistic mix of words, OR groups,
phrases, NEAR, @entities, NOT and prefixes.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newswatch.watch import Entity, Matcher, MatchInput, Rule, Watchlist, parse  # noqa: E402


def vocabulary(rng: random.Random, size: int = 8000) -> list[str]:
    seen: dict[str, None] = {}
    for p in sorted((ROOT / "seeds").glob("*.txt")):
        for w in re.findall(r"[A-Za-z]+", p.read_text(encoding="utf-8")):
            seen.setdefault(w.lower(), None)
    vowels, consonants = "aeiou", "bcdfghjklmnprstvwz"
    while len(seen) < size:
        n = rng.randint(2, 5)
        w = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(n))
        seen.setdefault(w + rng.choice(["", "s", "ed", "ing", "er"]), None)
    return list(seen)


def stories(rng: random.Random, vocab: list[str], n: int) -> list[MatchInput]:
    weights = [1.0 / (rank + 10) ** 1.1 for rank in range(len(vocab))]
    out = []
    for i in range(n):
        ws = rng.choices(vocab, weights, k=480)
        for k in range(0, len(ws), rng.randint(8, 20)):
            ws[k] = ws[k].capitalize()
        for k in range(12, len(ws), 17):
            ws[k] += rng.choice([".", ",", "", ";"])
        title = " ".join(rng.choices(vocab, weights, k=10))
        out.append(MatchInput(f"source-{i % 50}", title, " ".join(ws)))
    return out


def rules(rng: random.Random, vocab: list[str], n: int) -> Watchlist:
    watch = vocab[1000:]  # watch terms are not the most common words
    ents = [Entity(f"e{k}", f"Entity {k}", "person", (rng.choice(watch).title(),
                   f"{rng.choice(watch).title()} {rng.choice(watch).title()}"))
            for k in range(max(10, n // 20))]
    aliases = {e.id: list(e.aliases) for e in ents}

    def w() -> str:
        return rng.choice(watch)

    makers = [
        (30, lambda: f"{w()} OR {w()} OR {w()}"),
        (15, lambda: f'"{w()} {w()}" OR {w()}'),
        (15, lambda: f"({w()} OR {w()}) NEAR/{rng.randint(3, 10)} ({w()} OR {w()})"),
        (10, lambda: f"@{rng.choice(ents).id} AND ({w()} OR {w()})"),
        (10, lambda: f"{w()} {w()} NOT {w()}"),
        (10, lambda: f"{w()[:5]}* AND {w()}"),
        (10, lambda: f"{w()}-{w()} OR ({w()} AND NOT ({w()} OR {w()}))"),
    ]
    weights = [m[0] for m in makers]
    out = []
    for k in range(n):
        q = rng.choices(makers, weights)[0][1]()
        out.append(Rule(f"r{k}", parse(q, aliases), query=q))
    return Watchlist("bench", entities=tuple(ents), rules=tuple(out))


def run(n_rules: int, docs: list[MatchInput], vocab: list[str]) -> tuple[float, float, int]:
    rng = random.Random(n_rules)
    m = Matcher([rules(rng, vocab, n_rules)])
    hits = 0
    t0 = time.perf_counter()
    for d in docs:
        hits += len(m.match(d).hits)
    dt = time.perf_counter() - t0
    return len(docs) / dt, m.stats_candidates / len(docs), hits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--stories", type=int, default=10_000)
    ap.add_argument("--rules", default="100,1000,10000")
    args = ap.parse_args()
    rng = random.Random(42)
    vocab = vocabulary(rng)
    docs = stories(rng, vocab, args.stories)
    avg = sum(len(d.text) for d in docs) / len(docs)
    print(f"{len(vocab)} words of vocabulary, {len(docs)} stories of {avg:.0f} chars avg")
    print(f"{'rules':>7} {'stories/s':>10} {'candidates/story':>17} {'hits/story':>11}")
    for n in (int(x) for x in args.rules.split(",")):
        rate, cands, hits = run(n, docs, vocab)
        print(f"{n:>7} {rate:>10,.0f} {cands:>17.1f} {hits / len(docs):>11.2f}")


if __name__ == "__main__":
    main()
