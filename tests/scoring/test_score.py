import pytest

from balancedbio.errors import DataError
from balancedbio.scoring import score

SECTIONS = {"id": "balancedbio:sections", "kwargs": {"names": ["Differential", "Work-up", "Diagnosis", "Management"]}}


def mcq(cap="expertise", answer="B"):
    return {"id": "q1", "capability": cap, "answer": answer, "aliases": [], "answer_type": "mcq",
            "choices": {"A": "Ehlers-Danlos syndrome", "B": "Marfan syndrome", "C": "Homocystinuria",
                        "D": "Stickler syndrome"}, "checks": []}


def test_expertise_mcq():
    assert score(mcq(), "The answer is B.").value == 1.0
    r = score(mcq(), "Answer: C")
    assert (r.value, r.correct, r.format_ok, r.details["pred"]) == (0.0, 0.0, 1.0, "C")
    # option named by its text only
    assert score(mcq(), "I think it's Marfan syndrome").value == 1.0
    r = score(mcq(), "no idea")
    assert (r.value, r.format_ok) == (0.0, 0.0)
    assert score(mcq(), None).value == 0.0


def test_expertise_short_answer():
    row = {"id": "s", "capability": "expertise", "answer": "FBN1", "aliases": ["fibrillin 1"],
           "answer_type": "short", "choices": None, "checks": []}
    assert score(row, "FBN1").value == 1.0
    assert score(row, "Answer: fibrillin-1").value == 1.0
    assert score(row, "TGFBR2").value == 0.0


def test_reasoning_needs_answer_line():
    row = {"id": "r", "capability": "reasoning", "answer": "Marfan syndrome", "aliases": ["MFS"],
           "answer_type": "short", "choices": None, "checks": []}
    good = "FBN1 encodes fibrillin.\nFibrillin defects cause Marfan syndrome.\nAnswer: MFS"
    r = score(row, good)
    assert (r.value, r.correct, r.format_ok) == (1.0, 1.0, 1.0)
    r = score(row, "It is Marfan syndrome.")  # right words, no Answer: line
    assert (r.value, r.format_ok) == (0.0, 0.0)
    r = score(row, "Answer: Loeys-Dietz syndrome")
    assert (r.value, r.format_ok) == (0.0, 1.0)
    assert score(mcq("reasoning"), "think...\nAnswer: B").value == 1.0
    assert score(mcq("reasoning"), "think...\nAnswer: A").value == 0.0


def test_instruction_strict_and_loose():
    row = {"id": "i", "capability": "instruction", "answer": "", "aliases": [], "answer_type": "free",
           "choices": None, "checks": [{"id": "change_case:english_lowercase", "kwargs": {}},
                                       {"id": "detectable_format:number_bullet_lists", "kwargs": {"num_bullets": 2}},
                                       {"id": "punctuation:no_comma", "kwargs": {}}]}
    r = score(row, "Sure:\n- the first item\n- the second item in english")
    assert r.instructions == [False, True, True]
    assert r.value == pytest.approx(2 / 3)
    assert r.correct == 0.0
    assert r.details["loose"] == [True, True, True]
    assert r.details["prompt_loose"] and not r.details["prompt_strict"]
    assert score(row, "").value == 0.0


def integ():
    return {"id": "v", "capability": "integration", "answer": "Cystic fibrosis", "aliases": ["CF"],
            "answer_type": "free", "choices": None, "checks": [SECTIONS]}


def test_integration():
    good = ("Differential: asthma, CF\nWork-up: sweat chloride test\nDiagnosis: Cystic fibrosis\n"
            "Management: airway clearance")
    r = score(integ(), good)
    assert (r.value, r.correct, r.format_ok, r.instructions) == (1.0, 1.0, 1.0, [True])
    wrong = good.replace("Diagnosis: Cystic fibrosis", "Diagnosis: asthma")
    r = score(integ(), wrong)
    assert (r.correct, r.format_ok) == (0.0, 1.0) and r.value == pytest.approx(0.3)
    # right diagnosis but in the wrong place / no sections
    r = score(integ(), "Cystic fibrosis is likely.")
    assert (r.value, r.format_ok, r.instructions) == (0.0, 0.0, [False])


def test_bad_rows():
    with pytest.raises(DataError, match="unknown capability"):
        score({"id": "x", "capability": "poetry"}, "hi")
    with pytest.raises(DataError, match="answer key 'E'"):
        score(mcq(answer="E"), "Answer: A")
