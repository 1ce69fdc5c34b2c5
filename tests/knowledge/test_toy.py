"""The toy graph: fast to build, real data, every seed disease annotated."""

from __future__ import annotations

import time

import pytest

from balancedbio.knowledge.graph import KnowledgeGraph
from balancedbio.knowledge.toy import SEED_DISEASES, build_toy_graph, load_snapshot


def test_builds_fast_and_complete(tmp_path):
    t = time.perf_counter()
    path = build_toy_graph(tmp_path / "kg")
    assert time.perf_counter() - t < 5
    kg = KnowledgeGraph.open(tmp_path / "kg")
    assert kg.path == path and kg.meta.get("toy") == "1"
    for did in SEED_DISEASES:
        assert kg.entity(did) is not None, did
        assert kg.neighbors(did, "has_phenotype"), did
    genes = {g for d in SEED_DISEASES for g in kg.neighbors(d, "associated_with_gene")}
    assert len(genes) >= 30


def test_snapshot_edges_reference_known_entities():
    data = load_snapshot()
    known = {e.curie for d in data for e in d.entities}
    for d in data:
        for e in d.edges:
            if e.relation == "xref":          # cross-references may name ids outside the graph
                continue
            assert e.subject in known and e.object in known, e


def test_therapy_layer(toy_graph):
    """Drugs targeting the seed diseases' genes, roles, ATC classes, interactions, anatomy of HPO systems."""
    kg = toy_graph
    stats = kg.stats()
    for t in ("drug", "role", "atc", "anatomy"):
        assert stats["entities"].get(t, 0) > 0, t
    for rel in ("targets", "has_role", "in_class", "interacts_with", "located_in", "part_of"):
        assert stats["edges"].get(rel, 0) > 0, rel
    assert kg.verify("imatinib", "targets", "ABL1").supported
    assert kg.verify("DRUGBANK:DB00619", "targets", "ABL1").supported       # by a cross-referenced id
    assert not kg.verify("imatinib", "targets", "CFTR").supported
    seed_genes = {g for d in SEED_DISEASES for g in kg.neighbors(d, "associated_with_gene")}
    targeted = {g for g in seed_genes if kg.neighbors(g, "targeted_by")}
    assert {kg.entity(g).name for g in targeted} >= {"CFTR", "PAH", "GLA", "HBB", "RET", "MAP2K1", "BRAF"}
    for s, o in kg.iter_edges("interacts_with"):                       # stored both ways
        assert kg.has_edge(o, "interacts_with", s) and kg.edges(s, "interacts_with", o)[0]["evidence"]["severity"]
    assert kg.verify("ivacaftor", "in_class", "ATC:R07").supported
    assert kg.verify("ATC:R07", "is_a", "ATC:R").supported
    assert kg.verify("HP:0001626", "located_in", "cardiovascular system").supported
    assert kg.verify("heart", "part_of", "cardiovascular system").supported
    assert kg.licences["curated"].startswith("curated")


def test_curated_targets_agree_with_drug2cell():
    """Where drug2cell is installed, >= 80% of the curated toy targets are among its pairs (28 of 34 measured)."""
    import importlib.util

    if importlib.util.find_spec("drug2cell") is None:
        pytest.skip("drug2cell (opt-in, non-commercial) is not installed")
    from balancedbio.knowledge.drug2cell import drug2cell_dir, safe_load
    from balancedbio.knowledge.toy_therapy import TOY_TARGETS

    d2c: dict[str, set[str]] = {}
    for drugs in safe_load(drug2cell_dir() / "drug-target_dicts.pkl").values():
        for key, genes in drugs.items():
            d2c.setdefault(key.split("|")[1].lower(), set()).update(genes)
    pairs = [(d, g) for d, genes in TOY_TARGETS.items() for g in genes]
    agree = [p for p in pairs if p[1] in d2c.get(p[0].lower(), set())]
    assert len(agree) / len(pairs) >= 0.8, sorted(set(pairs) - set(agree))
