import pytest

from balancedbio.errors import DataError
from balancedbio.rows import CAPABILITIES, ROW_KEYS, Check, Row

USER = [{"role": "user", "content": "Which gene?"}]


def test_capabilities_declared_once():
    import importlib

    render, score, weighting = (importlib.import_module(f"balancedbio.{m}")
                                for m in ("eval.render", "scoring.score", "train.weighting"))

    assert CAPABILITIES == ("expertise", "reasoning", "instruction", "integration")
    assert score.CAPABILITIES is CAPABILITIES and weighting.CAPABILITIES is CAPABILITIES
    assert render.CAPABILITY_AXES is CAPABILITIES
    from balancedbio.eval.suite import TASKS
    from balancedbio.synth.generate import SynthConfig

    assert TASKS[:4] == CAPABILITIES and tuple(SynthConfig().mix) == CAPABILITIES


def test_parse_round_trip_keeps_key_order_and_values():
    obj = {"id": "r1", "capability": "expertise",
           "messages": USER + [{"role": "assistant", "content": "Answer: B"}],
           "answer": "b", "aliases": [], "choices": {"A": "x", "B": "y", "C": "z", "D": "w"},
           "answer_type": "mcq", "checks": [], "facts": [], "split": "test", "provenance": {"seed": 0}}
    row = Row.parse(obj, "f.jsonl:1")
    assert row.answer == "B"  # letters normalised
    assert row.prompt == USER and row.reference == "Answer: B"
    out = row.to_dict()
    assert tuple(out) == ROW_KEYS
    assert out == {**obj, "answer": "B"}


def test_parse_defaults_answer_type_and_checks():
    row = Row.parse({"capability": "instruction", "messages": USER,
                     "checks": [{"id": "change_case:english_lowercase"}]}, "x:1")
    assert row.answer_type == "free" and row.checks == (Check("change_case:english_lowercase", {}),)
    assert Row.parse({"capability": "reasoning", "messages": USER, "answer": "CFTR"}, "x:2").answer_type == "short"


@pytest.mark.parametrize("obj, key", [
    ([1, 2], None),
    ({"messages": USER, "answer": "a"}, "capability"),               # no silent default capability
    ({"capability": "skill", "messages": USER, "answer": "a"}, "capability"),
    ({"capability": "expertise", "messages": [], "answer": "a"}, "messages"),
    ({"capability": "expertise", "messages": [{"role": "bot", "content": "x"}], "answer": "a"}, "messages[0]"),
    ({"capability": "expertise", "messages": [{"role": "assistant", "content": "x"}], "answer": "a"}, "messages[0]"),
    ({"capability": "expertise", "messages": USER, "answer": ""}, "answer"),
    ({"capability": "expertise", "messages": USER, "answer": "E", "choices": {"A": "x", "B": "y"}}, "answer"),
    ({"capability": "expertise", "messages": USER, "answer": "a", "answer_type": "essay"}, "answer_type"),
    ({"capability": "instruction", "messages": USER}, "checks"),
    ({"capability": "instruction", "messages": USER, "checks": [{"kwargs": {}}]}, "checks[0]"),
    ({"capability": "instruction", "messages": USER, "checks": [{"id": "x", "args": {}}]}, "checks[0]"),
    ({"capability": "instruction", "messages": USER, "checks": [{"id": "x", "kwargs": [1]}]}, "checks[0]"),
    ({"capability": "expertise", "messages": USER, "answer": "a", "facts": [{"subject": "s"}]}, "facts"),
    ({"capability": "expertise", "messages": USER, "answer": "a", "aliases": "CF"}, "aliases"),
])
def test_parse_errors_name_where_and_key(obj, key):
    with pytest.raises(DataError) as err:
        Row.parse(obj, "data/train.jsonl:7")
    msg = str(err.value)
    assert msg.startswith("data/train.jsonl:7: ") and "\n" not in msg
    if key:
        assert f"key {key!r}" in msg


def test_parse_rejects_an_unknown_instruction_id_or_keyword_naming_file_line_and_id():
    base = {"capability": "instruction", "messages": USER}
    with pytest.raises(DataError, match=r"^t\.jsonl:4: checks\[0\]: unknown instruction id 'lowercase'"):
        Row.parse({**base, "checks": [{"id": "lowercase"}]}, "t.jsonl:4")
    with pytest.raises(DataError, match=r"^t\.jsonl:5: checks\[0\] \(length_constraints:number_words\): unknown kwargs"):
        Row.parse({**base, "checks": [{"id": "length_constraints:number_words", "kwargs": {"max": 3}}]}, "t.jsonl:5")


def test_the_documented_example_rows_parse_round_trip_and_score_full_marks():
    import json
    import re
    from pathlib import Path

    from balancedbio.scoring import score

    doc = (Path(__file__).resolve().parents[1] / "docs" / "data_format.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", doc.split("## Example row")[1], re.S)
    assert len(blocks) == 2
    for block in blocks:
        obj = json.loads(block)
        row = Row.parse(obj, "docs/data_format.md")
        assert row.to_dict() == obj
        assert score(obj, row.reference).value == 1.0, obj["id"]
