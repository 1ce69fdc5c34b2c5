"""Validation of generated examples against the knowledge graph (MKGSG's ontology validation).

Every example, whatever wrote it, passes these checks or is dropped with the first failing reason:

``schema``             the row has the contract's fields and types
``answer_mismatch``    the gold answer is not the answer the seed fact implies (MCQ: the gold letter's
                       option text; short: the text itself)
``entity_unlinked``    a name written into the text does not link back to its CURIE in the graph
``entity_missing``     a seed entity's name no longer appears in the prompt or response (LLM rewrites)
``fact_unsupported``   a stated fact (or a stated edge attribute, e.g. a severity) is not supported by the graph
``distractor_true``    a fact the example implies to be false (a distractor, an excluded differential, a drug
                       the Management section counts as wrong) is supported by the graph, directly, by the HPO
                       true-path rule, through a ChEBI role's / ATC class's ``is_a`` ancestors, an indication
                       for an ``is_a`` ancestor of the disease, or (anatomy)
                       through the ``part_of`` / ``is_a`` ancestors of the stated structure; or an edge
                       attribute the example denies (an interaction's severity) is the recorded one
``reference_fails``    the reference answer does not get full marks from the shared scorer
                       (:func:`balancedbio.scoring.score`): wrong letter, missing ``Answer:`` line,
                       a constraint the response breaks, a section missing
``refuted_claim`` / ``hallucinated_entity``   (LLM text only) :func:`~balancedbio.scoring.facts.check_claims`
                       finds a claim the graph refutes or an identifier it does not know
"""

from __future__ import annotations

from typing import Any

from balancedbio.errors import DataError
from balancedbio.knowledge.graph import KnowledgeGraph, canonical_relation
from balancedbio.rows import ROW_KEYS, Row
from balancedbio.scoring import score
from balancedbio.scoring.facts import check_claims
from balancedbio.synth.item import Item
from balancedbio.synth.pools import anatomy_ancestors


class Validator:
    """Checks items against one graph; caches per-entity closures (bounded by the graph's size)."""

    def __init__(self, graph: KnowledgeGraph):
        self.graph = graph
        self._closure: dict[tuple[str, str], frozenset[str]] = {}
        self._links: dict[str, frozenset[str]] = {}
        self.checked_facts = 0
        self.checked_negatives = 0

    # ---------------------------------------------------------------------------------------------
    def supported(self, f: dict[str, str]) -> bool:
        rel, inverse = canonical_relation(f["relation"])
        s, o = (f["object"], f["subject"]) if inverse else (f["subject"], f["object"])
        return self.graph.has_edge(s, rel, o) or self.graph.verify_ids([s], rel, [o]).supported

    def refuted(self, f: dict[str, str]) -> bool:
        """True when the graph gives no support to ``f``, not even by the true-path rule."""
        if self.supported(f):
            return False
        rel, s, o = f["relation"], f["subject"], f["object"]
        if rel in ("part_of", "located_in"):
            # anatomy: a structure that contains a stated one (part_of / is_a, transitively) is no distractor
            key = (s, rel)
            closure = self._closure.get(key)
            if closure is None:
                direct = self.graph.neighbors(s, rel)
                closure = frozenset(direct) | frozenset(anatomy_ancestors(self.graph, direct))
                if rel == "part_of":
                    closure |= anatomy_ancestors(self.graph, [s])
                self._closure[key] = closure
            return o not in closure
        if rel in ("indicated_for", "off_label_for"):
            # a drug recorded for a broader disease (an is_a ancestor, e.g. a PrimeKG disease group) is not refuted
            ups = self.graph.ancestors(o)
            return not (set(self.graph.neighbors(s, rel)) & ups)
        if rel in ("has_phenotype", "has_inheritance", "has_role", "in_class"):
            key = (s, rel)
            closure = self._closure.get(key)
            if closure is None:
                ann = self.graph.neighbors(s, rel)
                closure = frozenset(ann) | frozenset(self.graph.ancestors_of_many(ann))
                self._closure[key] = closure
            return o not in closure
        return True

    def attribute(self, f: dict[str, str], key: str) -> set[str]:
        """The values of evidence attribute ``key`` on the stored edges of ``f`` (e.g. an interaction's severity)."""
        rel, inverse = canonical_relation(f["relation"])
        s, o = (f["object"], f["subject"]) if inverse else (f["subject"], f["object"])
        return {str(e["evidence"][key]) for e in self.graph.edges(s, rel, o) if key in e["evidence"]}

    def links(self, name: str, curie: str) -> bool:
        got = self._links.get(name)
        if got is None:
            got = self.graph.link_curies(name)
            if len(self._links) < 200_000:
                self._links[name] = got
        return curie in got

    # ---------------------------------------------------------------------------------------------
    def check(self, item: Item, row: dict[str, Any], *, llm_text: str | None = None,
              original: str | None = None) -> str | None:
        """The first failing reason, or ``None`` when the example is valid.

        ``llm_text``/``original``: an LLM's rewrite of a template text and the text it rewrote; every
        entity named in the original must still be named in the rewrite.
        """
        reason = check_schema(row)
        if reason:
            return reason
        if item.answer_type == "mcq":
            if (item.choices or {}).get(item.answer) != item.seed_answer:
                return "answer_mismatch"
        elif item.capability != "instruction" and item.answer != item.seed_answer:
            return "answer_mismatch"
        for surface, curie in item.mentions:
            if not self.links(surface, curie):
                return "entity_unlinked"
        if llm_text is not None:
            before, after = (original or "").lower(), llm_text.lower()
            for surface, _ in item.mentions:
                if surface.lower() in before and surface.lower() not in after:
                    return "entity_missing"
        for f in item.facts:
            self.checked_facts += 1
            if not self.supported(f):
                return "fact_unsupported"
        for f in item.negatives:
            self.checked_negatives += 1
            if not self.refuted(f):
                return "distractor_true"
        for f, key, value in item.evidence:
            self.checked_facts += 1
            if value not in self.attribute(f, key):
                return "fact_unsupported"
        for f, key, value in item.evidence_negatives:
            self.checked_negatives += 1
            if value in self.attribute(f, key):
                return "distractor_true"
        if score(row, row["messages"][1]["content"]).value < 1.0:
            return "reference_fails"
        if llm_text is not None:
            report = check_claims(llm_text, self.graph)
            if report.refuted:
                return "refuted_claim"
            if report.hallucinated_entities:
                return "hallucinated_entity"
        return None


def check_schema(row: dict[str, Any]) -> str | None:
    """``"schema"`` if ``row`` breaks the data contract (:meth:`balancedbio.rows.Row.parse`, plus what synth
    always writes: every key in order, one user and one assistant turn, four options A-D), else ``None``."""
    try:
        parsed = Row.parse(row, str(row.get("id", "row")))
    except DataError:
        return "schema"
    if tuple(row) != ROW_KEYS or parsed.to_dict() != row:
        return "schema"
    if [m["role"] for m in parsed.messages] != ["user", "assistant"] or not all(m["content"].strip()
                                                                             for m in parsed.messages):
        return "schema"
    if parsed.answer_type == "mcq" and sorted(parsed.choices or {}) != list("ABCD"):
        return "schema"
    if parsed.answer_type != "mcq" and parsed.choices is not None:
        return "schema"
    if parsed.capability == "integration" and not parsed.checks:
        return "schema"
    if parsed.capability == "instruction" and parsed.answer != "":
        return "schema"
    if parsed.split not in ("train", "test"):
        return "schema"
    return None
