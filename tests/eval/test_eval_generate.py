import json
from pathlib import Path

import pytest

from balancedbio.eval.datasets import load_synth_rows
from balancedbio.eval.generate import GenerationConfig, generate_batch, prompt_messages
from balancedbio.scoring import score

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "eval"


def test_synth_loader_skips_bad_rows_with_file_and_line():
    rows, skipped = load_synth_rows(FIX / "synth_test.jsonl")
    assert [r["id"] for r in rows] == ["t1", "t2", "t3", "t4", "t5", "t6", "t7"]
    assert len(skipped) == 2
    assert "synth_test.jsonl:5: invalid JSON" in skipped[0]
    assert "synth_test.jsonl:6: key 'capability' must be one of" in skipped[1]


def test_synth_loader_bad_checks_and_answer_key(tmp_path):
    rows, _ = load_synth_rows(FIX / "synth_test.jsonl")
    bad_check = dict(rows[2], checks=[{"id": "shout", "kwargs": {}}])
    bad_key = dict(rows[0], answer_type="mcq", answer="F", choices={"A": "a", "B": "b", "C": "c", "D": "d"})
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(bad_check) + "\n" + json.dumps(bad_key) + "\n")
    _, skipped = load_synth_rows(p)
    assert "t.jsonl:1: checks[0]: unknown instruction id 'shout'" in skipped[0]
    assert "t.jsonl:2: key 'answer' 'F' is not one of the choice letters A, B, C, D" in skipped[1]


def test_gold_completions_score_full_marks():
    """The fixture's own assistant turns are correct answers: the scorer must give them 1.0."""
    rows, _ = load_synth_rows(FIX / "synth_test.jsonl")
    for row in rows:
        gold = row["messages"][-1]["content"]
        assert score(row, gold).value == 1.0, row["id"]


def test_prompt_messages_stop_before_assistant():
    rows, _ = load_synth_rows(FIX / "synth_test.jsonl")
    assert prompt_messages(rows[0]) == [rows[0]["messages"][0]]


def test_batched_generation_equals_one_by_one(tiny_model_dir):
    from balancedbio.models import load_model

    model, tok = load_model(tiny_model_dir, dtype="float32")
    rows, _ = load_synth_rows(FIX / "synth_test.jsonl")
    convs = [prompt_messages(r) for r in rows[:4]]
    cfg = GenerationConfig(max_new_tokens=6, batch_size=4)
    batched = generate_batch(model, tok, convs, cfg, progress=False)
    single = [generate_batch(model, tok, [c], GenerationConfig(max_new_tokens=6, batch_size=1), progress=False)[0]
              for c in convs]
    assert len(batched) == 4 and all(isinstance(t, str) for t in batched)
    assert batched == single


@pytest.mark.parametrize("bad", [{"max_new_tokens": 0}, {"top_p": 2.0}])
def test_generation_config_validated(bad):
    from balancedbio.config import from_dict
    from balancedbio.errors import ConfigError

    with pytest.raises(ConfigError):
        from_dict(GenerationConfig, bad)
