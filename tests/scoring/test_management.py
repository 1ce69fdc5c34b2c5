"""The Management section's drug check and its share of the integration score."""

from __future__ import annotations

import pytest

from balancedbio.scoring import instruction_results, score
from balancedbio.scoring.management import management_score, recommended_drugs

KW = {"supported": [["penicillamine", "Cuprimine"], ["trientine"]], "refuted": [["aspirin"], ["warfarin", "Coumadin"]]}


def _answer(management: str, diagnosis: str = "Wilson disease") -> str:
    return (f"Differential: Wilson disease; hemochromatosis.\nWork-up: genetic testing for ATP7B.\n"
            f"Diagnosis: {diagnosis}.\nManagement: {management}")


@pytest.mark.parametrize("text,expected", [
    ("start penicillamine; referral to hepatology.", 1.0),
    ("Cuprimine or trientine.", 1.0),                                    # a synonym counts
    ("penicillamine; warfarin for prophylaxis.", 0.5),                    # one supported, one refuted
    ("Coumadin.", 0.0),                                                   # only a refuted drug
    ("referral to hepatology.", 0.0),                                     # no drug the graph supports
    ("penicillamine; avoid aspirin (contraindicated).", 1.0),             # a warning is not a recommendation
    ("zinc acetate.", 0.0),                                               # a drug the graph does not know: not judged
])
def test_management_score(text, expected):
    assert management_score(_answer(text), KW) == pytest.approx(expected)


def test_nothing_supported_only_penalises_refuted_drugs():
    kw = {"supported": [], "refuted": [["aspirin"]]}
    assert management_score(_answer("no drug in the knowledge graph is indicated."), kw) == 1.0
    assert management_score(_answer("aspirin daily."), kw) == 0.0
    assert management_score("Diagnosis: x", kw) == 0.0                   # no Management section at all


def test_recommended_drugs_skip_avoidance_clauses():
    drugs = KW["supported"] + KW["refuted"]
    assert recommended_drugs("trientine; do not give warfarin. Interaction with aspirin", drugs) == {1}


def _row(checks):
    return {"id": "v", "capability": "integration", "answer": "Wilson disease", "aliases": [],
            "messages": [{"role": "user", "content": "case"}],
            "checks": [{"id": "balancedbio:sections", "kwargs": {"names": ["Differential", "Work-up", "Diagnosis",
                                                                          "Management"]}}] + checks}


def test_integration_counts_management():
    row = _row([{"id": "balancedbio:management", "kwargs": KW}])
    right = score(row, _answer("penicillamine; referral to hepatology."))
    assert right.value == pytest.approx(1.0) and right.details["management"] == 1.0
    wrong = score(row, _answer("warfarin; referral to hepatology."))
    assert wrong.value == pytest.approx(0.8) and wrong.correct == 1.0     # 0.3 format + 0.5 diagnosis
    assert score(row, _answer("penicillamine.", "Hemochromatosis")).value == pytest.approx(0.5)
    assert right.instructions == [True, True] and wrong.instructions == [True, False]


def test_rows_without_a_management_check_keep_format_and_diagnosis_only():
    row = _row([])
    assert score(row, _answer("warfarin.")).value == pytest.approx(1.0)
    assert score(row, _answer("warfarin.", "Hemochromatosis")).value == pytest.approx(0.3)
    assert "management" not in score(row, _answer("x")).details


def test_management_check_is_a_verifiable_instruction():
    checks = [{"id": "balancedbio:management", "kwargs": KW}]
    assert instruction_results(_answer("trientine."), checks)[0][0] is True
    assert instruction_results(_answer("aspirin."), checks)[0][0] is False
