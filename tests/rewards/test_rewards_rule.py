"""Rule-based rewards against the shared scorer (synth data contract rows)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from balancedbio.errors import DataError
from balancedbio.rewards import (
    FactCheckReward,
    HallucinationPenalty,
    capability_score_reward,
    correctness_reward,
    format_reward,
    instruction_reward,
)

MCQ = {"id": "m1", "capability": "expertise", "answer": "B", "answer_type": "mcq", "aliases": [],
       "choices": {"A": "Gaucher disease", "B": "Marfan syndrome", "C": "Fabry disease", "D": "Pompe disease"},
       "checks": []}
REASON = {"id": "r1", "capability": "reasoning", "answer": "FBN1", "answer_type": "short", "aliases": ["fibrillin 1"],
          "choices": None, "checks": []}
INSTR = {"id": "i1", "capability": "instruction", "answer": "", "answer_type": "free", "aliases": [], "choices": None,
         "checks": [{"id": "change_case:english_lowercase", "kwargs": {}},
                    {"id": "length_constraints:number_words", "kwargs": {"relation": "less than", "num_words": 6}}]}
INTEG = {"id": "g1", "capability": "integration", "answer": "Marfan syndrome", "answer_type": "free",
         "aliases": ["MFS"], "choices": None,
         "checks": [{"id": "balancedbio:sections", "kwargs": {"names": ["Differential", "Work-up", "Diagnosis", "Management"]}}]}
VIGNETTE = ("Differential: Marfan, Ehlers-Danlos\nWork-up: echocardiogram\nDiagnosis: Marfan syndrome\n"
            "Management: beta blockers")


def cols(*rows):
    return {"row": [json.dumps(r) for r in rows]}


def test_correctness_reward():
    comps = ["The answer is B.", "The answer is C.", "Thinking...\nAnswer: fibrillin 1", "hello", VIGNETTE]
    rows = [MCQ, MCQ, REASON, INSTR, INTEG]
    assert correctness_reward(["q"] * 5, comps, **cols(*rows)) == [1.0, 0.0, 1.0, None, 1.0]


def test_instruction_reward_fraction_and_none():
    out = instruction_reward(["q"] * 3, ["all lower case english here", "Too Many Words In This Reply Here", "x"],
                             **cols(INSTR, INSTR, MCQ))
    assert out == [1.0, 0.0, None]


def test_format_reward_and_capability_score():
    bad = "Diagnosis: Marfan syndrome"
    assert format_reward(["q"] * 3, [VIGNETTE, bad, "no final line"], **cols(INTEG, INTEG, REASON)) == [1.0, 0.0, 0.0]
    vals = capability_score_reward(["q"] * 2, [VIGNETTE, bad], **cols(INTEG, INTEG))
    assert vals[0] == pytest.approx(1.0) and vals[1] < vals[0]


def test_capability_score_counts_the_management_drugs():
    """The GRPO rule reward is the scorer's value: a Management drug the graph refutes costs 0.2."""
    row = dict(INTEG, checks=INTEG["checks"] + [{"id": "balancedbio:management", "kwargs": {
        "supported": [["losartan", "Cozaar"]], "refuted": [["imatinib"]]}}])
    right = VIGNETTE.replace("beta blockers", "losartan; referral to cardiology")
    wrong = VIGNETTE.replace("beta blockers", "imatinib; referral to cardiology")
    vals = capability_score_reward(["q"] * 3, [right, wrong, VIGNETTE], **cols(row, row, row))
    assert vals == pytest.approx([1.0, 0.8, 0.8])          # 0.3 format + 0.5 diagnosis (+ 0.2 management)
    assert instruction_reward(["q"] * 2, [right, wrong], **cols(row, row)) == [1.0, 0.5]


def test_conversational_completions_and_plain_columns():
    comps = [[{"role": "assistant", "content": "The answer is B."}]]
    plain = {k: [v] for k, v in MCQ.items()}
    assert correctness_reward(["q"], comps, **plain) == [1.0]


def test_reward_rows_go_through_the_row_contract():
    with pytest.raises(DataError, match=r"reward column 'row'\[0\]: key 'capability'"):
        correctness_reward(["q"], ["B"], **cols({k: v for k, v in MCQ.items() if k != "capability"}))
    bad = {**INSTR, "checks": [{"id": "lowercase", "kwargs": {}}]}
    with pytest.raises(DataError, match="unknown instruction id 'lowercase'"):
        instruction_reward(["q"], ["x"], **cols(bad))


def test_wrong_column_length_is_reported():
    with pytest.raises(ValueError, match="'row' has 2 entries for 1"):
        correctness_reward(["q"], ["B"], **cols(MCQ, MCQ))


def fake_checker(reports):
    return lambda text, graph: reports[text]


def test_fact_check_and_hallucination_rewards():
    reports = {
        "good": SimpleNamespace(supported=[1, 2, 3], refuted=[4], unlinkable=[], hallucinated_entities=[], claims=[1, 2, 3, 4]),
        "none": SimpleNamespace(supported=[], refuted=[], unlinkable=[9], hallucinated_entities=[], claims=[9]),
        "madeup": SimpleNamespace(supported=[], refuted=[], unlinkable=[], hallucinated_entities=["Zorblax gene"],
                                  claims=[1]),
    }
    fact = FactCheckReward(graph=object(), checker=fake_checker(reports))
    hall = HallucinationPenalty(graph=object(), checker=fake_checker(reports))
    assert fact(["q"] * 3, ["good", "none", "madeup"]) == [0.75, None, None]
    assert hall(["q"] * 3, ["good", "none", "madeup"]) == [0.0, 0.0, -0.5]
    assert fact.__name__ == "fact_check_reward" and hall.__name__ == "hallucination_penalty"


def test_fact_check_with_real_graph_if_available(tmp_path):
    facts = pytest.importorskip("balancedbio.scoring.facts")
    toy = pytest.importorskip("balancedbio.knowledge.toy")
    from balancedbio.knowledge.graph import KnowledgeGraph

    graph = KnowledgeGraph.open(toy.build_toy_graph(tmp_path / "kg"))
    fact = FactCheckReward(graph=graph)
    out = fact(["q"], ["Marfan syndrome is caused by mutations in FBN1."])
    assert out[0] is None or 0.0 <= out[0] <= 1.0
    assert callable(facts.check_claims)


def test_instruction_reward_speaks_the_evaluation_language():
    """An IFEval prompt as a training row: the GRPO reward is the evaluation's instruction-level strict score."""
    from balancedbio.eval.ifeval import IFSample, judge

    sample = IFSample("9", "Describe CF in under 12 words, no commas, ending with 'Any questions?'",
                      ("length_constraints:number_words", "punctuation:no_comma", "startend:end_checker"),
                      ({"relation": "less than", "num_words": 12}, {}, {"end_phrase": "Any questions?"}))
    row = {"id": "if9", "capability": "instruction", "answer": "", "checks": sample.checks,
           "messages": [{"role": "user", "content": sample.prompt}]}
    comps = ["Cystic fibrosis thickens mucus in lungs and gut. Any questions?",
             "Cystic fibrosis, a genetic disease, thickens mucus. Any questions?",
             "Sure! Cystic fibrosis is an inherited disorder that damages the lungs, pancreas and gut."]
    rewards = instruction_reward([sample.prompt] * 3, comps, **cols(row, row, row))
    for c, r in zip(comps, rewards, strict=True):
        strict = judge(sample, c)["strict"]
        assert r == pytest.approx(sum(strict) / len(strict))
    assert rewards[0] == 1.0 and rewards[1] == pytest.approx(2 / 3) and rewards[2] == 0.0
