"""Every shipped YAML recipe validates against its config class (a typo in a shipped file fails here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancedbio.config import load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

STAGE_CONFIGS = {
    "bft.yaml": ("balancedbio.train.sft", "SFTRecipeConfig"),
    "sft_nll.yaml": ("balancedbio.train.sft", "SFTRecipeConfig"),
    "sft_dft.yaml": ("balancedbio.train.sft", "SFTRecipeConfig"),
    "grpo.yaml": ("balancedbio.train.grpo", "GRPORecipeConfig"),
    "grpo_vllm_server.yaml": ("balancedbio.train.grpo", "GRPORecipeConfig"),
    "synth.yaml": ("balancedbio.synth.generate", "SynthConfig"),
    "eval.yaml": ("balancedbio.eval.suite", "EvalSuiteConfig"),
    "embed.yaml": ("balancedbio.embed.bench", "EmbedBenchConfig"),
}


@pytest.mark.parametrize("name", sorted(STAGE_CONFIGS))
def test_stage_config_validates(name):
    import importlib

    path = CONFIGS / name
    if not path.is_file():
        pytest.skip(f"{name} not shipped")
    module, cls = STAGE_CONFIGS[name]
    load_config(getattr(importlib.import_module(module), cls), path)


@pytest.mark.parametrize("path", sorted(p for p in CONFIGS.glob("*.yaml") if "stages:" in p.read_text()),
                         ids=lambda p: p.name)
def test_pipeline_recipe_validates_every_stage(path, tmp_path):
    from balancedbio.pipeline import load_pipeline_config
    from balancedbio.pipeline.context import RunContext
    from balancedbio.pipeline.stages import STAGE_SPECS

    cfg, lines = load_pipeline_config(path, [f"output_root={tmp_path}"])
    ctx = RunContext(cfg=cfg, run_dir=cfg.run_dir, lines=lines, source=str(path))
    for stage in cfg.stages:
        STAGE_SPECS[stage].resolve(ctx)
