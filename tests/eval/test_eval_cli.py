import json
import subprocess
import sys
from pathlib import Path

from balancedbio.cli import main

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "eval"


def test_eval_cli_writes_report(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "ev"
    rc = main(["eval", "--model", str(tiny_model_dir), "--output", str(out), "--medqa", str(FIX / "medqa.jsonl"),
               f"mmlu_dir={FIX / 'mmlu'}", "mmlu_subjects=[anatomy]", "mcq.shots=[0]",
               "tasks=[expertise]", "progress=false", "bootstrap=20"])
    assert rc == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["models"]["model"]["benchmarks"]["medqa_0shot"]["n"] == 2
    assert (out / "predictions.model.medqa_0shot.jsonl").is_file()
    printed = capsys.readouterr().out
    assert "expertise" in printed and "medqa (0-shot)" in printed


def test_eval_cli_bad_input_is_one_line(tmp_path, tiny_model_dir, capsys):
    proc = subprocess.run([sys.executable, "-m", "balancedbio", "eval", "--model", str(tiny_model_dir),
                           "--output", str(tmp_path / "x"), "--strict", f"mmlu_dir={FIX / 'mmlu'}",
                           "mmlu_subjects=[anatomy]", "tasks=[expertise]"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "anatomy_test.csv:3: expected 6 columns" in err[0]
    assert main(["eval", "--model", str(tiny_model_dir), "--output", str(tmp_path / "y"), "mcq.shots=[0]",
                 "mmlu_dir=/nonexistent"]) == 2
    assert "/nonexistent/test: MMLU split directory not found" in capsys.readouterr().err


def test_eval_cli_hub_id_and_wrong_format_are_one_line(tmp_path, tiny_model_dir, capsys):
    args = ["eval", "--model", str(tiny_model_dir), "tasks=[expertise]", "mcq.shots=[0]",
            f"mmlu_dir={FIX / 'mmlu'}", "mmlu_subjects=[medical_genetics]"]
    assert main(args + ["--output", str(tmp_path / "h"), "--benchmark", "medmcqa=hub"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "openlifescienceai/medmcqa: reading the hub dataset needs --allow-download" in err[0]
    wrong = tmp_path / "medqa.csv"
    wrong.write_text("question,A,B,C,D,answer\nQ?,a,b,c,d,A\n")
    assert main(args + ["--output", str(tmp_path / "w"), "--medqa", str(wrong)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{wrong}: no usable MedQA question" in err[0] and "medqa.csv:1: invalid JSON" in err[0]
    assert not (tmp_path / "h").exists() and not (tmp_path / "w").exists()
