"""Small graphs for the therapy templates: the toy snapshot with and without a hand-written therapy layer.

The therapy layer below uses the schema of docs/knowledge.md (drugs, ``targets``, ``has_role``, ``in_class``,
``interacts_with`` with a severity, ``gene_in_pathway``, UBERON ``part_of``, HPO system ``located_in``,
``indicated_for`` / ``contraindicated_for``). It is test data, written for these tests: the ids are real
where we know them, the edges are a plausible miniature, not a curated source.
"""

from __future__ import annotations

import pytest

from balancedbio.knowledge.build import write_graph
from balancedbio.knowledge.graph import KnowledgeGraph
from balancedbio.knowledge.sources import EdgeRecord, EntityRecord, SourceData
from balancedbio.knowledge.toy import load_snapshot

THERAPY_RELATIONS = {"targets", "has_role", "in_class", "interacts_with", "gene_in_pathway", "located_in",
                     "indicated_for", "contraindicated_for", "off_label_for", "has_side_effect"}
THERAPY_TYPES = {"drug", "role", "atc", "pathway", "anatomy"}

DRUGS = {  # curie -> (name, synonyms)
    "CHEBI:66901": ("ivacaftor", ("Kalydeco", "VX-770")), "CHEBI:90951": ("lumacaftor", ("VX-809",)),
    "CHEBI:45783": ("imatinib", ("Gleevec", "STI571")), "CHEBI:49960": ("vandetanib", ("Caprelsa",)),
    "CHEBI:72317": ("cabozantinib", ("Cometriq",)), "CHEBI:10033": ("warfarin", ("Coumadin",)),
    "CHEBI:15365": ("aspirin", ("acetylsalicylic acid",)), "CHEBI:39548": ("atorvastatin", ("Lipitor",)),
    "CHEBI:9150": ("simvastatin", ("Zocor",)), "CHEBI:47519": ("ketoconazole", ("Nizoral",)),
    "CHEBI:2663": ("amiodarone", ("Cordarone",)), "CHEBI:7959": ("penicillamine", ("Cuprimine",)),
    "CHEBI:39501": ("trientine", ("Syprine",)), "CHEBI:44423": ("hydroxyurea", ("hydroxycarbamide",)),
    "CHEBI:135923": ("migalastat", ("Galafold",)), "CHEBI:50381": ("miglustat", ("Zavesca",)),
    "DRUGBANK:DB13923": ("emicizumab", ("Hemlibra",)), "CHEBI:31690": ("imatinib mesylate", ()),
}
GENES = {"HGNC:5006": "HMGCR", "HGNC:12524": "UGCG", "HGNC:10451": "RRM1", "HGNC:6251": "KCNH2",
         "HGNC:76": "ABL1", "HGNC:6342": "KIT", "HGNC:2649": "CYP51A1", "HGNC:23663": "VKORC1",
         "HGNC:9604": "PTGS1", "HGNC:9605": "PTGS2"}
TARGETS = [("CHEBI:66901", "HGNC:1884"), ("CHEBI:90951", "HGNC:1884"), ("CHEBI:45783", "HGNC:76"),
           ("CHEBI:45783", "HGNC:6342"), ("CHEBI:49960", "HGNC:9967"), ("CHEBI:72317", "HGNC:9967"),
           ("CHEBI:10033", "HGNC:23663"), ("CHEBI:15365", "HGNC:9604"), ("CHEBI:15365", "HGNC:9605"),
           ("CHEBI:39548", "HGNC:5006"), ("CHEBI:9150", "HGNC:5006"), ("CHEBI:47519", "HGNC:2649"),
           ("CHEBI:2663", "HGNC:6251"), ("CHEBI:44423", "HGNC:10451"), ("CHEBI:135923", "HGNC:4296"),
           ("CHEBI:50381", "HGNC:12524"), ("CHEBI:31690", "HGNC:76")]     # a salt form, targeting ABL1 only
ROLES = {"CHEBI:50906": ("role", None), "CHEBI:23888": ("drug", "CHEBI:50906"),
         "CHEBI:35222": ("inhibitor", "CHEBI:50906"), "CHEBI:38637": ("tyrosine kinase inhibitor", "CHEBI:35222"),
         "CHEBI:35664": ("hydroxymethylglutaryl-CoA reductase inhibitor", "CHEBI:35222"),
         "CHEBI:35610": ("antineoplastic agent", "CHEBI:23888"), "CHEBI:50249": ("anticoagulant", "CHEBI:23888"),
         "CHEBI:35475": ("non-steroidal anti-inflammatory drug", "CHEBI:23888"),
         "CHEBI:35718": ("antifungal agent", "CHEBI:23888"), "CHEBI:38070": ("anti-arrhythmia drug", "CHEBI:23888"),
         "CHEBI:38161": ("chelator", "CHEBI:50906"), "CHEBI:90000": ("CFTR potentiator", "CHEBI:23888")}
HAS_ROLE = [("CHEBI:45783", "CHEBI:38637"), ("CHEBI:45783", "CHEBI:35610"), ("CHEBI:49960", "CHEBI:38637"),
            ("CHEBI:49960", "CHEBI:35610"), ("CHEBI:72317", "CHEBI:38637"), ("CHEBI:10033", "CHEBI:50249"),
            ("CHEBI:15365", "CHEBI:35475"), ("CHEBI:39548", "CHEBI:35664"), ("CHEBI:9150", "CHEBI:35664"),
            ("CHEBI:47519", "CHEBI:35718"), ("CHEBI:2663", "CHEBI:38070"), ("CHEBI:7959", "CHEBI:38161"),
            ("CHEBI:39501", "CHEBI:38161"), ("CHEBI:44423", "CHEBI:35610"), ("CHEBI:66901", "CHEBI:90000")]
ATC = {"ATC:L": "Antineoplastic and immunomodulating agents", "ATC:B": "Blood and blood forming organs",
       "ATC:C": "Cardiovascular system", "ATC:J": "Antiinfectives for systemic use",
       "ATC:M": "Musculo-skeletal system", "ATC:L01": "Antineoplastic agents",
       "ATC:B01": "Antithrombotic agents", "ATC:C10": "Lipid modifying agents",
       "ATC:J02": "Antimycotics for systemic use", "ATC:C01": "Cardiac therapy",
       "ATC:M01": "Antiinflammatory and antirheumatic products"}
IN_CLASS = [("CHEBI:45783", "ATC:L01"), ("CHEBI:49960", "ATC:L01"), ("CHEBI:72317", "ATC:L01"),
            ("CHEBI:44423", "ATC:L01"), ("CHEBI:10033", "ATC:B01"), ("CHEBI:15365", "ATC:B01"),
            ("CHEBI:15365", "ATC:M01"), ("CHEBI:39548", "ATC:C10"), ("CHEBI:9150", "ATC:C10"),
            ("CHEBI:47519", "ATC:J02"), ("CHEBI:2663", "ATC:C01")]
INTERACTIONS = [("CHEBI:66901", "CHEBI:47519", "not recommended"),
                ("CHEBI:10033", "CHEBI:15365", "precaution for use"),
                ("CHEBI:2663", "CHEBI:9150", "contraindicated"),
                ("CHEBI:45783", "CHEBI:47519", "to be taken into account"),
                ("CHEBI:10033", "CHEBI:2663", "precaution for use"),
                ("CHEBI:9150", "CHEBI:47519", "contraindicated")]
PATHWAYS = {"REACT:R-HSA-8853659": "RET signaling", "REACT:R-HSA-983712": "Ion channel transport",
            "REACT:R-HSA-1660662": "Glycosphingolipid metabolism", "REACT:R-HSA-191273": "Cholesterol biosynthesis",
            "REACT:R-HSA-2162123": "Synthesis of Prostaglandins (PG) and Thromboxanes (TX)",
            "REACT:R-HSA-1433557": "Signaling by SCF-KIT", "REACT:R-HSA-15869": "Metabolism of nucleotides",
            "REACT:R-HSA-6806664": "Metabolism of vitamin K", "REACT:R-HSA-936837": "Ion transport by P-type ATPases"}
IN_PATHWAY = [("HGNC:9967", "REACT:R-HSA-8853659"), ("HGNC:1884", "REACT:R-HSA-983712"),
              ("HGNC:6251", "REACT:R-HSA-983712"), ("HGNC:4296", "REACT:R-HSA-1660662"),
              ("HGNC:12524", "REACT:R-HSA-1660662"), ("HGNC:4177", "REACT:R-HSA-1660662"),
              ("HGNC:5006", "REACT:R-HSA-191273"), ("HGNC:9604", "REACT:R-HSA-2162123"),
              ("HGNC:9605", "REACT:R-HSA-2162123"), ("HGNC:6342", "REACT:R-HSA-1433557"),
              ("HGNC:10451", "REACT:R-HSA-15869"), ("HGNC:23663", "REACT:R-HSA-6806664"),
              ("HGNC:870", "REACT:R-HSA-936837")]
ANATOMY = {"UBERON:0000948": "heart", "UBERON:0002349": "myocardium", "UBERON:0002165": "endocardium",
           "UBERON:0004535": "cardiovascular system", "UBERON:0002048": "lung",
           "UBERON:0001004": "respiratory system", "UBERON:0002107": "liver", "UBERON:0001007": "digestive system",
           "UBERON:0000955": "brain", "UBERON:0001017": "central nervous system",
           "UBERON:0001016": "nervous system", "UBERON:0002113": "kidney", "UBERON:0001008": "renal system",
           "UBERON:0000970": "eye", "UBERON:0002097": "skin of body", "UBERON:0002204": "musculoskeletal system"}
PART_OF = [("UBERON:0002349", "UBERON:0000948"), ("UBERON:0002165", "UBERON:0000948"),
           ("UBERON:0000948", "UBERON:0004535"), ("UBERON:0002048", "UBERON:0001004"),
           ("UBERON:0002107", "UBERON:0001007"), ("UBERON:0000955", "UBERON:0001017"),
           ("UBERON:0001017", "UBERON:0001016"), ("UBERON:0002113", "UBERON:0001008")]
LOCATED_IN = [("HP:0001626", "UBERON:0004535"), ("HP:0002086", "UBERON:0001004"), ("HP:0000707", "UBERON:0001016"),
              ("HP:0000119", "UBERON:0001008"), ("HP:0025031", "UBERON:0001007"), ("HP:0000478", "UBERON:0000970"),
              ("HP:0001574", "UBERON:0002097"), ("HP:0033127", "UBERON:0002204")]
WILSON, HEMOPHILIA_A, CYSTIC_FIBROSIS = "OMIM:277900", "OMIM:306700", "OMIM:219700"
INDICATED = [("CHEBI:7959", "MONDO:0010200"), ("CHEBI:39501", "MONDO:0010200"),   # Wilson disease (by MONDO)
             ("DRUGBANK:DB13923", HEMOPHILIA_A)]
CONTRAINDICATED = [("CHEBI:15365", HEMOPHILIA_A), ("CHEBI:10033", HEMOPHILIA_A)]


def therapy_source() -> SourceData:
    ents = [EntityRecord(c, "drug", n, syn, source="test") for c, (n, syn) in DRUGS.items()]
    ents += [EntityRecord(c, "gene", s, source="test") for c, s in GENES.items()]
    ents += [EntityRecord(c, "role", n, source="test") for c, (n, _) in ROLES.items()]
    ents += [EntityRecord(c, "atc", n, source="test") for c, n in ATC.items()]
    ents += [EntityRecord(c, "pathway", n, source="test") for c, n in PATHWAYS.items()]
    ents += [EntityRecord(c, "anatomy", n, source="test") for c, n in ANATOMY.items()]
    e = [EdgeRecord(d, "targets", g, "test") for d, g in TARGETS]
    e += [EdgeRecord(c, "is_a", parent, "test") for c, (_, parent) in ROLES.items() if parent]
    e += [EdgeRecord(d, "has_role", r, "test") for d, r in HAS_ROLE]
    e += [EdgeRecord(c, "is_a", c[:5], "test") for c in ATC if len(c) > 5]
    e += [EdgeRecord(d, "in_class", a, "test") for d, a in IN_CLASS]
    for a, b, sev in INTERACTIONS:
        e += [EdgeRecord(a, "interacts_with", b, "test", {"severity": sev}),
              EdgeRecord(b, "interacts_with", a, "test", {"severity": sev})]
    # the warfarin-aspirin pair once more, from a source without severity (as an imported PrimeKG edge)
    e += [EdgeRecord("CHEBI:10033", "interacts_with", "CHEBI:15365", "imported", {"display_relation": "x"}),
          EdgeRecord("CHEBI:15365", "interacts_with", "CHEBI:10033", "imported", {"display_relation": "x"})]
    e += [EdgeRecord(g, "gene_in_pathway", p, "test") for g, p in IN_PATHWAY]
    e += [EdgeRecord(a, "part_of", b, "test") for a, b in PART_OF]
    e += [EdgeRecord(h, "located_in", u, "test") for h, u in LOCATED_IN]
    e += [EdgeRecord(d, "indicated_for", x, "test") for d, x in INDICATED]
    e += [EdgeRecord(d, "contraindicated_for", x, "test") for d, x in CONTRAINDICATED]
    return SourceData("test_therapy", "1", entities=ents, edges=e)


def without_therapy(datasets: list[SourceData]) -> list[SourceData]:
    """The datasets with every therapy-layer entity and edge removed (a rare-disease-only graph)."""
    out = []
    for d in datasets:
        ents = [x for x in d.entities if x.type not in THERAPY_TYPES]
        drop = {x.curie for x in d.entities if x.type in THERAPY_TYPES}
        edges = [x for x in d.edges if x.relation not in THERAPY_RELATIONS and x.subject not in drop
                 and x.object not in drop]
        out.append(SourceData(d.name, d.version, entities=ents, edges=edges))
    return out


@pytest.fixture(scope="session")
def therapy_graph(tmp_path_factory) -> KnowledgeGraph:
    """The toy graph (without whatever therapy layer it ships) plus the therapy layer above."""
    path = tmp_path_factory.mktemp("therapy-kg") / "graph.sqlite"
    return KnowledgeGraph.open(write_graph(path, without_therapy(load_snapshot()) + [therapy_source()]))


@pytest.fixture(scope="session")
def bare_graph(tmp_path_factory) -> KnowledgeGraph:
    """The toy graph without any therapy layer."""
    path = tmp_path_factory.mktemp("bare-kg") / "graph.sqlite"
    return KnowledgeGraph.open(write_graph(path, without_therapy(load_snapshot())))


@pytest.fixture(scope="session")
def bare_datasets() -> list[SourceData]:
    """The toy snapshot's datasets without any therapy layer (to build graphs with an imported one)."""
    return without_therapy(load_snapshot())
