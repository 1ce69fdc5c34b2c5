"""The integration vignette's Management from the graph: indicated drugs, target drugs, or a statement of none."""

from __future__ import annotations

import random

import pytest

from balancedbio.scoring import parse_sections, score
from balancedbio.scoring.management import management_score
from balancedbio.synth.generate import SynthConfig, to_row
from balancedbio.synth.pools import Closures, Pools
from balancedbio.synth.validate import Validator
from balancedbio.synth.workflow import clinical_vignette
from balancedbio.synth.workflow_management import management_plan
from balancedbio.verifiers import MANAGEMENT_ID

WILSON, HEMOPHILIA_A, CYSTIC_FIBROSIS, MARFAN = "OMIM:277900", "OMIM:306700", "OMIM:219700", "OMIM:154700"


@pytest.fixture(scope="module")
def pools(therapy_graph):
    return Pools.load(therapy_graph, seed=0, test_fraction=0.0)


def _plan(pools, disease):
    return management_plan(random.Random(0), pools, disease, pools.genes.get(disease, []))


def _supported_names(plan):
    return [names[0] for names in plan.check["kwargs"]["supported"]]


def test_indicated_drugs_come_from_indicated_for_edges_through_the_mondo_cluster(pools, therapy_graph):
    plan = _plan(pools, WILSON)
    assert plan.clauses[0] == "indicated drugs: penicillamine and trientine"
    assert {(f["subject"], f["relation"], f["object"]) for f in plan.facts} == {
        ("CHEBI:7959", "indicated_for", "MONDO:0010200"), ("CHEBI:39501", "indicated_for", "MONDO:0010200")}
    assert _supported_names(plan) == ["penicillamine", "trientine"]
    for f in plan.facts:
        assert therapy_graph.verify(f["subject"], f["relation"], f["object"]).supported


def test_without_indications_the_drugs_targeting_the_gene_product_are_stated_as_such(pools):
    plan = _plan(pools, CYSTIC_FIBROSIS)
    assert plan.clauses[0] == "drugs targeting the product of CFTR: ivacaftor and lumacaftor"
    assert not any("indicated" in c for c in plan.clauses)
    assert {f["relation"] for f in plan.facts} == {"targets", "interacts_with"}
    # the interaction with the first drug named, severity checked against the edge
    assert plan.clauses[1] == "avoid combining ivacaftor with ketoconazole (recorded interaction, severity: not recommended)"
    assert plan.evidence and plan.evidence[0][1:] == ("severity", "not recommended")


def test_contraindicated_drugs_are_avoided_and_refuted(pools):
    plan = _plan(pools, HEMOPHILIA_A)
    assert plan.clauses == ["indicated drugs: emicizumab", "avoid aspirin and warfarin (contraindicated in Hemophilia A)"]
    refuted = [names[0] for names in plan.check["kwargs"]["refuted"]]
    assert {"aspirin", "warfarin"} <= set(refuted) and len(refuted) == 5      # + three distractor drugs


def test_when_the_graph_has_no_drug_the_section_says_so(pools):
    plan = _plan(pools, MARFAN)
    assert plan.clauses == ["no drug in the knowledge graph is indicated for Marfan syndrome or targets the "
                            "product of FBN1"]
    assert plan.facts == [] and plan.check["kwargs"]["supported"] == []
    assert len(plan.check["kwargs"]["refuted"]) == 3


def test_vignettes_carry_validated_management_and_score_full_marks(therapy_graph, pools):
    closures, validator = Closures(pools), Validator(therapy_graph)
    seen = 0
    for i in range(60):
        item = clinical_vignette(random.Random(i), pools, closures, "train")
        if item is None:
            continue
        row = to_row(item, i, SynthConfig(), "train", therapy_graph.sources, "template")
        assert validator.check(item, row) is None
        check = next(c for c in row["checks"] if c["id"] == MANAGEMENT_ID)
        body = parse_sections(row["messages"][1]["content"], ["Differential", "Work-up", "Diagnosis", "Management"])
        assert management_score(row["messages"][1]["content"], check["kwargs"]) == 1.0
        assert score(row, row["messages"][1]["content"]).details["management"] == 1.0
        if check["kwargs"]["supported"]:
            # swapping the supported drugs for a refuted one lowers the score
            wrong = check["kwargs"]["refuted"][0][0]
            text = row["messages"][1]["content"].replace(body["Management"], f"start {wrong}.")
            assert score(row, text).value == pytest.approx(0.8)
        else:
            assert "no drug in the knowledge graph" in body["Management"]
        seen += 1
    assert seen >= 5


def test_a_graph_without_drugs_states_none_and_adds_no_check(bare_graph):
    pools = Pools.load(bare_graph, seed=0, test_fraction=0.0)
    closures = Closures(pools)
    item = next(x for x in (clinical_vignette(random.Random(i), pools, closures, "train") for i in range(40)) if x)
    assert [c["id"] for c in item.checks] == ["balancedbio:sections"]
    assert "no drug in the knowledge graph is indicated for" in item.response.split("Management:")[1]


def test_on_the_packaged_toy_graph_target_drugs_are_named_and_hold(toy_graph):
    pools = Pools.load(toy_graph, seed=0, test_fraction=0.0)
    with_drugs = [d for d in sorted(pools.genes) if any(g in pools.therapy.targeted_by for g in pools.genes[d])]
    assert with_drugs
    for d in with_drugs:
        plan = _plan(pools, d)
        assert plan.clauses[0].startswith(("indicated drugs: ", "drugs targeting the product of "))
        assert plan.check["kwargs"]["supported"]
        for f in plan.facts:
            assert toy_graph.verify(f["subject"], f["relation"], f["object"]).supported, f


def test_indications_imported_from_primekg_come_first(tmp_path):
    """A PrimeKG kg.csv (our importer) with an indication and a contraindication on cystic fibrosis's MONDO id."""
    from balancedbio.knowledge.build import write_graph
    from balancedbio.knowledge.graph import KnowledgeGraph
    from balancedbio.knowledge.importers import IdMapper, read_primekg
    from balancedbio.knowledge.toy import load_snapshot

    head = "relation,display_relation,x_index,x_id,x_type,x_name,x_source,y_index,y_id,y_type,y_name,y_source\n"
    csv = tmp_path / "kg.csv"
    csv.write_text(head + "indication,indication,1,DB99901,drug,Testacaftor,DrugBank,2,9061,disease,cystic fibrosis,MONDO\n"
                   "contraindication,contraindication,3,DB99902,drug,Testazepam,DrugBank,2,9061,disease,"
                   "cystic fibrosis,MONDO\n")
    graph = KnowledgeGraph.open(write_graph(tmp_path / "g.sqlite", load_snapshot()
                                            + [read_primekg(csv, IdMapper(ncbi={}, drugbank={}))]))
    pools = Pools.load(graph, seed=0, test_fraction=0.0)
    plan = _plan(pools, CYSTIC_FIBROSIS)
    assert plan.clauses[0] == "indicated drugs: Testacaftor"
    assert "avoid Testazepam (contraindicated in Cystic fibrosis)" in plan.clauses
    assert ("DRUGBANK:DB99901", "indicated_for", "MONDO:0009061") in {(f["subject"], f["relation"], f["object"])
                                                                      for f in plan.facts}
    for f in plan.facts:
        assert graph.verify(f["subject"], f["relation"], f["object"]).supported, f
    assert plan.check["kwargs"]["supported"][0] == ["Testacaftor"]
    assert ["Testazepam"] in plan.check["kwargs"]["refuted"]
    validator = Validator(graph)
    assert all(validator.refuted(f) for f in plan.negatives)


def test_a_drug_indicated_for_a_broader_disease_is_not_refuted(tmp_path, bare_datasets):
    """PrimeKG groups diseases: a drug indicated for cystic fibrosis's MONDO parent is neither a distractor
    nor a refuted negative."""
    from balancedbio.knowledge.build import write_graph
    from balancedbio.knowledge.graph import KnowledgeGraph
    from balancedbio.knowledge.importers import IdMapper, read_primekg

    head = "relation,display_relation,x_index,x_id,x_type,x_name,x_source,y_index,y_id,y_type,y_name,y_source\n"
    lines = ["indication,indication,1,DB99901,drug,Testacaftor,DrugBank,2,9061,disease,cystic fibrosis,MONDO",
             "indication,indication,3,DB99903,drug,Testamol,DrugBank,4,5087,disease,respiratory system disorder,MONDO"]
    lines += [f"indication,indication,{5 + i},DB9991{i},drug,Othermab {'abc'[i]},DrugBank,9,7947,disease,Marfan,MONDO"
              for i in range(3)]
    csv = tmp_path / "kg.csv"
    csv.write_text(head + "\n".join(lines) + "\n")
    graph = KnowledgeGraph.open(write_graph(tmp_path / "g.sqlite", bare_datasets
                                            + [read_primekg(csv, IdMapper(ncbi={}, drugbank={}))]))
    pools = Pools.load(graph, seed=0, test_fraction=0.0)
    assert "MONDO:0005087" in graph.ancestors("MONDO:0009061")
    validator = Validator(graph)
    assert not validator.refuted({"subject": "DRUGBANK:DB99903", "relation": "indicated_for",
                                  "object": "MONDO:0009061", "source": "primekg"})
    for seed in range(10):
        plan = management_plan(random.Random(seed), pools, CYSTIC_FIBROSIS, pools.genes[CYSTIC_FIBROSIS])
        refuted = [names[0] for names in plan.check["kwargs"]["refuted"]]
        assert sorted(refuted) == ["Othermab a", "Othermab b", "Othermab c"]
        assert all(validator.refuted(f) for f in plan.negatives)
