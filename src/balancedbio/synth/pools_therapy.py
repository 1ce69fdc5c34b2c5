"""Seed pools of the therapy layer: drugs, targets, roles, ATC classes, interactions, pathways, anatomy.

Indexed once from the graph (a handful of SQL queries, like :class:`~balancedbio.synth.pools.Pools`) with
the relation and entity names of docs/knowledge.md's therapy layer. A graph without that layer gives an
empty index (:attr:`TherapyPools.has_drugs` false, every dictionary empty) and every therapy template
then returns ``None``, so graphs without drugs keep working. Lists are sorted, so sampling is reproducible.

Disease-level edges (``indicated_for``, ``contraindicated_for``, ``off_label_for``) may name the seed
disease itself or its MONDO cluster (imported graphs such as PrimeKG key diseases by MONDO); they are
indexed per seed disease together with the CURIE the edge names, so the fact a template records is the
stored edge.

Only drugs with a plain name (:func:`plain_drug_name`: no IUPAC-style or code names) are seeds or
distractors, and only ChEBI roles under ``drug`` (pharmacological classes), ``inhibitor``, ``agonist`` or
``antagonist`` (:data:`MECHANISM_ROOTS`) are asked about, so questions read like pharmacology, not chemistry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from balancedbio.knowledge.graph import KnowledgeGraph

DRUG_LEVEL = ("indicated_for", "contraindicated_for", "off_label_for")
# ChEBI roles that say what a drug does or is used for (its pharmacological classes under 'drug', and
# inhibitors / agonists / antagonists); metabolite, contaminant and chemical roles are not asked about
MECHANISM_ROOTS = frozenset({"CHEBI:23888", "CHEBI:35222", "CHEBI:48705", "CHEBI:48706"})
_CHEMICAL_NAME = re.compile(r"[0-9()\[\],;]")


def plain_drug_name(name: str) -> bool:
    """A name a clinician would write (no IUPAC-style or code names such as 'AG-702', none in capitals only)."""
    return 3 <= len(name) <= 40 and not _CHEMICAL_NAME.search(name) and not name.isupper()


@dataclass
class TherapyPools:
    """The therapy layer as the templates sample it (see the module docstring)."""

    graph: KnowledgeGraph | None = None
    drug_name: dict[str, str] = field(default_factory=dict)
    targets: dict[str, list[str]] = field(default_factory=dict)           # drug -> genes (HGNC with a symbol)
    targeted_by: dict[str, list[str]] = field(default_factory=dict)       # gene -> drugs
    roles: dict[str, list[str]] = field(default_factory=dict)             # drug -> ChEBI roles (direct)
    role_name: dict[str, str] = field(default_factory=dict)
    classes: dict[str, list[str]] = field(default_factory=dict)           # drug -> ATC classes (direct)
    atc_name: dict[str, str] = field(default_factory=dict)
    interactions: dict[str, dict[str, str]] = field(default_factory=dict)  # drug -> {drug: severity}
    pathways: dict[str, list[str]] = field(default_factory=dict)          # gene -> pathways
    pathway_name: dict[str, str] = field(default_factory=dict)
    part_of: list[tuple[str, str]] = field(default_factory=list)          # (anatomy, anatomy it is part of)
    anatomy_name: dict[str, str] = field(default_factory=dict)
    located_in: dict[str, list[str]] = field(default_factory=dict)        # HPO organ-system class -> anatomy
    by_disease: dict[str, dict[str, list[tuple[str, str]]]] = field(default_factory=dict)
    #                       relation -> seed disease -> [(drug, the disease CURIE the edge names)]
    drug_pool: list[str] = field(default_factory=list)                    # drugs with a name, sorted
    target_drugs: list[str] = field(default_factory=list)                 # drugs with a target, sorted
    interacting_drugs: list[str] = field(default_factory=list)            # drugs with an interaction, sorted
    role_pool: list[str] = field(default_factory=list)                    # roles some drug has
    atc_pool: list[str] = field(default_factory=list)                     # ATC classes some drug is in
    pathway_pool: list[str] = field(default_factory=list)
    anatomy_pool: list[str] = field(default_factory=list)                 # structures something is part of
    wholes: dict[str, list[str]] = field(default_factory=dict)            # anatomy -> what it is part of
    severities: list[str] = field(default_factory=list)                   # interaction severities recorded

    has_indications: bool = False                                         # any indicated_for / off_label_for edge

    @property
    def has_drugs(self) -> bool:
        return bool(self.drug_pool)

    def source(self, s: str, relation: str, o: str) -> str:
        """The source that stated the edge (the fact's ``source``; the first when several did)."""
        edges = self.graph.edges(s, relation, o) if self.graph is not None else []
        return min(e["source"] for e in edges) if edges else "unknown"

    def drugs_for(self, relation: str, disease: str) -> list[tuple[str, str]]:
        return self.by_disease.get(relation, {}).get(disease, [])

    # ---------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, graph: KnowledgeGraph, *, gene_symbol: dict[str, str], clusters: dict[str, str],
             diseases: set[str]) -> TherapyPools:
        """Index ``graph``'s therapy layer; ``clusters`` maps seed diseases to their MONDO id."""
        t = cls(graph)
        c = graph._conn()
        t.drug_name = {k: v for k, v in c.execute("SELECT curie, name FROM entities WHERE type = 'drug'")
                       if v and plain_drug_name(v)}

        def pairs(relation: str):
            return c.execute("SELECT DISTINCT subject, object FROM edges WHERE relation = ? ORDER BY subject, object",
                             (relation,))

        for s, o in pairs("targets"):
            if s in t.drug_name and o in gene_symbol and o not in t.targets.get(s, []):
                t.targets.setdefault(s, []).append(o)
                t.targeted_by.setdefault(o, []).append(s)
        t.role_name = {r: n for r, n in c.execute("SELECT curie, name FROM entities WHERE type = 'role'")
                       if r in MECHANISM_ROOTS or graph.ancestors(r) & MECHANISM_ROOTS}
        for s, o in pairs("has_role"):
            if s in t.drug_name and o in t.role_name and o not in t.roles.get(s, []):
                t.roles.setdefault(s, []).append(o)
        t.atc_name = dict(c.execute("SELECT curie, name FROM entities WHERE type = 'atc'"))
        for s, o in pairs("in_class"):
            if s in t.drug_name and o in t.atc_name and o not in t.classes.get(s, []):
                t.classes.setdefault(s, []).append(o)
        for s, o, sev in c.execute("SELECT subject, object, json_extract(evidence, '$.severity') FROM edges "
                                   "WHERE relation = 'interacts_with' ORDER BY subject, object, evidence"):
            if s in t.drug_name and o in t.drug_name and s != o and not t.interactions.get(s, {}).get(o):
                t.interactions.setdefault(s, {})[o] = str(sev or "").strip()    # a stated severity wins
        t.pathway_name = dict(c.execute("SELECT curie, name FROM entities WHERE type = 'pathway'"))
        for s, o in pairs("gene_in_pathway"):
            if s in gene_symbol and o in t.pathway_name and o not in t.pathways.get(s, []):
                t.pathways.setdefault(s, []).append(o)
        t.anatomy_name = dict(c.execute("SELECT curie, name FROM entities WHERE type = 'anatomy'"))
        for s, o in pairs("part_of"):
            if s in t.anatomy_name and o in t.anatomy_name and s != o:
                t.part_of.append((s, o))
        for s, o in pairs("located_in"):
            if o in t.anatomy_name and o not in t.located_in.get(s, []):
                t.located_in.setdefault(s, []).append(o)
        members: dict[str, list[str]] = {}
        for d in sorted(diseases):
            for key in (d, clusters.get(d)):
                if key:
                    members.setdefault(key, []).append(d)
        t.has_indications = c.execute("SELECT 1 FROM edges WHERE relation IN ('indicated_for', 'off_label_for') "
                                      "LIMIT 1").fetchone() is not None
        for rel in DRUG_LEVEL:
            got: dict[str, list[tuple[str, str]]] = {}
            for s, o in pairs(rel):
                if s not in t.drug_name:
                    continue
                for d in members.get(o, []):
                    if all(x != s for x, _ in got.get(d, [])):
                        got.setdefault(d, []).append((s, o))
            t.by_disease[rel] = got
        t.drug_pool = sorted(t.drug_name)
        t.target_drugs = sorted(t.targets)
        t.interacting_drugs = sorted(t.interactions)
        t.role_pool = sorted({r for rs in t.roles.values() for r in rs})
        t.atc_pool = sorted({a for cs in t.classes.values() for a in cs})
        t.pathway_pool = sorted({p for ps in t.pathways.values() for p in ps})
        t.anatomy_pool = sorted({whole for _, whole in t.part_of})
        for a, whole in t.part_of:
            t.wholes.setdefault(a, []).append(whole)
        t.severities = sorted({v for vs in t.interactions.values() for v in vs.values() if v})
        return t
