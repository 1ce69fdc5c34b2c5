"""Teacher seeds: every fact is a graph edge; drug seeds (targets, indications, pathways) come from the therapy
layer when the graph has one and a graph without drugs still gives disease seeds; the same RNG, the same seed;
the parsing schema's drop reasons."""

from __future__ import annotations

import random

import pytest

from balancedbio.synth.llm import LLMError
from balancedbio.synth.pools import Closures, Pools
from balancedbio.synth.seeds import SeedSampler
from balancedbio.synth.teacher import seed_messages
from balancedbio.synth.teacher_schema import ChainAnswer, MCQAnswer, parse_answer
from balancedbio.synth.validate import Validator

CAPS = ("expertise", "reasoning", "instruction", "integration")


def _draw(graph, n=60):
    pools = Pools.load(graph, seed=0, test_fraction=0.0)
    sampler = SeedSampler(pools, Closures(pools))
    return [s for i in range(n) for cap in CAPS if (s := sampler.sample(cap, random.Random(i), "train"))]


def test_seed_facts_are_graph_edges_and_drug_seeds_appear(therapy_graph):
    seeds = _draw(therapy_graph)
    v = Validator(therapy_graph)
    for s in seeds:
        assert s.facts and all(v.supported(f) for f in s.facts), (s.kind, s.facts)
        assert all(c in s.names for f in s.facts for c in (f["subject"], f["object"]))
    kinds = {s.kind for s in seeds}
    assert kinds == {"disease", "drug", "path", "constraints", "vignette"}
    drug = [s for s in seeds if s.kind == "drug"]
    assert {s.relation for s in drug} <= {"targets", "indicated_for"} and any(
        f["relation"] == "targets" for s in drug for f in s.facts)
    assert any(s.path and s.path[0].startswith("CHEBI:") for s in seeds)            # drug -> target -> disease
    assert any(f["relation"] == "treated_by" for s in seeds for f in s.facts)        # a disease's drugs
    text = seed_messages(drug[0])[1]["content"]
    assert "| targets |" in text and drug[0].names[drug[0].focus] in text


def test_a_graph_without_drugs_gives_disease_seeds(bare_graph):
    seeds = _draw(bare_graph, 30)
    assert seeds and not any(s.kind == "drug" or s.path[:1] and s.path[0].startswith("CHEBI:") for s in seeds)
    assert not any(f["relation"] in ("treated_by", "targets") for s in seeds for f in s.facts)


def test_same_rng_same_seed(therapy_graph):
    a, b = _draw(therapy_graph, 10), _draw(therapy_graph, 10)
    assert [(s.kind, s.focus, s.facts, s.relation, s.path) for s in a] == \
           [(s.kind, s.focus, s.facts, s.relation, s.path) for s in b]


@pytest.mark.parametrize("text, reason", [
    ("Sure, here is the question you asked for.", "teacher_not_json"),
    ('{"question": "Q?", "options": {"A": "x", "B": "y", "C": "z"}, "answer": "A", "explanation": "e"}',
     "teacher_missing_field"),
    ('{"question": "Q?", "options": {"A": "x", "B": "y", "C": "z", "D": "w"}, "answer": "A"}',
     "teacher_missing_field"),
    ('{"question": "", "options": {"A": "x", "B": "y", "C": "z", "D": "w"}, "answer": "A", "explanation": "e"}',
     "teacher_missing_field"),
])
def test_parse_drop_reasons(text, reason):
    with pytest.raises(LLMError, match=reason):
        parse_answer("expertise", text)


def test_parse_takes_the_first_object_inside_prose_and_fences():
    text = 'Here it is:\n```json\n{"question": "Q?", "steps": ["a", "b"], "answer": "X"}\n```\n{"other": 1}'
    got = parse_answer("reasoning", text)
    assert isinstance(got, ChainAnswer) and got.steps == ["a", "b"] and got.answer == "X"
    mcq = parse_answer("expertise", '{"question": "Q", "options": {"D": "4", "C": "3", "B": "2", "A": "1"}, '
                                    '"answer": "B", "explanation": "e", "extra": true}')
    assert isinstance(mcq, MCQAnswer) and list(mcq.options) == list("ABCD")
