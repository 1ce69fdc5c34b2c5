"""``balancedbio ifeval``: the help example runs as written; bad input is one line, exit 2."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from balancedbio.cli import main

REPO = Path(__file__).resolve().parents[2]
ROW = {"key": 3, "prompt": "Answer without commas.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_docs_command_reproduces_the_official_figures(monkeypatch, capsys, tmp_path):
    if not (REPO / "../shared/data/ifeval/input_data.jsonl").is_file():
        pytest.skip("shared IFEval data not present")
    line = next(ln for ln in (REPO / "docs/eval.md").read_text().splitlines() if ln.startswith("balancedbio ifeval "))
    monkeypatch.chdir(REPO)
    assert main(shlex.split(line)[1:] + ["--output", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out
    assert "prompt_level_strict_acc  0.7689  (416/541)" in out
    assert "inst_level_strict_acc    0.8357  (697/834)" in out
    saved = json.loads((tmp_path / "m.json").read_text())
    assert len(saved["per_prompt"]) == 541


@pytest.mark.parametrize("inp, resp, needle", [
    ([{"prompt": "x", "kwargs": []}], [], "in.jsonl:1: not an IFEval input row"),
    ([{**ROW, "instruction_id_list": ["keywords:shout"]}], [], "in.jsonl:1: checks[0]: unknown instruction id 'keywords:shout'"),
    ([ROW], [{"prompt": "other", "response": "ok"}], "resp.jsonl: no response to the prompt with key 3"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, inp, resp, needle):
    i = _write(tmp_path / "in.jsonl", inp)
    r = _write(tmp_path / "resp.jsonl", resp or [{"prompt": ROW["prompt"], "response": "ok"}])
    assert main(["ifeval", "--input-data", str(i), "--responses", str(r)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err


def test_hub_id_without_allow_download_is_exit_2(tmp_path, capsys):
    r = _write(tmp_path / "resp.jsonl", [{"prompt": ROW["prompt"], "response": "ok"}])
    assert main(["ifeval", "--input-data", "google/IFEval", "--responses", str(r)]) == 2
    assert "needs --allow-download" in capsys.readouterr().err


def test_a_superset_responses_file_scores_the_input_and_reports_the_ignored(tmp_path, capsys):
    i = _write(tmp_path / "in.jsonl", [ROW])
    r = _write(tmp_path / "resp.jsonl", [{"prompt": ROW["prompt"], "response": "ok"},
                                         {"prompt": "not asked", "response": "a, b"}])
    assert main(["ifeval", "--input-data", str(i), "--responses", str(r), "--output", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out
    assert "prompt_level_strict_acc  1.0000  (1/1)" in out and "ignored responses        1" in out
    assert json.loads((tmp_path / "m.json").read_text())["n_ignored_responses"] == 1
