"""Fact checking of free text against the knowledge graph (MKGSG's ontology validation, applied to outputs).

BalancedBio (Wu et al., arXiv 2508.04278) validates generated medical text against ontologies; the
procedure below is our own design. A passage is split into sentences; entities are linked in each
(:func:`balancedbio.knowledge.link.find_mentions`); every pair of a disease with a phenotype, gene or
ICD-10-CM code mentioned in the same sentence is read as a claim that they are related
(``has_phenotype`` / ``has_inheritance``, ``associated_with_gene``, ``has_icd10cm``) and checked with
:meth:`KnowledgeGraph.verify_ids` (HPO true-path rule on: a disease annotated with "Bronchiectasis"
supports "abnormality of the bronchi"). Likewise every pair of a drug with a gene in one sentence is read
as the claim that the drug ``targets`` the gene's product, judged only for drugs whose targets the graph
records (a graph built without a targets source cannot refute one, so it does not try). Claims under a negation cue ("no", "not", "without", "absent",
"rules out") are not judged. Sentences that state a relation (a cue such as "caused by", "presents with",
"gene") but link fewer than two entities are listed as ``unlinkable``; CURIEs, ICD codes and gene symbols
written in the text that the graph does not know are listed as ``hallucinated_entities``.

This is co-occurrence reading, not parsing: it rewards text whose stated disease-feature pairs are in the
graph and penalises pairs that are not, which is what a reward or a factuality metric needs; it cannot
tell "A causes B" from "A is unlike B".

Example::

    report = check_claims("Cystic fibrosis is caused by CFTR mutations and causes bronchiectasis.", kg)
    report.precision        # 1.0 (2 supported, 0 refuted)
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from balancedbio.knowledge.graph import KnowledgeGraph
from balancedbio.knowledge.link import CURIE_RE, Mention, find_mentions

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])|\n+")
_NEGATION_RE = re.compile(r"\b(no|not|without|absent|absence of|lacks?|rules? out|ruled out|unlikely|"
                          r"excluded?|never|neither|nor)\b", re.IGNORECASE)
_CUE_RE = re.compile(r"\b(caused by|causes?|due to|mutations? in|variants? in|gene|presents? with|presenting with|"
                     r"characteri[sz]ed by|associated with|manifests? (?:as|with)|features? of|ICD)\b",
                     re.IGNORECASE)
_GENE_CONTEXT_RE = re.compile(r"\b([A-Z][A-Z0-9]{1,9}(?:-[A-Z0-9]+)?)\s+(?:gene|mutations?|variants?)\b"
                              r"|\b(?:mutations?|variants?) in (?:the )?([A-Z][A-Z0-9]{1,9}(?:-[A-Z0-9]+)?)\b")
_DISEASE = ("disease",)
_FEATURE_TYPES = ("phenotype", "gene", "icd10cm")


@dataclass(frozen=True)
class Claim:
    """One claim read from the text: ``subject -relation-> object`` with the text that stated it."""

    subject: str
    relation: str
    object: str
    subject_text: str
    object_text: str
    sentence: str
    supported: bool
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FactReport:
    """The claims in a passage, sorted into supported / refuted, plus what could not be linked."""

    supported: list[Claim] = field(default_factory=list)
    refuted: list[Claim] = field(default_factory=list)
    unlinkable: list[str] = field(default_factory=list)          # sentences stating a relation, < 2 entities
    hallucinated_entities: list[str] = field(default_factory=list)  # ids/symbols the graph does not know
    claims: list[Claim] = field(default_factory=list)            # supported + refuted, in text order

    @property
    def precision(self) -> float | None:
        """supported / (supported + refuted); ``None`` when the text makes no checkable claim."""
        n = len(self.supported) + len(self.refuted)
        return len(self.supported) / n if n else None

    def to_dict(self) -> dict[str, Any]:
        return {"supported": [asdict(c) for c in self.supported], "refuted": [asdict(c) for c in self.refuted],
                "unlinkable": list(self.unlinkable), "hallucinated_entities": list(self.hallucinated_entities),
                "precision": self.precision}


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.split(text) if s and s.strip()]


def _relation_for(graph: KnowledgeGraph, feature: Mention) -> tuple[str, list[str]] | None:
    """The relation a disease would have to this mention, and the mention's candidate ids for it."""
    genes = feature.of_type("gene")
    if genes:
        return "associated_with_gene", genes
    codes = feature.of_type("icd10cm")
    if codes and feature.explicit:
        return "has_icd10cm", codes
    phenos = feature.of_type("phenotype")
    if phenos:
        kinds = {graph.entity(p).extra.get("kind") for p in phenos[:1] if graph.entity(p)}
        return ("has_inheritance" if "inheritance" in kinds else "has_phenotype"), phenos
    if codes:
        return "has_icd10cm", codes
    return None


def _mask(sentence: str, mentions: list[Mention]) -> str:
    """The sentence with entity names blanked, so "Absent eyelashes" is not read as a negation."""
    chars = list(sentence)
    for m in mentions:
        chars[m.start:m.end] = "_" * (m.end - m.start)
    return "".join(chars)


def _negated(masked: str, a: Mention, b: Mention) -> bool:
    lo, hi = min(a.start, b.start), max(a.end, b.end)
    return bool(_NEGATION_RE.search(masked[max(0, lo - 40):hi]))


def _drug_target_claims(sentence: str, known: list[Mention], masked: str, graph: KnowledgeGraph,
                        seen: set[tuple[str, str, str]], report: FactReport) -> int:
    """Drug-gene pairs of one sentence read as ``targets`` claims (drugs with recorded targets only)."""
    genes = [m for m in known if m.has_type("gene") and not m.has_type("drug")]
    made = 0
    for d in (m for m in known if m.has_type("drug")) if genes else ():
        drugs = [x for x in d.of_type("drug") if graph.neighbors(x, "targets")]
        for g in genes:
            if not drugs or _negated(masked, d, g):
                continue
            objs = g.of_type("gene")
            key = (drugs[0], "targets", objs[0])
            if key in seen:
                continue
            seen.add(key)
            made += 1
            verdict = graph.verify_ids(drugs, "targets", objs)
            claim = Claim(drugs[0], "targets", verdict.evidence[0]["object"] if verdict.supported else objs[0],
                          d.text, g.text, sentence, verdict.supported, verdict.evidence[:3])
            report.claims.append(claim)
            (report.supported if verdict.supported else report.refuted).append(claim)
    return made


def check_claims(text: str, graph: KnowledgeGraph, *, max_claims: int = 200) -> FactReport:
    """Read disease-feature claims from ``text`` and check each against ``graph``."""
    report = FactReport()
    hallucinated: dict[str, None] = {}
    seen: set[tuple[str, str, str]] = set()
    pos = 0
    for sentence in split_sentences(text):
        offset = text.find(sentence, pos)
        pos = offset + len(sentence) if offset >= 0 else pos
        offset = max(offset, 0)
        mentions = find_mentions(sentence, graph)
        for m in mentions:
            if m.explicit and m.types == ("unknown",):
                hallucinated[m.text] = None
        for g in _GENE_CONTEXT_RE.finditer(sentence):
            sym = g.group(1) or g.group(2)
            if CURIE_RE.match(sym):
                continue
            if not [e for e in graph.link(sym, types=("gene",)) if sym == e.name or sym in e.synonyms]:
                hallucinated[sym] = None
        known = [m for m in mentions if m.types != ("unknown",)]
        masked = _mask(sentence, mentions)
        # a name that is both a disease and a phenotype ("Ectopia lentis") is a feature when the sentence
        # also names a disease that is not a phenotype
        diseases = [m for m in known if m.has_type(*_DISEASE) and not m.has_type("phenotype")] or \
            [m for m in known if m.has_type(*_DISEASE)]
        made = _drug_target_claims(sentence, known, masked, graph, seen, report)
        for d in diseases:
            for f in known:
                if f is d or not f.has_type(*_FEATURE_TYPES):
                    continue
                if f.has_type("disease") and not f.has_type("phenotype", "gene") and not f.explicit:
                    continue                     # two disease names: not a disease-feature claim
                rel = _relation_for(graph, f)
                if rel is None or _negated(masked, d, f):
                    continue
                relation, objs = rel
                subs = d.of_type("disease")
                key = (subs[0], relation, objs[0])
                if key in seen:
                    continue
                seen.add(key)
                made += 1
                verdict = graph.verify_ids(subs, relation, objs, true_path=True)
                claim = Claim(subs[0], relation, (verdict.evidence[0]["object"] if verdict.supported else objs[0]),
                              d.text, f.text, sentence, verdict.supported, verdict.evidence[:3])
                report.claims.append(claim)
                (report.supported if verdict.supported else report.refuted).append(claim)
                if len(report.claims) >= max_claims:
                    report.hallucinated_entities = list(hallucinated)
                    return report
        if len(report.claims) >= max_claims:
            break
        if not made and len(known) < 2 and _CUE_RE.search(sentence):
            report.unlinkable.append(sentence)
    report.hallucinated_entities = list(hallucinated)
    return report
