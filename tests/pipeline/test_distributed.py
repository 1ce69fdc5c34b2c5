"""The pipeline's training stages under two CPU processes (torchrun, gloo): the same code path as one
process; data stages run on rank 0, training on both ranks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.distributed]


def test_pipeline_training_stages_under_torchrun(tmp_path, tiny_model_dir):
    recipe = tmp_path / "dist.yaml"
    recipe.write_text(f"""
name: dist
output_root: {tmp_path / 'runs'}
seed: 3
model: {tiny_model_dir}
stages: [kg, synth, bft, grpo]
kg: {{toy: true}}
synth: {{num_examples: 40}}
bft:
  model: {{use_lora: false}}
  train: {{max_steps: 2, batch_size: 2, max_length: 128, group_size: 16, gradient_checkpointing: false,
          report_to: [], logging_steps: 1, save_steps: 0}}
grpo:
  model: {{use_lora: false}}
  steps: 1
  prompts_per_step: 2
  num_generations: 2
  max_new_tokens: 8
  rewards: {{model_reward: none}}
  report_to: []
""")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONFAULTHANDLER="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", "29631", "-m", "balancedbio", "run", str(recipe)],
                          capture_output=True, text=True, env=env, timeout=420)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = tmp_path / "runs" / "dist"
    for stage in ("kg", "synth", "bft", "grpo"):
        manifest = json.loads((run_dir / "stages" / stage / "manifest.json").read_text())
        assert manifest["stage"] == stage
    assert (run_dir / "stages/grpo/final").is_dir()
    # each stage line was printed once (rank 0 only), not once per process
    assert proc.stdout.count("bft    done") == 1
