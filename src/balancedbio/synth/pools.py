"""Seed pools: the parts of the knowledge graph the generators sample from, indexed once in memory.

Loaded with a handful of SQL queries (a few seconds on the full graph, milliseconds on the toy graph);
their size depends on the graph, never on the number of examples generated. Diseases and genes are
assigned to the train or test side here (hash of seed + disease cluster / gene), so that every example
drawn from one side mentions only that side's diseases and genes: the entity-disjoint split.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from balancedbio.knowledge.graph import KnowledgeGraph
from balancedbio.synth.pools_therapy import TherapyPools

PHENOTYPIC_ABNORMALITY = "HP:0000118"
SIDES = ("train", "test")
# synonyms that name a related but different condition must not count as the same answer
_BAD_ALIAS = ("modifier", "susceptibility", "resistance to", "protection against", "included", "obsolete")


def side_of(key: str, seed: int, test_fraction: float) -> str:
    """Deterministic train/test assignment of an entity cluster."""
    h = int.from_bytes(hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest(), "big")
    return "test" if h / 2**64 < test_fraction else "train"


@dataclass
class Pools:
    """Everything the templates sample, per side; lists are sorted so sampling is reproducible."""

    graph: KnowledgeGraph
    disease_name: dict[str, str] = field(default_factory=dict)
    phenotypes: dict[str, list[str]] = field(default_factory=dict)       # disease -> HP (phenotypic)
    inheritance: dict[str, list[str]] = field(default_factory=dict)      # disease -> HP (mode)
    genes: dict[str, list[str]] = field(default_factory=dict)            # disease -> HGNC
    gene_diseases: dict[str, list[str]] = field(default_factory=dict)    # HGNC -> diseases
    icd: dict[str, list[str]] = field(default_factory=dict)              # disease -> ICD10CM
    cluster: dict[str, str] = field(default_factory=dict)                # disease -> MONDO (or itself)
    pheno_name: dict[str, str] = field(default_factory=dict)
    gene_symbol: dict[str, str] = field(default_factory=dict)
    code_name: dict[str, str] = field(default_factory=dict)
    go_parent: list[tuple[str, str]] = field(default_factory=list)       # (GO term, is_a parent)
    go_name: dict[str, str] = field(default_factory=dict)
    side: dict[str, str] = field(default_factory=dict)                   # disease/gene -> train|test
    by_side: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    pheno_pool: list[str] = field(default_factory=list)                 # phenotypes of seed diseases
    pheno_diseases: dict[str, list[str]] = field(default_factory=dict)   # HP -> seed diseases with it
    icd_blocks: dict[str, str] = field(default_factory=dict)             # ICD-10-CM block -> title
    therapy: TherapyPools = field(default_factory=TherapyPools)          # drugs, targets, pathways, anatomy
    seed: int = 0
    test_fraction: float = 0.0

    # ---------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, graph: KnowledgeGraph, *, seed: int, test_fraction: float, min_phenotypes: int = 3) -> Pools:
        p = cls(graph, seed=seed, test_fraction=test_fraction)
        c = graph._conn()
        phenotypic = {r[0] for r in c.execute(
            "WITH RECURSIVE down(c) AS (SELECT ? UNION SELECT e.subject FROM edges e JOIN down "
            "ON e.object = down.c WHERE e.relation = 'is_a') SELECT c FROM down", (PHENOTYPIC_ABNORMALITY,))}
        phenotypic.discard(PHENOTYPIC_ABNORMALITY)
        for curie, name in c.execute("SELECT curie, name FROM entities WHERE type = 'phenotype'"):
            p.pheno_name[curie] = name
        for s, o in c.execute("SELECT subject, object FROM edges WHERE relation = 'has_phenotype' AND "
                              "source = 'hpo' ORDER BY subject, object"):
            if o in phenotypic:
                p.phenotypes.setdefault(s, []).append(o)
        for s, o in c.execute("SELECT subject, object FROM edges WHERE relation = 'has_inheritance' "
                              "ORDER BY subject, object"):
            p.inheritance.setdefault(s, []).append(o)
        names = dict(c.execute("SELECT curie, name FROM entities WHERE type = 'disease' AND source = 'hpo'"))
        for d, ph in p.phenotypes.items():
            name = names.get(d, "")
            if len(ph) >= min_phenotypes and name and len(name) <= 80 and ";" not in name \
                    and d.split(":")[0] in ("OMIM", "ORPHA"):
                p.disease_name[d] = name
        for s, o in c.execute("SELECT subject, object FROM edges WHERE relation = 'associated_with_gene' "
                              "ORDER BY subject, object"):
            if s in p.disease_name:
                p.genes.setdefault(s, []).append(o)
                p.gene_diseases.setdefault(o, []).append(s)
        p.gene_symbol = dict(c.execute("SELECT curie, name FROM entities WHERE type = 'gene'"))
        for g in [g for g in p.gene_diseases if g not in p.gene_symbol]:
            del p.gene_diseases[g]
        for d in list(p.genes):
            p.genes[d] = [g for g in p.genes[d] if g in p.gene_symbol]
        for mondo, d in c.execute("SELECT subject, object FROM edges WHERE relation = 'xref' AND "
                                  "subject LIKE 'MONDO:%' ORDER BY subject DESC"):
            if d in p.disease_name:
                p.cluster[d] = mondo
        codes = dict(c.execute("SELECT curie, name FROM entities WHERE type = 'icd10cm'"))
        for d, code in c.execute(
                "SELECT x.object, i.object FROM edges x JOIN edges i ON i.subject = x.subject "
                "WHERE x.relation = 'xref' AND i.relation = 'has_icd10cm' ORDER BY x.object, i.object"):
            if d in p.disease_name and code in codes and code not in p.icd.get(d, []):
                p.icd.setdefault(d, []).append(code)
                p.code_name[code] = codes[code]
        p.icd_blocks = dict(c.execute(
            "SELECT curie, name FROM entities WHERE type = 'icd10cm' AND extra LIKE '%\"block\"%'"))
        go_names = dict(c.execute("SELECT curie, name FROM entities WHERE type = 'go'"))
        for s, o in c.execute("SELECT subject, object FROM edges WHERE relation = 'is_a' AND source = 'go' "
                              "ORDER BY subject, object"):
            if s in go_names and o in go_names:
                p.go_parent.append((s, o))
        p.go_name = go_names
        for d in sorted(p.disease_name):
            for h in p.phenotypes[d]:
                p.pheno_diseases.setdefault(h, []).append(d)
        p.pheno_pool = sorted(p.pheno_diseases)
        # entity-disjoint sides
        for d in p.disease_name:
            p.side[d] = side_of(p.cluster.get(d, d), seed, test_fraction)
        for g, ds in p.gene_diseases.items():
            # a gene goes with its first disease, so most gene questions keep a same-side disease
            p.side[g] = p.side[min(ds)]
        for s in SIDES:
            ds = sorted(d for d in p.disease_name if p.side[d] == s)
            gs = sorted(g for g in p.gene_diseases if p.side[g] == s)
            p.by_side[s] = {
                "disease": ds,
                "disease_gene": [d for d in ds if any(p.side[g] == s for g in p.genes.get(d, []))],
                "disease_icd": [d for d in ds if p.icd.get(d)],
                "disease_inh": [d for d in ds if len(p.inheritance.get(d, [])) == 1],
                "gene": gs,
            }
        p.therapy = th = TherapyPools.load(graph, gene_symbol=p.gene_symbol, clusters=p.cluster,
                                           diseases=set(p.disease_name))
        # therapy seeds per side: genes keep their disease's side, drugs and anatomy terms their own hash
        for s in SIDES:
            def on(xs, s=s):
                return [x for x in sorted(xs) if p.entity_side(x) == s]

            p.by_side[s].update({
                "target_gene": on(th.targeted_by), "pathway_gene": on(th.pathways),
                "target_pathway_gene": on(set(th.targeted_by) & set(th.pathways)),
                "role_drug": on(th.roles), "atc_drug": on(th.classes), "interacting_drug": on(th.interactions),
                "part_anatomy": on(th.wholes),
            })
        return p

    # ---------------------------------------------------------------------------------------------
    def entity_side(self, curie: str) -> str:
        """The split side of a disease or gene (genes: that of their first disease); any other entity (a gene
        known only as a drug target, a drug, an anatomy term) by the hash of its own CURIE."""
        got = self.side.get(curie)
        return got if got is not None else side_of(curie, self.seed, self.test_fraction)

    def genes_on_side(self, disease: str, side: str) -> list[str]:
        return [g for g in self.genes.get(disease, []) if self.side.get(g) == side]

    def pick(self, rng: random.Random, side: str, kind: str) -> str | None:
        pool = self.by_side[side][kind]
        return pool[rng.randrange(len(pool))] if pool else None

    def aliases(self, disease: str) -> list[str]:
        """Other names of a disease: its synonyms and those of its MONDO cluster."""
        return _aliases(self.graph, disease, self.cluster.get(disease))


def _aliases(graph: KnowledgeGraph, disease: str, cluster: str | None) -> list[str]:
    ents = graph.entities([x for x in (disease, cluster) if x])
    out: list[str] = []
    for e in ents.values():
        for n in (e.name, *e.synonyms):
            low = n.lower()
            if any(w in low for w in _BAD_ALIAS):
                continue
            if n not in out and len(n) <= 80 and (len(n) >= 3 or n.isupper()):
                out.append(n)
    return out


def anatomy_ancestors(graph: KnowledgeGraph, curies: list[str]) -> set[str]:
    """The ``part_of`` / ``is_a`` ancestors of ``curies`` taken together (UBERON mixes the two), without them."""
    out: set[str] = set()
    frontier = set(curies)
    while frontier:
        nxt = graph.ancestors_of_many(sorted(frontier), "part_of") | graph.ancestors_of_many(sorted(frontier), "is_a")
        frontier = nxt - out
        out |= nxt
    return out - set(curies)


class Closures:
    """Cached is_a closures used to keep distractors clearly false (bounded by the graph's size)."""

    def __init__(self, pools: Pools):
        self.pools = pools
        self._down: dict[str, frozenset[str]] = {}
        self._up: dict[str, frozenset[str]] = {}

    def annotated_closure(self, disease: str) -> frozenset[str]:
        """The disease's phenotypes plus all their ancestors (the true-path rule)."""
        got = self._down.get(disease)
        if got is None:
            ann = self.pools.phenotypes.get(disease, []) + self.pools.inheritance.get(disease, [])
            got = frozenset(ann) | frozenset(self.pools.graph.ancestors_of_many(ann))
            self._down[disease] = got
        return got

    def anatomy_up(self, curie: str) -> frozenset[str]:
        """Everything ``curie`` is (transitively) part of or a kind of, mixing ``part_of`` and ``is_a``."""
        key = "anatomy:" + curie
        got = self._up.get(key)
        if got is None:
            got = frozenset(anatomy_ancestors(self.pools.graph, [curie]))
            self._up[key] = got
        return got

    def up(self, curie: str) -> frozenset[str]:
        got = self._up.get(curie)
        if got is None:
            got = frozenset(self.pools.graph.ancestors(curie))
            self._up[curie] = got
        return got

    def phenotype_unrelated(self, diseases: list[str], phenotype: str) -> bool:
        """True when ``phenotype`` is neither annotated to, an ancestor of, nor a subtype of an annotation."""
        for d in diseases:
            closure = self.annotated_closure(d)
            if phenotype in closure:
                return False
            if self.up(phenotype) & set(self.pools.phenotypes.get(d, [])):
                return False
        return True

    def distinct_phenotypes(self, rng: random.Random, disease: str, k: int) -> list[str]:
        """Up to ``k`` of the disease's phenotypes, none an ancestor or subtype of another (no
        "hypotonia and generalized hypotonia")."""
        order = list(self.pools.phenotypes[disease])
        rng.shuffle(order)
        out: list[str] = []
        for h in order:
            up = self.up(h)
            if all(h not in self.up(x) and x not in up for x in out):
                out.append(h)
                if len(out) == k:
                    break
        return out
