"""Matcher throughput: 10,000 ~3 KB stories against 100 / 1,000 / 10,000 rules, one core.

    .venv/bin/python benchmarks/bench_match.py [--mode realistic|harsh|both]
                                               [--stories N] [--rules 100,1000,10000]
                                               [--repeat N]

Two synthetic workloads (both deterministic, seeded):

``realistic`` (default) -- shaped like news against real watchlists:

* Vocabulary: 50,000 words -- the words of seeds/*.txt ranked by their frequency there
  (the head: "the", "to", "and", ...), then synthetic words.
* Background text: word rank r drawn with probability ~ 1/(r + 2.7) (Zipf-Mandelbrot,
  exponent 1), 480 tokens a story, so a word of rank r occurs in roughly 40/r of the
  stories once r is past the first few hundred.
* Topics: 500 topics of 30 words each, drawn log-uniformly from ranks 2,000..50,000
  (topic keywords and names; a third are capitalised like names), weighted 1/(i+1)
  inside the topic.  Each story is about one main topic (6% of its tokens come from it)
  and one side topic (2%); its 10-word title takes 3 words from the main topic.
* Surface noise as in real copy: capitalised sentence starts, punctuation, hyphenated
  compounds (~1 in 60 tokens), curly possessives (Name’s), em dashes.
* Rules: each rule is about one topic; its terms are drawn from that topic's words (so,
  like real watch terms, mid/low-frequency words and names), NOT terms from another
  topic; same mix of query shapes as ``harsh`` (OR groups, phrases, NEAR, @entities,
  NOT, prefixes, hyphenated words).  Entities: names from the topics, with one- and
  two-word aliases.  A rule mostly hits stories about its topic, giving ~1-3 hits per
  story at 1,000 rules.

``harsh`` -- the original stress generator: 8,000 words (seed words in order of first
appearance, then synthetic), story words ~ 1/(rank + 10)^1.1, rule terms drawn
uniformly from ranks 1,000..8,000 with no topic structure.  With such a small vocabulary
every rule term is fairly common, so about half the candidate rules hit (~19 hits per
story at 1,000 rules, ~190 at 10,000) -- far more than real watchlists see; it measures
the worst case where nearly every candidate rule must be fully evaluated with spans.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newswatch.watch import Entity, Matcher, MatchInput, Rule, Watchlist, parse  # noqa: E402
from newswatch.watch.text import stem  # noqa: E402

_VOWELS, _CONSONANTS = "aeiou", "bcdfghjklmnprstvwz"


def _synthetic(rng: random.Random) -> str:
    n = rng.randint(2, 5)
    w = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(n))
    return w + rng.choice(["", "s", "ed", "ing", "er"])


def _seed_words() -> list[str]:
    return [w.lower() for p in sorted((ROOT / "seeds").glob("*.txt"))
            for w in re.findall(r"[A-Za-z]+", p.read_text(encoding="utf-8"))]


def _makers(rng: random.Random, w: Callable[[], str], neg: Callable[[], str],
            ent: Callable[[], str]) -> tuple[list[Callable[[], str]], list[int]]:
    """The mix of query shapes (weights in %), shared by both workloads."""
    makers = [
        (30, lambda: f"{w()} OR {w()} OR {w()}"),
        (15, lambda: f'"{w()} {w()}" OR {w()}'),
        (15, lambda: f"({w()} OR {w()}) NEAR/{rng.randint(3, 10)} ({w()} OR {w()})"),
        (10, lambda: f"@{ent()} AND ({w()} OR {w()})"),
        (10, lambda: f"{w()} {w()} NOT {neg()}"),
        (10, lambda: f"{w()[:5]}* AND {w()}"),
        (10, lambda: f"{w()}-{w()} OR ({w()} AND NOT ({neg()} OR {neg()}))"),
    ]
    return [m[1] for m in makers], [m[0] for m in makers]


# --- harsh: the original generator, unchanged -----------------------------------------

def harsh_vocabulary(rng: random.Random, size: int = 8000) -> list[str]:
    seen: dict[str, None] = dict.fromkeys(_seed_words())
    while len(seen) < size:
        seen.setdefault(_synthetic(rng), None)
    return list(seen)


def harsh_stories(rng: random.Random, vocab: list[str], n: int) -> list[MatchInput]:
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


def harsh_rules(rng: random.Random, vocab: list[str], n: int) -> Watchlist:
    watch = vocab[1000:]  # watch terms are not the most common words
    ents = [Entity(f"e{k}", f"Entity {k}", "person", (rng.choice(watch).title(),
                   f"{rng.choice(watch).title()} {rng.choice(watch).title()}"))
            for k in range(max(10, n // 20))]
    aliases = {e.id: list(e.aliases) for e in ents}

    def w() -> str:
        return rng.choice(watch)

    makers, weights = _makers(rng, w, w, lambda: rng.choice(ents).id)
    out = []
    for k in range(n):
        q = rng.choices(makers, weights)[0]()
        out.append(Rule(f"r{k}", parse(q, aliases), query=q))
    return Watchlist("bench", entities=tuple(ents), rules=tuple(out))


# --- realistic ------------------------------------------------------------------------

class World:
    """Vocabulary, background distribution and topics of the realistic workload."""

    N_WORDS, N_TOPICS, TOPIC_SIZE, TOPIC_MIN_RANK, N_COMPOUNDS = 50_000, 1000, 30, 8000, 5000

    def __init__(self, rng: random.Random) -> None:
        seen: dict[str, None] = {w: None for w, _ in Counter(_seed_words()).most_common()}
        stems = {stem(w) for w in seen}
        while len(seen) < self.N_WORDS:
            w = _synthetic(rng)
            if stem(w) not in stems:  # "haveed" would match every story with "have"
                stems.add(stem(w))
                seen[w] = None
        self.vocab = list(seen)
        # Two-regime Zipf (Ferrer i Cancho & Sole 2001): exponent 1 up to rank 5,000, 2 after.
        self.cum_bg = _cumulative(1.0 / (r + 2.7) if r <= 5000 else 5000 / (r + 2.7) ** 2
                                  for r in range(1, self.N_WORDS + 1))
        lo, hi = math.log(self.TOPIC_MIN_RANK), math.log(self.N_WORDS - 1)
        self.topics: list[list[str]] = []
        for _ in range(self.N_TOPICS):
            ranks: set[int] = set()
            while len(ranks) < self.TOPIC_SIZE:
                ranks.add(int(math.exp(rng.uniform(lo, hi))))
            words = [self.vocab[r] for r in sorted(ranks)]
            rng.shuffle(words)
            self.topics.append([w.capitalize() if rng.random() < 0.33 else w for w in words])
        self.cum_topic = _cumulative(1.0 / (i + 1) for i in range(self.TOPIC_SIZE))
        self.compounds = ["-".join(self.background(rng, 2)) for _ in range(self.N_COMPOUNDS)]
        self.cum_compounds = _cumulative(1.0 / (i + 1) for i in range(self.N_COMPOUNDS))

    def background(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.vocab, cum_weights=self.cum_bg, k=k)

    def compound(self, rng: random.Random) -> str:
        return rng.choices(self.compounds, cum_weights=self.cum_compounds)[0]

    def topical(self, rng: random.Random, topic: int, k: int) -> list[str]:
        return rng.choices(self.topics[topic], cum_weights=self.cum_topic, k=k)


def _cumulative(weights: object) -> list[float]:
    out, acc = [], 0.0
    for x in weights:  # type: ignore[attr-defined]
        acc += x
        out.append(acc)
    return out


def realistic_stories(rng: random.Random, world: World, n: int) -> list[MatchInput]:
    out = []
    for i in range(n):
        main, side = rng.randrange(world.N_TOPICS), rng.randrange(world.N_TOPICS)
        ws = world.background(rng, 480)
        for k in rng.sample(range(480), 29):
            ws[k] = world.topical(rng, main, 1)[0]
        for k in rng.sample(range(480), 10):
            ws[k] = world.topical(rng, side, 1)[0]
        k = 0
        while k < len(ws) - 1:  # sentences of 8..30 words, some punctuation and noise
            ws[k] = ws[k].capitalize()
            end = min(len(ws) - 1, k + rng.randint(8, 30))
            for j in range(k + 1, end):
                r = rng.random()
                if r < 0.05:
                    ws[j] += ","
                elif r < 0.067:
                    ws[j] = world.compound(rng)
                elif r < 0.075 and ws[j][:1].isupper():
                    ws[j] += "’s"
                elif r < 0.08:
                    ws[j] += " —"
            ws[end] += rng.choice([".", ".", ".", "?", ":"])
            k = end + 1
        title = world.topical(rng, main, 3) + world.background(rng, 7)
        rng.shuffle(title)
        out.append(MatchInput(f"source-{i % 50}", " ".join(title).capitalize(), " ".join(ws)))
    return out


def realistic_rules(rng: random.Random, world: World, n: int) -> Watchlist:
    ents: list[Entity] = []
    by_topic: dict[int, list[str]] = {}
    for k in range(max(10, n // 20)):
        t = rng.randrange(world.N_TOPICS)
        first, last = (w.title() for w in world.topical(rng, t, 2))
        ents.append(Entity(f"e{k}", f"{first} {last}", "person", (last, f"{first} {last}")))
        by_topic.setdefault(t, []).append(f"e{k}")
    aliases = {e.id: list(e.aliases) for e in ents}
    topic = 0

    def w() -> str:
        return world.topical(rng, topic, 1)[0].lower()

    def neg() -> str:
        return world.topical(rng, rng.randrange(world.N_TOPICS), 1)[0].lower()

    def ent() -> str:
        return rng.choice(by_topic.get(topic) or [e.id for e in ents])

    makers, weights = _makers(rng, w, neg, ent)
    out = []
    for k in range(n):
        topic = rng.randrange(world.N_TOPICS)
        q = rng.choices(makers, weights)[0]()
        out.append(Rule(f"r{k}", parse(q, aliases), query=q))
    return Watchlist("bench", entities=tuple(ents), rules=tuple(out))


# --- running --------------------------------------------------------------------------

def run(m: Matcher, docs: list[MatchInput], spans: bool = True) -> tuple[float, float, int]:
    """stories/s, candidates/story, hits: ``spans`` as an alert's reader matches (every
    occurrence, with character offsets), without as the ingest does (which rules hit)."""
    hits = 0
    t0 = time.perf_counter()
    for d in docs:
        hits += len(m.match(d, spans=spans).hits)
    dt = time.perf_counter() - t0
    return len(docs) / dt, m.stats_candidates / len(docs), hits


def table(name: str, docs: list[MatchInput], sizes: list[int],
          make: Callable[[random.Random, int], Watchlist], repeat: int = 1) -> None:
    avg = sum(len(d.text) for d in docs) / len(docs)
    print(f"{name}: {len(docs)} stories of {avg:.0f} chars avg")
    print(f"{'rules':>7} {'stories/s':>10} {'ingest/s':>10} {'candidates/story':>17} "
          f"{'hits/story':>11}")
    for n in sizes:
        wl = make(random.Random(n), n)
        # Best of ``repeat`` runs, each with a fresh matcher (its caches start empty).
        rate, cands, hits = max(run(Matcher([wl]), docs) for _ in range(repeat))
        ingest, _, same = max(run(Matcher([wl]), docs, spans=False) for _ in range(repeat))
        assert same == hits, "matching without spans found other rules"
        print(f"{n:>7} {rate:>10,.0f} {ingest:>10,.0f} {cands:>17.1f} "
              f"{hits / len(docs):>11.2f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("realistic", "harsh", "both"), default="realistic")
    ap.add_argument("--harsh", action="store_const", const="harsh", dest="mode",
                    help="same as --mode harsh (the original generator)")
    ap.add_argument("--stories", type=int, default=10_000)
    ap.add_argument("--rules", default="100,1000,10000")
    ap.add_argument("--repeat", type=int, default=1,
                    help="report the best of N runs, each with a fresh matcher (noisy hosts)")
    args = ap.parse_args()
    sizes = [int(x) for x in args.rules.split(",")]
    if args.mode in ("realistic", "both"):
        rng = random.Random(42)
        world = World(rng)
        docs = realistic_stories(rng, world, args.stories)
        table("realistic", docs, sizes, lambda r, n: realistic_rules(r, world, n), args.repeat)
    if args.mode in ("harsh", "both"):
        rng = random.Random(42)
        vocab = harsh_vocabulary(rng)
        docs = harsh_stories(rng, vocab, args.stories)
        print(f"{len(vocab)} words of vocabulary (harsh)")
        table("harsh", docs, sizes, lambda r, n: harsh_rules(r, vocab, n), args.repeat)


if __name__ == "__main__":
    main()
