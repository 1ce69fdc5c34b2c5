"""KnowledgeGraph on the toy graph: linking, neighbours, verification, equivalents, errors."""

from __future__ import annotations

import pytest

from balancedbio.errors import DataError
from balancedbio.knowledge.graph import KnowledgeGraph, canonical_relation, normalize_name


def test_open_missing_graph_says_how_to_build(isolated_home):
    with pytest.raises(DataError, match="balancedbio kg build"):
        KnowledgeGraph.open()


def test_open_corrupt_file(tmp_path):
    bad = tmp_path / "graph.sqlite"
    bad.write_bytes(b"not a database" * 100)
    with pytest.raises(DataError, match="not a readable knowledge graph"):
        KnowledgeGraph.open(tmp_path)


def test_link_is_case_insensitive_and_uses_synonyms(toy_graph):
    hits = toy_graph.link("CYSTIC   fibrosis")
    curies = [e.curie for e in hits]
    assert "OMIM:219700" in curies and "MONDO:0009061" in curies
    assert curies[0] == "MONDO:0009061"          # curated disease ontology ranked first
    gene = toy_graph.link("cftr", types=("gene",))
    assert [e.curie for e in gene] == ["HGNC:1884"]
    # a synonym (not the preferred name) of a phenotype
    bronch = toy_graph.entity("HP:0002110")
    assert bronch is not None and bronch.name == "Bronchiectasis"
    for syn in bronch.synonyms:
        assert "HP:0002110" in [e.curie for e in toy_graph.link(syn.upper())]
    assert toy_graph.link("no such disease at all") == []


def test_link_curie_and_entity(toy_graph):
    assert [e.curie for e in toy_graph.link("HP:0002110")] == ["HP:0002110"]
    e = toy_graph.entity("MONDO:0009061")
    assert e.type == "disease" and e.definition          # MONDO definition from cellxgene
    assert toy_graph.entity("HP:9999999") is None


def test_neighbors_and_inverse(toy_graph):
    assert "HP:0002110" in toy_graph.neighbors("OMIM:219700", "has_phenotype")
    assert "OMIM:219700" in toy_graph.neighbors("HP:0002110", "phenotype_of")
    assert "HGNC:1884" in toy_graph.neighbors("OMIM:219700", "associated_with_gene")
    with pytest.raises(DataError, match="unknown relation"):
        toy_graph.neighbors("OMIM:219700", "eats")


def test_verify_true_and_false_triples(toy_graph):
    v = toy_graph.verify("OMIM:219700", "has_phenotype", "HP:0002110")
    assert v.supported and v.evidence[0]["source"] == "hpo"
    assert any(r.startswith("PMID:") for r in v.evidence[0]["evidence"]["references"])
    # Chorea is a Huntington feature, not a cystic fibrosis one
    assert not toy_graph.verify("OMIM:219700", "has_phenotype", "HP:0002072").supported
    assert toy_graph.verify("OMIM:143100", "has_phenotype", "HP:0002072").supported
    # by name, and through the inverse relation
    assert toy_graph.verify("cystic fibrosis", "associated_with_gene", "CFTR").supported
    assert toy_graph.verify("CFTR", "gene_associated_with", "cystic fibrosis").supported
    assert not toy_graph.verify("Huntington disease", "associated_with_gene", "CFTR").supported


def test_verify_through_equivalents_and_hierarchy(toy_graph):
    # MONDO id has no HPO annotations itself: answered through its OMIM cross-reference
    assert toy_graph.verify("MONDO:0009061", "has_phenotype", "HP:0002110").supported
    # ICD-10-CM code from MONDO/DOID, asked with the OMIM id
    assert toy_graph.verify("OMIM:219700", "has_icd10cm", "ICD10CM:E84").supported
    # a more specific code lies within the stored category
    assert toy_graph.verify("OMIM:219700", "has_icd10cm", "ICD10CM:E84.0").supported
    assert not toy_graph.verify("OMIM:219700", "has_icd10cm", "ICD10CM:G10").supported
    # transitive is_a
    parents = toy_graph.neighbors("ICD10CM:E84.0", "is_a")
    assert parents == ["ICD10CM:E84"]
    assert toy_graph.verify("ICD10CM:E84.0", "is_a", "ICD10CM:E70-E88").supported


def test_verify_unknown_entity(toy_graph):
    v = toy_graph.verify("Madeup syndrome", "has_phenotype", "HP:0002110")
    assert not v.supported and "not in the graph" in v.reason


def test_true_path_rule(toy_graph):
    parent = toy_graph.neighbors("HP:0002110", "is_a")[0]
    direct = toy_graph.verify("OMIM:219700", "has_phenotype", parent)
    inherited = toy_graph.verify("OMIM:219700", "has_phenotype", parent, true_path=True)
    assert inherited.supported
    assert direct.supported or not direct.evidence


def test_stats_and_helpers(toy_graph):
    s = toy_graph.stats()
    assert s["entities"]["disease"] >= 30 and s["edges"]["has_phenotype"] > 500
    assert set(s["sources"]) == {"hpo", "mondo", "doid", "go", "mesh", "hgnc", "icd10cm", "drugs", "uberon", "ansm",
                                 "curated"}
    assert set(s["licences"]) == set(s["sources"]) and "CC BY 4.0" in s["licences"]["mondo"]
    assert normalize_name("  Cystic\tFibrosis ") == "cystic fibrosis"
    assert canonical_relation("phenotype_of") == ("has_phenotype", True)


def test_pickles_for_worker_processes(toy_graph):
    import pickle

    kg = pickle.loads(pickle.dumps(toy_graph))
    assert kg.path == toy_graph.path and kg.verify("OMIM:219700", "has_phenotype", "HP:0002110").supported
