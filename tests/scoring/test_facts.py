"""check_claims: disease-feature claims read from free text and checked against the toy graph."""

from __future__ import annotations

from balancedbio.scoring.facts import FactReport, check_claims, split_sentences


def _triples(claims):
    return {(c.subject, c.relation, c.object) for c in claims}


def test_true_statements_are_supported(toy_graph):
    r = check_claims("Cystic fibrosis is caused by CFTR mutations and causes bronchiectasis.", toy_graph)
    assert isinstance(r, FactReport)
    assert _triples(r.supported) == {("MONDO:0009061", "associated_with_gene", "HGNC:1884"),
                                     ("MONDO:0009061", "has_phenotype", "HP:0002110")}
    assert r.refuted == [] and r.precision == 1.0
    assert r.claims == r.supported


def test_false_statements_are_refuted(toy_graph):
    r = check_claims("Cystic fibrosis presents with chorea. Huntington disease is caused by CFTR.", toy_graph)
    assert {(c.subject_text, c.object_text) for c in r.refuted} == {("Cystic fibrosis", "chorea"),
                                                                    ("Huntington disease", "CFTR")}
    assert r.supported == [] and r.precision == 0.0


def test_mixed_text_precision(toy_graph):
    text = ("Marfan syndrome is associated with ectopia lentis and is caused by FBN1 variants. "
            "Marfan syndrome also causes chorea.")
    r = check_claims(text, toy_graph)
    assert len(r.supported) == 2 and len(r.refuted) == 1
    assert abs(r.precision - 2 / 3) < 1e-9


def test_negated_claims_are_not_judged(toy_graph):
    r = check_claims("Cystic fibrosis does not cause chorea.", toy_graph)
    assert r.claims == [] and r.precision is None


def test_hallucinated_ids_and_genes(toy_graph):
    r = check_claims("Huntington disease (HP:9999999) is caused by mutations in FAKEGENE1.", toy_graph)
    assert "HP:9999999" in r.hallucinated_entities and "FAKEGENE1" in r.hallucinated_entities
    r2 = check_claims("Huntington disease is caused by mutations in HTT.", toy_graph)
    assert r2.hallucinated_entities == [] and len(r2.supported) == 1


def test_icd_codes(toy_graph):
    good = check_claims("Cystic fibrosis has the ICD-10-CM code E84.", toy_graph)
    assert _triples(good.supported) == {("MONDO:0009061", "has_icd10cm", "ICD10CM:E84")}
    bad = check_claims("Cystic fibrosis has the ICD-10-CM code G10.", toy_graph)
    assert len(bad.refuted) == 1


def test_ordinary_words_do_not_link(toy_graph):
    r = check_claims("The patient set the cat on the table. All is well.", toy_graph)
    assert r.claims == [] and r.hallucinated_entities == []


def test_unlinkable_relation_sentence(toy_graph):
    r = check_claims("It is caused by a gene on chromosome 7.", toy_graph)
    assert r.unlinkable == ["It is caused by a gene on chromosome 7."]


def test_split_sentences():
    assert split_sentences("A b. C d!\nE f") == ["A b.", "C d!", "E f"]
    assert check_claims.__doc__


def test_drug_gene_pairs_are_read_as_target_claims(toy_graph):
    r = check_claims("Imatinib targets the product of ABL1. Imatinib is a BRAF inhibitor. "
                     "Trametinib does not act on KIT.", toy_graph)
    assert {(c.subject_text, c.relation, c.object_text) for c in r.supported} == {("Imatinib", "targets", "ABL1")}
    assert {(c.subject_text, c.relation, c.object_text) for c in r.refuted} == {("Imatinib", "targets", "BRAF")}


def test_drugs_without_recorded_targets_are_not_judged(tmp_path):
    from balancedbio.knowledge.build import write_graph
    from balancedbio.knowledge.graph import KnowledgeGraph
    from balancedbio.knowledge.sources import EdgeRecord, EntityRecord, SourceData

    data = SourceData("t", "1", entities=[EntityRecord("CHEBI:1", "drug", "Testamycin"),
                                          EntityRecord("CHEBI:2", "drug", "Otheramycin"),
                                          EntityRecord("HGNC:1884", "gene", "CFTR"), EntityRecord("HGNC:76", "gene", "ABL1")],
                      edges=[EdgeRecord("CHEBI:2", "targets", "HGNC:76", "t")])
    graph = KnowledgeGraph.open(write_graph(tmp_path / "g.sqlite", [data]))
    r = check_claims("Testamycin acts on CFTR. Otheramycin acts on CFTR.", graph)
    assert [(c.subject_text, c.supported) for c in r.claims] == [("Otheramycin", False)]
