"""experiments/balance_parallel.sh: the arms as concurrent processes on prepared data, one report, the same
results as balance.py run arm by arm, and a failed process named in the exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "experiments"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import balance  # noqa: E402
from test_balance import IFEVAL_ROWS, _args  # noqa: E402

SCRIPT = REPO / "experiments" / "balance_parallel.sh"
GRPO = ("grpo={steps: 1, prompts_per_step: 2, num_generations: 2, max_new_tokens: 4, save_steps: 0, "
        "rewards: {model_reward: none}, report_to: [none]}")


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)


@pytest.mark.slow
def test_parallel_arms_on_prepared_data(tmp_path, tiny_model_dir):
    ifeval = tmp_path / "input_data.jsonl"
    ifeval.write_text("".join(json.dumps(r) + "\n" for r in IFEVAL_ROWS))
    args = [*_args(tmp_path, tiny_model_dir, ifeval), "measures=[mmlu,knowledge]", "arms=[base,nll,bft,bft_grpo]",
            GRPO]
    config = tmp_path / "balance.yaml"
    config.write_text("name: smoke\n")
    assert balance.main(["--config", str(config), "--prepare-only", *args]) == 0
    done = _run(str(config), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    run = tmp_path / "smoke"
    logs = sorted(p.name for p in (run / "logs").glob("*.log"))
    assert logs == ["base.log", "bft-s0-train.log", "bft-s0.log", "bft_grpo-s0.log", "nll-s0.log"]
    report = json.loads((run / "balance.json").read_text())
    assert report["partial"] is False and set(report["results"]) == {"base", "nll", "bft", "bft_grpo"}
    assert report["results"]["bft_grpo"]["mmlu_medical"]["n"] == 6

    # the same pieces, one process after the other, give the same numbers
    serial = tmp_path / "serial"
    serial.mkdir()
    sargs = [a.replace(str(tmp_path), str(serial)) if a.startswith("output_root=") else a for a in args]
    assert balance.main(["--config", str(config), "--output", str(serial / "b.json"), *sargs]) == 0
    mine = {a: {k: v for k, v in e.items() if k != "training"} for a, e in report["results"].items()}
    theirs = {a: {k: v for k, v in e.items() if k != "training"}
              for a, e in json.loads((serial / "b.json").read_text())["results"].items()}
    assert mine == theirs

    # a process that fails is named, and the exit status says so
    bad = _run(str(config), *args, "arms=[base,dft]", "sft.train.max_length=2")
    assert bad.returncode == 1 and "dft-s0" in bad.stdout + bad.stderr


def test_bad_config_exits_2(tmp_path):
    config = tmp_path / "balance.yaml"
    config.write_text("name: x\nseeds: oops\n")
    done = _run(str(config))
    assert done.returncode == 2 and "seeds" in done.stderr
