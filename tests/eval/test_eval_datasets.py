from pathlib import Path

import pytest

from balancedbio.errors import DataError
from balancedbio.eval.datasets import (
    load_hub,
    load_mcq_file,
    load_medmcqa,
    load_medqa,
    load_mmlu,
    load_pubmedqa,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "eval"


def test_mmlu_loader_skips_and_counts_bad_rows():
    ds = load_mmlu(FIX / "mmlu", "test", ["anatomy", "medical_genetics"])
    assert [it.answer for it in ds.items] == ["B", "D", "C", "A", "B"]
    assert ds.items[1].question.startswith("Which chamber of the heart pumps blood to the aorta, the main")
    assert ds.items[0].choices == {"A": "Humerus", "B": "Femur", "C": "Tibia", "D": "Fibula"}
    assert ds.subjects == ["anatomy", "medical_genetics"]
    assert len(ds.skipped) == 2
    assert "anatomy_test.csv:3: expected 6 columns" in ds.skipped[0]
    assert "anatomy_test.csv:4: answer key 'E' is not one of A, B, C, D" in ds.skipped[1]


def test_mmlu_strict_stops_at_first_bad_row():
    with pytest.raises(DataError, match=r"anatomy_test.csv:3: expected 6 columns.*strict"):
        load_mmlu(FIX / "mmlu", "test", ["anatomy"], strict=True)


def test_mmlu_missing_files_are_clear():
    with pytest.raises(DataError, match="college_medicine_test.csv: data file not found"):
        load_mmlu(FIX / "mmlu", "test", ["anatomy", "college_medicine"])
    with pytest.raises(DataError, match="split directory not found"):
        load_mmlu(FIX / "mmlu", "val")


def test_real_mmlu_medical_counts(mmlu_dir):
    ds = load_mmlu(mmlu_dir, "test")
    assert len(ds.items) == 1099 and not ds.skipped
    assert len(ds.subjects) == 6
    dev = load_mmlu(mmlu_dir, "dev")
    assert all(len(v) == 5 for v in dev.by_subject().values())


def test_pubmedqa():
    ds = load_pubmedqa(FIX / "ori_pqal.json")
    assert [it.answer for it in ds.items] == ["A", "B", "C"]
    assert ds.items[0].choices == {"A": "yes", "B": "no", "C": "maybe"}
    assert ds.items[0].question == ("Do mitochondria play a role in remodelling lace plant leaves during "
                                    "programmed cell death?")
    assert ds.items[0].context == ("Programmed cell death (PCD) is the regulated death of cells within an organism."
                                   "\nThe lace plant produces perforations in its leaves through PCD.")
    assert len(ds.skipped) == 1 and "entry 99999999" in ds.skipped[0] and "perhaps" in ds.skipped[0]


def test_medmcqa_one_based_keys_and_bad_rows():
    ds = load_medmcqa(FIX / "medmcqa.jsonl")
    assert [(it.answer, it.subject) for it in ds.items] == [("C", "Biochemistry"), ("A", "Medicine")]
    reasons = "\n".join(ds.skipped)
    assert len(ds.skipped) == 4
    assert "medmcqa.jsonl:3: invalid JSON" in reasons
    assert "medmcqa.jsonl:4: no answer key" in reasons
    assert "medmcqa.jsonl:5: answer key cop=7 is outside 1-4" in reasons
    assert "medmcqa.jsonl:6: missing or non-text fields ['opd']" in reasons


def test_medmcqa_zero_based_file(tmp_path):
    p = tmp_path / "hf.jsonl"
    p.write_text('{"question": "q1", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 0}\n'
                 '{"question": "q2", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 3}\n')
    assert [it.answer for it in load_medmcqa(p).items] == ["A", "D"]


def test_medqa_four_and_five_options():
    ds = load_medqa(FIX / "medqa.jsonl")
    assert [it.answer for it in ds.items] == ["B", "B"]
    assert list(ds.items[1].choices) == ["A", "B", "C", "D", "E"]
    assert len(ds.skipped) == 1 and "medqa.jsonl:3: answer key 'F'" in ds.skipped[0]
    with pytest.raises(DataError, match="medqa.jsonl:3"):
        load_medqa(FIX / "medqa.jsonl", strict=True)


def test_load_mcq_file_dispatch():
    assert len(load_mcq_file("medqa", FIX / "medqa.jsonl").items) == 2
    with pytest.raises(DataError, match="unknown MCQ dataset format"):
        load_mcq_file("mmlu-pro", FIX / "medqa.jsonl")
    with pytest.raises(DataError, match="data file not found"):
        load_mcq_file("pubmedqa", FIX / "missing.json")


def test_medqa_hugging_face_copy(tmp_path):
    p = tmp_path / "medqa_hf.jsonl"
    p.write_text('{"id": "q1", "sent1": "Q?", "ending0": "a", "ending1": "b", "ending2": "c", "ending3": "d", '
                 '"label": 2}\n{"sent1": "Q2?", "ending0": "a", "ending1": "b", "ending2": "c", "ending3": "d", '
                 '"label": 9}\n')
    ds = load_medqa(p)
    assert [(it.id, it.answer, it.prompt_format) for it in ds.items] == [("medqa/q1", "C", "medqa")]
    assert "medqa_hf.jsonl:2: label 9 is not 0-3" in ds.skipped[0]


@pytest.mark.parametrize("kind,payload,expected", [
    ("medqa", '{"prompt": "x", "choices": ["a"]}\n', r"bad.jsonl: no usable MedQA question .*bad.jsonl:1: missing 'question'"),
    ("medmcqa", "not json\n", r"bad.jsonl: no usable MedMCQA question .*bad.jsonl:1: invalid JSON"),
    ("pubmedqa", '[{"QUESTION": "q"}]', r"bad.jsonl: expected an object mapping PubMed ids"),
    ("pubmedqa", '{"1": {"question": "q"}}', r"bad.jsonl: no usable PubMedQA question .*entry 1: missing QUESTION"),
])
def test_file_in_the_wrong_format_is_one_clear_error(tmp_path, kind, payload, expected):
    p = tmp_path / "bad.jsonl"
    p.write_text(payload)
    with pytest.raises(DataError, match=expected):
        load_mcq_file(kind, p)


def test_mmlu_file_in_the_wrong_format(tmp_path):
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "anatomy_test.csv").write_text('{"question": "q"}\n')
    with pytest.raises(DataError, match=r"anatomy_test.csv: no usable MMLU question .*anatomy_test.csv:1: expected 6"):
        load_mmlu(tmp_path, "test", ["anatomy"])


@pytest.mark.parametrize("kind,hub_id", [("mmlu", "cais/mmlu"), ("medqa", "GBaker/MedQA-USMLE-4-options-hf"),
                                         ("medmcqa", "openlifescienceai/medmcqa"), ("pubmedqa", "bigbio/pubmed_qa")])
def test_hub_id_needs_allow_download(kind, hub_id, monkeypatch):
    import balancedbio.eval.datasets as ds

    monkeypatch.setattr(ds, "_hub_rows", lambda *a: pytest.fail("nothing may be fetched"))
    with pytest.raises(DataError, match=rf"^{hub_id}: reading the hub dataset needs --allow-download"):
        load_hub(kind)


def test_hub_rows_are_parsed_like_files(monkeypatch):
    import balancedbio.eval.datasets as ds

    rows = {"GBaker/MedQA-USMLE-4-options-hf": [{"id": "7", "sent1": "Q?", "ending0": "a", "ending1": "b",
                                                 "ending2": "c", "ending3": "d", "label": 1}],
            "openlifescienceai/medmcqa": [{"id": "m", "question": "Q?", "opa": "a", "opb": "b", "opc": "c",
                                           "opd": "d", "cop": 1, "subject_name": "Anatomy"}],
            "cais/mmlu": [{"question": "Q?", "subject": "anatomy", "choices": ["a", "b", "c", "d"], "answer": 3}]}
    monkeypatch.setattr(ds, "_hub_rows", lambda hub_id, config, split: rows[hub_id])
    assert [it.answer for it in load_hub("medqa", allow_download=True).items] == ["B"]
    assert [it.answer for it in load_hub("medmcqa", allow_download=True).items] == ["B"]  # hub cop is 0-based
    mmlu = load_hub("mmlu", allow_download=True, subjects=["anatomy"])
    assert [(it.subject, it.answer, it.choices["D"]) for it in mmlu.items] == [("anatomy", "D", "d")]
