"""``--dry-run`` stops after the checks the real run makes first: bad input is exit 2 with one line,
good input prints a plan and exit 0, and nothing is written either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancedbio.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture
def place(tmp_path, monkeypatch, toy_graph):
    graph = Path(toy_graph.path).resolve()
    monkeypatch.setenv("BALANCEDBIO_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "kg").symlink_to(graph if graph.is_dir() else graph.parent)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "texts.jsonl").write_text('{"id": "a", "text": "TP53"}\n')
    (tmp_path / "binary.jsonl").write_bytes(b"\x00\xff\xfe")
    (tmp_path / "chat.jsonl").write_text('{"messages": [{"role": "user", "content": "q"}, '
                                         '{"role": "assistant", "content": "a"}]}\n')
    return tmp_path


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if "home" not in p.parts}


@pytest.mark.parametrize("argv,fragment", [
    (["train", "--config", str(CONFIGS / "bft.yaml"), "--data", "missing.jsonl", "--output", "out"], "file not found"),
    (["train", "--config", str(CONFIGS / "bft.yaml"), "--data", "binary.jsonl", "--output", "out"], "binary.jsonl"),
    (["train", "--config", str(CONFIGS / "bft.yaml"), "--data", "chat.jsonl", "--output", "afile/x"], "afile"),
    (["train", "--method", "grpo", "--config", str(CONFIGS / "grpo.yaml"), "--data", "missing.jsonl"], "not found"),
    (["eval", "--model", "nope-model", "--output", "out"], "nope-model"),
    (["eval", "--output", "afile"], "afile"),
    (["embed", "--input", "texts.jsonl", "--output", "afile/e.parquet"], "afile"),
    (["embed-bench", "--models", "base,x=missing-dir/final", "--output", "out"], "missing-dir"),
    (["synth", "--output", "afile", "-n", "10"], "afile"),
    (["run", str(CONFIGS / "quickstart.yaml"), "--output", "afile/run"], "afile"),
    (["export", "--model", "missing-dir", "--output", "merged"], "missing-dir"),
    (["export", "--model", "default", "--output", "afile/merged"], "afile"),
])
def test_dry_run_rejects_bad_input_with_one_line_and_writes_nothing(place, capsys, argv, fragment):
    before = _files(place)
    assert main([*argv, "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err, err
    assert _files(place) == before


def test_dry_run_plans_and_writes_nothing(place, capsys):
    before = _files(place)
    assert main(["embed", "--input", "texts.jsonl", "--output", "e.parquet", "--dry-run"]) == 0
    assert main(["synth", "-n", "10", "--output", "data", "--dry-run"]) == 0
    assert main(["kg", "build", "--dest", "kg2", "--dry-run"]) == 0
    assert main(["train", "--config", str(CONFIGS / "bft.yaml"), "--data", "chat.jsonl", "--output", "o",
                 "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("nothing loaded, nothing written") == 4 and "10 rows" in out
    assert _files(place) == before
