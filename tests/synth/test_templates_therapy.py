"""The therapy-layer templates on a small graph: stated facts hold, distractors are refuted, None without the layer."""

from __future__ import annotations

import random

import pytest

from balancedbio.synth.generate import SynthConfig, to_row
from balancedbio.synth.pools import Closures, Pools
from balancedbio.synth.templates_therapy import EXPERTISE_THERAPY, REASONING_THERAPY
from balancedbio.synth.validate import Validator

TEMPLATES = EXPERTISE_THERAPY + REASONING_THERAPY
TRIES = 40


@pytest.fixture(scope="module")
def therapy(therapy_graph):
    pools = Pools.load(therapy_graph, seed=0, test_fraction=0.0)
    return therapy_graph, pools, Closures(pools), Validator(therapy_graph)


def _items(make, pools, closures, n=TRIES):
    out = []
    for i in range(n):
        item = make(random.Random(i), pools, closures, "train")
        if item is not None:
            out.append(item)
    return out


@pytest.mark.parametrize("make", TEMPLATES, ids=lambda f: f.__name__)
def test_template_states_supported_facts_and_refuted_distractors(make, therapy):
    graph, pools, closures, validator = therapy
    items = _items(make, pools, closures)
    assert items, f"{make.__name__} made nothing on a graph with the therapy layer"
    for item in items:
        assert item.template == make.__name__ and item.answer_type == "mcq"
        assert item.choices[item.answer] == item.seed_answer
        assert len(set(item.choices.values())) == 4
        for f in item.facts:
            assert graph.verify(f["subject"], f["relation"], f["object"]).supported, f
        assert item.negatives or item.evidence_negatives
        for f in item.negatives:
            assert validator.refuted(f), f
        row = to_row(item, 0, SynthConfig(), "train", graph.sources, "template")
        assert validator.check(item, row) is None, (item.prompt, item.response)


@pytest.mark.parametrize("make", TEMPLATES, ids=lambda f: f.__name__)
def test_template_yields_nothing_without_the_layer(make, bare_graph):
    pools = Pools.load(bare_graph, seed=0, test_fraction=0.0)
    assert not pools.therapy.has_drugs
    assert _items(make, pools, Closures(pools), n=10) == []


def test_hierarchy_distractors_are_never_ancestors(therapy):
    graph, pools, closures, _ = therapy
    from balancedbio.synth.templates_therapy import anatomy_part_mcq, drug_mechanism_mcq

    for item in _items(drug_mechanism_mcq, pools, closures):
        drug = item.facts[0]["subject"]
        held = {graph.entity(r).name for r in graph.neighbors(drug, "has_role")}
        held |= {graph.entity(a).name for r in graph.neighbors(drug, "has_role") for a in graph.ancestors(r)}
        wrong = [v for k, v in item.choices.items() if k != item.answer]
        assert not set(wrong) & held, (drug, wrong)
    for item in _items(anatomy_part_mcq, pools, closures):
        part = item.facts[0]["subject"]
        wrong = {v for k, v in item.choices.items() if k != item.answer}
        if part == "UBERON:0002349":                      # myocardium: heart, and so the cardiovascular system
            assert "cardiovascular system" not in wrong


def test_wrong_severity_or_wrong_target_is_caught(therapy):
    graph, pools, closures, validator = therapy
    from balancedbio.synth.templates_therapy import drug_target_mcq, interaction_severity_mcq

    item = _items(interaction_severity_mcq, pools, closures)[0]
    f, key, value = item.evidence[0]
    wrong = next(x for x in pools.therapy.severities if x != value)
    item.evidence = [(f, key, wrong)]
    row = to_row(item, 0, SynthConfig(), "train", graph.sources, "template")
    assert validator.check(item, row) == "fact_unsupported"
    item = _items(drug_target_mcq, pools, closures)[0]
    item.negatives.append(dict(item.facts[0]))            # "the drug does not target its own target"
    row = to_row(item, 0, SynthConfig(), "train", graph.sources, "template")
    assert validator.check(item, row) == "distractor_true"


def test_anatomy_closure_refutes_only_what_is_not_contained(therapy):
    _, _, _, validator = therapy
    assert not validator.refuted({"subject": "UBERON:0002349", "relation": "part_of", "object": "UBERON:0004535",
                                  "source": "test"})      # myocardium -> heart -> cardiovascular system
    assert validator.refuted({"subject": "UBERON:0002349", "relation": "part_of", "object": "UBERON:0001004",
                              "source": "test"})
    assert not validator.refuted({"subject": "CHEBI:45783", "relation": "has_role", "object": "CHEBI:35222",
                                  "source": "test"})      # imatinib: tyrosine kinase inhibitor is_a inhibitor


def test_a_salt_form_of_the_answer_is_never_a_distractor(therapy):
    _, pools, closures, _ = therapy
    from balancedbio.synth.templates_therapy import target_drug_mcq

    kit = [it for it in _items(target_drug_mcq, pools, closures, n=200) if it.seed_answer == "imatinib"]
    assert kit                                           # KIT's drug is imatinib; the mesylate targets ABL1 only
    for item in kit:
        assert "imatinib mesylate" not in item.choices.values()


def test_atc_classes_named_by_their_code_are_shown_as_the_code():
    from types import SimpleNamespace

    from balancedbio.synth.templates_therapy import _atc_label

    t = SimpleNamespace(atc_name={"ATC:L01": "ATC L01", "ATC:B01": "Antithrombotic agents"})
    assert _atc_label(t, "ATC:L01") == "L01" and _atc_label(t, "ATC:B01") == "B01 Antithrombotic agents"


def test_a_severity_from_one_source_is_kept_when_another_gives_none(therapy):
    _, pools, closures, _ = therapy
    from balancedbio.synth.templates_therapy import interaction_severity_mcq

    assert pools.therapy.interactions["CHEBI:10033"]["CHEBI:15365"] == "precaution for use"
    pairs = {(it.facts[0]["subject"], it.facts[0]["object"]) for it in _items(interaction_severity_mcq, pools, closures,
                                                                               n=300)}
    assert pairs & {("CHEBI:10033", "CHEBI:15365"), ("CHEBI:15365", "CHEBI:10033")}
