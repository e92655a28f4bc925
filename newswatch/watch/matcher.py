"""Match documents against compiled watchlists; spans point into the original text.

How a document is matched, cheapest step first:

1. Each field is split into byte chunks (``text.split_chunks``, a few C calls).  Every
   distinct chunk is analysed once per matcher and cached (``presearch.ChunkIndex``):
   which *term keys* its tokens and hyphen compounds provide (stems, norms and prefixes
   that some rule term uses, each interned to a small int) and which rules/entities
   those keys trigger (presearch).
2. The union of the keys of a field's chunks is the field's *presence set*.  Every
   candidate rule is first evaluated over presence alone (``compiler``): single-token
   terms are decided exactly; phrases, hyphenated words and NEAR are only "maybe".  A
   rule that is false here costs nothing more.
3. Only for rules that are true or maybe, token positions are computed -- in one pass
   for the chunks that carry keys, not for every token -- and the rule is evaluated
   exactly (``evaluate``).
4. Character offsets are computed only for the spans of rules that hit.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain

from newswatch.models import EntityMention
from newswatch.watch.compiler import BOTH, NONE, Compiled, Compiler, Range
from newswatch.watch.evaluate import Doc
from newswatch.watch.model import FIELDS, MatchInput, MatchResult, RuleHit, Span, Watchlist
from newswatch.watch.presearch import ChunkIndex, PresearchIndex, required_keys
from newswatch.watch.query import EntityRef
from newswatch.watch.text import words

_CHUNK_CACHE_MAX = 200_000


class Matcher:
    """All rules of some watchlists, compiled once; ``match`` is cheap per document."""

    def __init__(self, watchlists: list[Watchlist], *, group_terms: bool = True) -> None:
        self.watchlists = list(watchlists)
        comp = Compiler(group_terms)
        index = PresearchIndex()
        self._rules: list[Compiled] = []
        for wl in self.watchlists:
            for rule in wl.rules:
                cr = comp.rule(wl.name, rule)
                index.add(len(self._rules), required_keys(cr.node))
                self._rules.append(cr)
        self._entities: list[tuple[str, str, EntityRef]] = []
        merged: dict[str, tuple[str, list[str]]] = {}
        for wl in self.watchlists:
            for ent in wl.entities:
                name, aliases = merged.setdefault(ent.id, (ent.name, []))
                aliases.extend(a for a in ent.aliases if a not in aliases)
        for eid, (name, aliases) in merged.items():
            ref = EntityRef(0, eid, tuple(a for a in (tuple(words(s)) for s in aliases) if a))
            if ref.aliases:
                comp.leaf(ref)
                index.add(len(self._rules) + len(self._entities), required_keys(ref))
                self._entities.append((eid, name, ref))
        self._by_rule = {(cr.watchlist, cr.rule.id): cr for cr in self._rules}
        self._compiler = comp  # keeps the term nodes behind ``_leaves`` alive
        self._leaves = comp.leaves
        self._always = tuple(index.always)
        by_key = {comp.key(k): tuple(v) for k, v in index.by_key.items()}
        self._chunks = ChunkIndex(comp.keys, by_key, _CHUNK_CACHE_MAX)
        self.stats_candidates = 0  # total candidate targets evaluated (for benchmarks)

    def match(self, doc: MatchInput, entity_spans: bool = True, spans: bool = True
              ) -> MatchResult:
        """Rule hits with their spans, and the entities named with their counts, and
        their spans unless ``entity_spans`` is False. With ``spans`` False, only which
        rules hit and the entity counts: the ingest stores no more (where a rule matched
        is found again when its alert is read, see ``newswatch.highlight``), and finding
        every occurrence and its character offsets is most of the cost of a dense story."""
        self._chunks.trim()
        d = Doc(doc.title, doc.text, self._chunks, self._leaves)
        result = MatchResult()
        targets = d.targets
        if self._always:
            targets.update(self._always)
        if not targets:
            return result
        nrules = len(self._rules)
        cands = sorted(targets)
        self.stats_candidates += len(cands)
        rules, entities = self._rules, self._entities
        ents: list[list[Range]] = []  # the kept token ranges of each entity
        hit_rules: list[Compiled] = []
        for t in cands:
            if t >= nrules:
                eid, name, ref = entities[t - nrules]
                found = d.ranges(ref, BOTH)
                if found:  # ``spans`` drops "Putin" inside "Vladimir Putin"
                    result.entities.append(EntityMention(eid, name, 0, []))
                    ents.append(d.spans(found))
                continue
            cr = rules[t]
            if cr.source_re is not None and not cr.source_re.match(doc.source):
                continue
            if cr.scope == NONE or not (check := cr.check(d.presence(cr.scope))):
                continue
            # True or 2: presence alone decides it (see compiler). Rules are decided
            # the same way with and without spans, before any span is looked for (each
            # NEAR's bounds are its own, see evaluate: nothing depends on the order).
            if check is True or check == 2 or d.holds(cr.node, cr.scope):
                result.hits.append(RuleHit(cr.watchlist, cr.rule.id, cr.rule.severity, []))
                hit_rules.append(cr)
        # the kept token ranges of each hit (none where a NEAR over a text too dense in
        # its terms kept no occurrence within its bound)
        hits = [d.spans(d.eval(cr.node, cr.scope) or []) for cr in hit_rules] if spans else []
        for ent, kept in zip(result.entities, ents, strict=True):
            ent.count = len(kept)
        if not entity_spans or not spans:
            ents = []
        if hits or ents:  # character offsets of all of them in one go
            offs = d.char_spans({r for kept in chain(hits, ents) for r in kept})
            for hit, made in zip(result.hits, d.make_spans(hits, offs), strict=True):
                hit.matches.extend(made)
            if ents:
                for ent, kept in zip(result.entities, ents, strict=True):
                    ent.spans = [(FIELDS[fi], s, e) for fi, s, e in (offs[r] for r in kept)]
        return result

    def spans(self, doc: MatchInput, rules: Iterable[tuple[str, str]]
              ) -> dict[tuple[str, str], list[Span]]:
        """Where each of ``rules`` ((watchlist, rule id) pairs, e.g. those a story's
        alerts name) matches the document: an alert's highlights. Only those rules are
        evaluated, and no entity; a rule that does not match (any more) gets no spans."""
        wanted = [cr for key in dict.fromkeys(rules) if (cr := self._by_rule.get(key))
                  and cr.scope != NONE
                  and (cr.source_re is None or cr.source_re.match(doc.source))]
        out: dict[tuple[str, str], list[Span]] = {}
        if not wanted:
            return out
        self._chunks.trim()
        d = Doc(doc.title, doc.text, self._chunks, self._leaves)
        kept = [d.spans(d.eval(cr.node, cr.scope) or []) for cr in wanted]
        offs = d.char_spans({r for ranges in kept for r in ranges})
        for cr, made in zip(wanted, d.make_spans(kept, offs), strict=True):
            out[(cr.watchlist, cr.rule.id)] = made
        return out


__all__ = ["Matcher"]
