"""``run --force`` with a changed training setting trains from nothing: the final weights equal those of
a run that had the new setting from the start (not the old checkpoint resumed), and the manifest names
those weights."""

from __future__ import annotations

import hashlib
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
seed: 3
model: {model_dir}
stages: [kg, synth, bft]
kg: {{toy: true}}
synth: {{num_examples: 32}}
bft:
  model: {{use_lora: false}}
  train: {{method: bft, group_size: 16, max_steps: 3, batch_size: 2, max_length: 160, save_steps: 1,
          save_total_limit: null, logging_steps: 1, gradient_checkpointing: false, report_to: [],
          lr: 1.0e-3, warmup_ratio: 0.0}}
""")
    return path


def _weights(final: Path) -> dict[str, torch.Tensor]:
    return load_file(str(final / "model.safetensors"))


def test_force_with_changed_lr_trains_fresh_and_manifest_names_the_weights(tmp_path, tiny_model_dir):
    from balancedbio.pipeline import load_pipeline_config, run_pipeline

    quiet = {"echo": lambda m: None}
    recipe = _recipe(tmp_path, tiny_model_dir, "run")
    cfg, lines = load_pipeline_config(recipe)
    run_pipeline(cfg, lines=lines, **quiet)
    bft = cfg.run_dir / "stages" / "bft"
    old = _weights(bft / "final")
    assert (bft / "checkpoint-3").is_dir()

    changed, lines2 = load_pipeline_config(recipe, ["bft.train.lr=5e-3"])
    manifests = run_pipeline(changed, lines=lines2, force=True, **quiet)
    new = _weights(bft / "final")
    assert any(not torch.equal(old[k], new[k]) for k in old)

    # the same as a run that had lr 5e-3 from the start
    straight, lines3 = load_pipeline_config(_recipe(tmp_path, tiny_model_dir, "straight"), ["bft.train.lr=5e-3"])
    run_pipeline(straight, lines=lines3, **quiet)
    reference = _weights(straight.run_dir / "stages" / "bft" / "final")
    for k in reference:
        torch.testing.assert_close(new[k], reference[k], rtol=0, atol=1e-6, msg=k)

    manifest = manifests["bft"]
    assert manifest["started"] == "fresh" and manifest["config"]["train"]["lr"] == pytest.approx(5e-3)
    digest = hashlib.sha256((bft / "final" / "model.safetensors").read_bytes()).hexdigest()
    assert manifest["weights"] == {"model.safetensors": digest}
