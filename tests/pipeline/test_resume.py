"""Kill the pipeline with SIGKILL in the middle of training, start it again, and check the final
weights equal those of an uninterrupted run (CPU, fixed seed, tiny model)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

pytestmark = pytest.mark.slow


def _recipe(tmp_path: Path, model_dir: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"""
name: {name}
output_root: {tmp_path / 'runs'}
seed: 7
model: {model_dir}
stages: [kg, synth, bft]
kg:
  toy: true
synth:
  num_examples: 48
bft:
  model:
    use_lora: false
  train:
    method: bft
    group_size: 16
    max_steps: 8
    batch_size: 2
    max_length: 192
    save_steps: 1
    save_total_limit: null
    logging_steps: 1
    gradient_checkpointing: false
    report_to: []
    lr: 1.0e-3
""")
    return path


def _weights(final: Path) -> dict[str, torch.Tensor]:
    files = sorted(final.glob("*.safetensors"))
    assert files, f"no weights in {final}"
    out: dict[str, torch.Tensor] = {}
    for f in files:
        out.update(load_file(str(f)))
    return out


def _run_and_kill(recipe: Path, run_dir: Path, stage: str, at_step: int) -> None:
    """Start ``balancedbio run RECIPE`` (one thread) and SIGKILL it once ``stage`` holds checkpoint-N, N >= at_step."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "balancedbio", "run", str(recipe)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    killed = False
    while time.time() < deadline and proc.poll() is None:
        ckpts = list((run_dir / "stages" / stage).glob("checkpoint-*"))
        if any(int(c.name.split("-")[1]) >= at_step for c in ckpts if c.name.split("-")[1].isdigit()):
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.02)
    proc.wait(timeout=30)
    assert killed, f"training finished or failed before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    assert not (run_dir / "stages" / stage / "manifest.json").exists()


def test_sigkill_during_training_then_resume_matches_uninterrupted(tmp_path, tiny_model_dir):
    from balancedbio.pipeline import load_pipeline_config, run_pipeline

    ref_cfg, lines = load_pipeline_config(_recipe(tmp_path, tiny_model_dir, "straight"))
    run_pipeline(ref_cfg, lines=lines, echo=lambda m: None)
    reference = _weights(ref_cfg.run_dir / "stages/bft/final")

    recipe = _recipe(tmp_path, tiny_model_dir, "killed")
    run_dir = tmp_path / "runs" / "killed"
    _run_and_kill(recipe, run_dir, "bft", 3)
    assert (run_dir / "stages/synth/manifest.json").exists()

    cfg, lines = load_pipeline_config(recipe)
    manifests = run_pipeline(cfg, lines=lines, echo=lambda m: None)
    assert "bft" in manifests
    resumed = _weights(run_dir / "stages/bft/final")
    assert reference.keys() == resumed.keys()
    for key in reference:
        torch.testing.assert_close(resumed[key], reference[key], rtol=0, atol=1e-6, msg=key)
    initial = _weights(tiny_model_dir)
    assert any(not torch.equal(initial[k], reference[k]) for k in reference if k in initial)


def _grpo_recipe(tmp_path: Path, model_dir: Path, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"""
name: {name}
output_root: {tmp_path / 'runs'}
seed: 7
model: {model_dir}
stages: [kg, synth, grpo]
kg:
  toy: true
synth:
  num_examples: 48
grpo:
  model:
    use_lora: false
  steps: 8
  prompts_per_step: 8
  num_generations: 2
  max_new_tokens: 8
  lr: 1.0e-3
  surgery: pcgrad
  rewards:
    model_reward: none
  save_steps: 1
  logging_steps: 1
  report_to: []
""")
    return path


@pytest.fixture
def one_thread():
    """Run in-process work on one thread, as the killed subprocess does (OMP_NUM_THREADS=1): bit-for-bit
    comparisons then do not depend on how many threads split a reduction."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_sigkill_during_grpo_then_resume_matches_uninterrupted(tmp_path, tiny_model_dir, one_thread):
    """The GRPO stage killed in its second epoch (about 40 training prompts, 8 per step) and run again ends with
    the uninterrupted run's weights and logs the same rewards: sampled completions, and the prompt sampler's
    order of an epoch the resumed run starts in."""
    import json

    from balancedbio.pipeline import load_pipeline_config, run_pipeline

    ref_cfg, lines = load_pipeline_config(_grpo_recipe(tmp_path, tiny_model_dir, "straight"))
    run_pipeline(ref_cfg, lines=lines, echo=lambda m: None)
    reference = _weights(ref_cfg.run_dir / "stages/grpo/final")

    recipe = _grpo_recipe(tmp_path, tiny_model_dir, "killed")
    run_dir = tmp_path / "runs" / "killed"
    _run_and_kill(recipe, run_dir, "grpo", 6)
    state = json.loads((ref_cfg.run_dir / "stages/grpo/checkpoint-6/trainer_state.json").read_text())
    assert state["epoch"] > 1.0                        # the kill came after the first epoch boundary

    cfg, lines = load_pipeline_config(recipe)
    manifests = run_pipeline(cfg, lines=lines, echo=lambda m: None)
    assert manifests["grpo"]["started"] == "resume"
    reference_summary = json.loads((ref_cfg.run_dir / "stages/grpo/manifest.json").read_text())["summary"]
    assert manifests["grpo"]["summary"] == reference_summary    # training_loss too: the whole run's mean
    resumed = _weights(run_dir / "stages/grpo/final")
    assert reference.keys() == resumed.keys()
    assert all(torch.equal(resumed[key], reference[key]) for key in reference)   # bit for bit

    def rewards(run: Path) -> list[float]:
        state = json.loads((run / "stages/grpo/checkpoint-8/trainer_state.json").read_text())
        return [h["reward"] for h in state["log_history"] if "reward" in h]

    assert len(rewards(run_dir)) == 8 and rewards(run_dir) == rewards(ref_cfg.run_dir)
