"""The toy graph's therapy layer: drugs around the toy diseases' genes, their roles, interactions, anatomy.

The offline default sources carry no drug -> target pairs (drug2cell does, under a non-commercial licence
that the packaged toy graph must not inherit), so the toy's ``targets`` and ``in_class`` edges come from
:data:`TOY_TARGETS` / :data:`TOY_ATC`, a small table curated here from each drug's approved mechanism
(DrugBank target lists, WHO ATC index), stored as source ``curated`` with evidence ``{"curated": true}``.
``tests/knowledge/test_toy.py`` checks every curated pair against drug2cell where it is installed and
reports the agreement. Everything else (drug names and ids, ChEBI roles, ANSM interactions, UBERON
anatomy, HPO system -> UBERON) is extracted from the same readers as the full graph.

Example::

    from balancedbio.knowledge.toy_therapy import extract_therapy
    extract_therapy(datasets, keep_entities, keep_edges)   # adds to both; returns the curated source
"""

from __future__ import annotations

from balancedbio.knowledge.atc import atc_name
from balancedbio.knowledge.records import EdgeRecord, EntityRecord, SourceData

# drug (name as DrugBank writes it) -> gene symbols of its targets (approved mechanism)
TOY_TARGETS = {
    "Ivacaftor": ("CFTR",), "Lumacaftor": ("CFTR",),                 # cystic fibrosis
    "Migalastat": ("GLA",),                                          # Fabry disease
    "Voxelotor": ("HBB",), "Hydroxyurea": ("RRM1",),                 # sickle cell anaemia
    "Vandetanib": ("RET", "EGFR", "KDR"),                            # MEN2 / RET
    "Selumetinib": ("MAP2K1", "MAP2K2"), "Trametinib": ("MAP2K1", "MAP2K2"),  # NF1, RAS/MAPK
    "Vemurafenib": ("BRAF",), "Dabrafenib": ("BRAF",),
    "Sapropterin": ("PAH",),                                         # phenylketonuria
    "Evolocumab": ("PCSK9",), "Atorvastatin": ("HMGCR",),            # familial hypercholesterolaemia
    "Miglustat": ("UGCG",), "Eliglustat": ("UGCG",),                 # Gaucher disease
    "Tetrabenazine": ("SLC18A2",),                                   # Huntington chorea
    "Losartan": ("AGTR1",),                                          # Marfan aortic dilatation
    "Tolvaptan": ("AVPR2",),                                         # polycystic kidney disease
    "Everolimus": ("MTOR", "FKBP1A"), "Sirolimus": ("MTOR", "FKBP1A"),  # tuberous sclerosis
    "Propranolol": ("ADRB1", "ADRB2"),                               # long QT syndrome 1
    "Emicizumab": ("F9", "F10"),                                     # haemophilia A
    "Imatinib": ("ABL1", "KIT", "PDGFRA"),
    "Warfarin": ("VKORC1",),
}
# drug -> ATC level-2 codes (WHO ATC index); level 1 follows
TOY_ATC = {
    "Ivacaftor": ("R07",), "Lumacaftor": ("R07",), "Migalastat": ("A16",), "Voxelotor": ("B06",),
    "Hydroxyurea": ("L01",), "Vandetanib": ("L01",), "Selumetinib": ("L01",),
    "Trametinib": ("L01",), "Vemurafenib": ("L01",), "Dabrafenib": ("L01",), "Sapropterin": ("A16",),
    "Evolocumab": ("C10",), "Atorvastatin": ("C10",), "Miglustat": ("A16",), "Eliglustat": ("A16",),
    "Tetrabenazine": ("N07",), "Losartan": ("C09",), "Tolvaptan": ("C03",), "Everolimus": ("L01", "L04"),
    "Sirolimus": ("L04",), "Propranolol": ("C07",), "Emicizumab": ("B02",),
    "Imatinib": ("L01",), "Warfarin": ("B01",),
}



def extract_therapy(datasets: dict[str, SourceData], keep_e: set[str], keep_d: list[EdgeRecord]) -> SourceData:
    """Add the toy's drugs, genes, roles, interactions and anatomy to ``keep_e`` / ``keep_d``.

    Returns the ``curated`` source (ATC entities, ``targets`` and ``in_class`` edges).
    """
    ents = {e.curie: e for d in datasets.values() for e in d.entities}
    by_subject: dict[str, list[EdgeRecord]] = {}
    for d in datasets.values():
        for e in d.edges:
            by_subject.setdefault(e.subject, []).append(e)
    drug_by_name = {e.name: e.curie for e in ents.values() if e.type == "drug"}
    gene_by_symbol = {e.name: e.curie for e in ents.values() if e.type == "gene"}
    curated = SourceData("curated", "toy table (knowledge/toy_therapy.py)")
    drugs: set[str] = set()
    for name, genes in TOY_TARGETS.items():
        drug = drug_by_name.get(name)
        if drug is None:
            continue
        drugs.add(drug)
        for g in genes:
            if g in gene_by_symbol:
                keep_e.add(gene_by_symbol[g])
                curated.edges.append(EdgeRecord(drug, "targets", gene_by_symbol[g], "curated", {"curated": True}))
        for code in TOY_ATC.get(name, ()):
            curated.edges.append(EdgeRecord(drug, "in_class", f"ATC:{code}", "curated", {"curated": True}))
    codes = sorted({c for cs in TOY_ATC.values() for c in cs})
    for code in sorted(set(codes) | {c[0] for c in codes}):
        curated.entities.append(EntityRecord(f"ATC:{code}", "atc", atc_name(code), (), "", "curated",
                                             {"level": 1 if len(code) == 1 else 2}))
        if len(code) == 3:
            curated.edges.append(EdgeRecord(f"ATC:{code}", "is_a", f"ATC:{code[0]}", "curated"))
    keep_e.update(drugs)
    roles: list[str] = []
    for drug in sorted(drugs):
        for e in by_subject.get(drug, []):
            if e.relation == "xref":
                keep_d.append(e)
            elif e.relation == "has_role":
                keep_d.append(e)
                roles.append(e.object)
            elif e.relation == "interacts_with" and e.object in drugs:
                keep_d.append(e)
    todo, seen = roles, set()
    while todo:                                   # the roles' is_a ancestry
        r = todo.pop()
        if r in seen:
            continue
        seen.add(r)
        keep_e.add(r)
        for e in by_subject.get(r, []):
            if e.relation == "is_a":
                keep_d.append(e)
                todo.append(e.object)
    _anatomy(by_subject, keep_e, keep_d)
    return curated


def _anatomy(by_subject: dict[str, list[EdgeRecord]], keep_e: set[str], keep_d: list[EdgeRecord]) -> None:
    """The UBERON site of each HPO organ system in the toy, and the organs/systems part_of those sites."""
    sites: set[str] = set()
    for hp in sorted(c for c in keep_e if c.startswith("HP:")):
        for e in by_subject.get(hp, []):
            if e.relation == "located_in":
                keep_d.append(e)
                sites.add(e.object)
    containers = {e.object for edges in by_subject.values() for e in edges
                  if e.relation == "part_of" and e.source == "uberon"}
    keep_e.update(sites)
    for curie in sorted(containers):
        for e in by_subject.get(curie, []):
            if e.relation == "part_of" and e.object in sites:
                keep_d.append(e)
                keep_e.add(curie)
