"""Seeds for the teacher: a small subgraph per output slot, with the facts and the graph's answer.

A seed is what the teacher may use (``facts``, every one an edge of the graph) and what fixes the gold
answer (``relation`` + ``focus`` for an exam question, ``path`` for a chain). Kinds:

``disease``   (expertise) a disease with some of its phenotypes, genes, the drugs indicated for it and the
              anatomy of its organ systems; the question asks for one relation (phenotype, gene or drug)
``drug``      (expertise) a drug with its targets, the targets' pathways and its indications
``path``      (reasoning) a 2-3 hop path: phenotypes -> disease -> gene, or drug -> target -> disease
``constraints`` (instruction) a disease's facts plus 1-3 IFEval constraints (verifier ids and kwargs)
``vignette``  (integration) the clinical workflow of :mod:`balancedbio.synth.workflow`: presenting and
              history findings, differentials, genes, organ systems, inheritance, ICD-10-CM code

Drug seeds use the therapy layer's relations (``treated_by``, ``targets``, ``gene_in_pathway``,
``located_in``) through :meth:`KnowledgeGraph.neighbors`; a graph without drugs (the toy graph) simply
gives disease seeds. Every draw uses the slot's own RNG, so the same seed gives the same seeds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from balancedbio.knowledge.graph import KnowledgeGraph
from balancedbio.synth.item import Item, fact
from balancedbio.synth.pools import Closures, Pools
from balancedbio.synth.workflow import SECTIONS_CHECK, clinical_vignette, organ_systems

DRUG_PREFIXES = ("CHEBI:", "DRUGBANK:", "CHEMBL:")
RELATION_TEXT = {"has_phenotype": ("clinical feature", "is a clinical feature of"),
                 "associated_with_gene": ("gene", "is associated with"),
                 "treated_by": ("drug", "is indicated for"),
                 "targets": ("gene", "is a molecular target of"),
                 "indicated_for": ("disease", "is an indication of")}


@dataclass
class Seed:
    capability: str
    kind: str
    side: str
    focus: str                                        # the seed's central entity (CURIE)
    facts: list[dict[str, str]]                       # graph edges the teacher may use
    names: dict[str, str]                             # CURIE -> name for every entity in ``facts``
    relation: str = ""                                # expertise: focus -relation-> answer
    path: list[str] = field(default_factory=list)     # reasoning: the path's entities in order
    checks: list[dict[str, Any]] = field(default_factory=list)
    constraints: str = ""                             # instruction: the constraints as written to the user
    item: Item | None = None                          # integration: the workflow draft (facts, negatives)
    entities: list[str] = field(default_factory=list)

    @property
    def gold(self) -> str:
        """Reasoning: the path's last entity (the graph's answer)."""
        return self.path[-1] if self.path else ""


class SeedSampler:
    """Draws seeds per capability from the pools (and the graph's therapy layer when it has one)."""

    def __init__(self, pools: Pools, closures: Closures):
        self.p, self.cl, self.graph = pools, closures, pools.graph
        self.drugs = {s: self._drugs_on(s) for s in ("train", "test")}

    def _drugs_on(self, side: str) -> list[str]:
        out = []
        c = self.graph._conn()
        for (d,) in c.execute("SELECT curie FROM entities WHERE type = 'drug' ORDER BY curie"):
            targets = [g for g in self.graph.neighbors(d, "targets") if g in self.p.gene_symbol]
            if targets and all(self.p.side.get(g, side) == side for g in targets):
                out.append(d)
        return out

    def sample(self, capability: str, rng: random.Random, side: str) -> Seed | None:
        if capability == "expertise":
            if self.drugs[side] and rng.random() < 0.3:
                return self._drug(rng, side)
            return self._disease(rng, side)
        if capability == "reasoning":
            if self.drugs[side] and rng.random() < 0.3:
                return self._drug_path(rng, side)
            return self._phenotype_path(rng, side)
        if capability == "instruction":
            return self._constraints(rng, side)
        return self._vignette(rng, side)

    # ---------------------------------------------------------------------------------------- helpers
    def _name(self, curie: str) -> str:
        p = self.p
        for table in (p.disease_name, p.pheno_name, p.gene_symbol):
            if curie in table:
                return table[curie]
        e = self.graph.entity(curie)
        return e.name if e is not None else curie

    def _fact(self, s: str, rel: str, o: str) -> dict[str, str]:
        stored = self.graph.edges(s, rel, o)
        return fact(s, rel, o, stored[0]["source"] if stored else "hpo")

    def _disease_facts(self, rng: random.Random, d: str, side: str, n_phen: int) -> list[dict[str, str]]:
        p = self.p
        phs = self.cl.distinct_phenotypes(rng, d, n_phen)
        facts = [self._fact(d, "has_phenotype", h) for h in phs]
        genes = p.genes_on_side(d, side)
        if len(genes) == len(p.genes.get(d, [])):                  # never a gene of the other split
            facts += [self._fact(d, "associated_with_gene", g) for g in genes[:3]]
        for holder in dict.fromkeys([d, p.cluster.get(d, d)]):     # indications may hang on the MONDO id
            for drug in self.graph.neighbors(holder, "treated_by")[:3]:
                source = self.graph.edges(drug, "indicated_for", holder)[0]["source"]
                facts.append(fact(holder, "treated_by", drug, source))
        for h in phs[:2]:
            for system in organ_systems(self.cl, h)[:1]:
                facts.append(self._fact(h, "is_a", system))
                for site in self.graph.neighbors(system, "located_in")[:1]:
                    facts.append(self._fact(system, "located_in", site))
        return facts

    def _seed(self, capability: str, kind: str, side: str, focus: str, facts, **kw) -> Seed:
        ids = {focus} | {f["subject"] for f in facts} | {f["object"] for f in facts}
        return Seed(capability, kind, side, focus, facts, {c: self._name(c) for c in sorted(ids)}, **kw)

    # ---------------------------------------------------------------------------------------- kinds
    def _disease(self, rng: random.Random, side: str) -> Seed | None:
        d = self.p.pick(rng, side, "disease")
        if d is None:
            return None
        facts = self._disease_facts(rng, d, side, 3)
        holders = (d, self.p.cluster.get(d, d))
        asked = sorted({(f["relation"], f["subject"]) for f in facts
                        if f["subject"] in holders and f["relation"] in RELATION_TEXT})
        relation, focus = asked[rng.randrange(len(asked))]
        return self._seed("expertise", "disease", side, focus, facts, relation=relation,
                          entities=[d] + [f["object"] for f in facts if f["relation"] == "associated_with_gene"])

    def _drug(self, rng: random.Random, side: str) -> Seed | None:
        pool = self.drugs[side]
        drug = pool[rng.randrange(len(pool))]
        targets = [g for g in self.graph.neighbors(drug, "targets") if g in self.p.gene_symbol][:3]
        facts = [self._fact(drug, "targets", g) for g in targets]
        for g in targets[:2]:
            facts += [self._fact(g, "gene_in_pathway", w) for w in self.graph.neighbors(g, "gene_in_pathway")[:2]]
        indications = [x for x in self.graph.neighbors(drug, "indicated_for") if self.p.side.get(x, side) == side]
        facts += [self._fact(drug, "indicated_for", x) for x in indications[:2]]
        relation = "indicated_for" if indications and rng.random() < 0.5 else "targets"
        return self._seed("expertise", "drug", side, drug, facts, relation=relation, entities=targets)

    def _phenotype_path(self, rng: random.Random, side: str) -> Seed | None:
        d = self.p.pick(rng, side, "disease_gene")
        if d is None:
            return None
        phs = self.cl.distinct_phenotypes(rng, d, 2)
        genes = self.p.genes_on_side(d, side)
        if len(phs) < 2 or not genes:
            return None
        g = genes[rng.randrange(len(genes))]
        facts = [self._fact(d, "has_phenotype", h) for h in phs] + [self._fact(d, "associated_with_gene", g)]
        return self._seed("reasoning", "path", side, phs[0], facts, path=[phs[0], d, g], entities=[d, g])

    def _drug_path(self, rng: random.Random, side: str) -> Seed | None:
        pool = self.drugs[side]
        drug = pool[rng.randrange(len(pool))]
        for g in self.graph.neighbors(drug, "targets"):
            diseases = [x for x in self.p.gene_diseases.get(g, []) if self.p.side.get(x) == side]
            if len(diseases) == 1:                     # one disease: the chain has one answer
                facts = [self._fact(drug, "targets", g), self._fact(diseases[0], "associated_with_gene", g)]
                return self._seed("reasoning", "path", side, drug, facts, path=[drug, g, diseases[0]],
                                  entities=[g, diseases[0]])
        return None

    def _constraints(self, rng: random.Random, side: str) -> Seed | None:
        d = self.p.pick(rng, side, "disease")
        if d is None:
            return None
        facts = self._disease_facts(rng, d, side, 3)
        name = self.p.disease_name[d]
        menu = [("length_constraints:number_words", {"relation": "less than", "num_words": 60 + 20 * rng.randrange(3)},
                 "answer with less than {num_words} words"),
                ("punctuation:no_comma", {}, "do not use any commas"),
                ("change_case:english_lowercase", {}, "write the response in English, all lowercase"),
                ("detectable_format:number_bullet_lists", {"num_bullets": 3},
                 "answer as exactly 3 markdown bullet points, one per line starting with '- '"),
                ("keywords:existence", {"keywords": [name]}, "include the keyword {name}")]
        picks = sorted(rng.sample(range(len(menu)), 1 + rng.randrange(2)))
        checks, asks = [], []
        for i in picks:
            vid, kwargs, text = menu[i]
            if vid == "keywords:existence" and not name.replace(" ", "").replace("-", "").isalnum():
                continue                                # the verifier reads the keyword as a regex
            checks.append({"id": vid, "kwargs": kwargs})
            asks.append(text.format(name=name, **kwargs))
        if not checks:
            return None
        constraints = "; ".join(asks)
        return self._seed("instruction", "constraints", side, d, facts, checks=checks,
                          constraints=constraints[:1].upper() + constraints[1:] + ".", entities=[d])

    def _vignette(self, rng: random.Random, side: str) -> Seed | None:
        item = clinical_vignette(rng, self.p, self.cl, side)
        if item is None:
            return None
        d = item.entities[0]
        return self._seed("integration", "vignette", side, d, list(item.facts), checks=[SECTIONS_CHECK],
                          item=item, entities=list(item.entities))


def graph_has_drugs(graph: KnowledgeGraph) -> bool:
    return graph._conn().execute("SELECT 1 FROM entities WHERE type = 'drug' LIMIT 1").fetchone() is not None
