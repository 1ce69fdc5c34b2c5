"""One setting picks the GRPO rollout engine (hf | static | vllm): contradictions and an engine that is not
installed are refused with one line, exit 2, before the model is loaded and before anything is written."""

from __future__ import annotations

import importlib.util
import json

import pytest
from grpo_rows import contract_rows

from balancedbio.config import load_config
from balancedbio.errors import ConfigError
from balancedbio.train.grpo import GRPORecipeConfig, check_rollout, train_grpo

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def _cfg(tmp_path, *extra):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in contract_rows()))
    return load_config(GRPORecipeConfig, None, [f"data={data}", f"output_dir={tmp_path / 'out'}", *extra])


@pytest.mark.parametrize(("extra", "message"), [
    (["use_vllm=true", "rollout=static"], "use_vllm=true contradicts rollout=static: rollout alone picks"),
    (["use_vllm=true"], "use_vllm=true contradicts rollout=hf"),
    (["use_vllm=false", "rollout=vllm"], "use_vllm=false contradicts rollout=vllm"),
    (["vllm_server_base_url=http://localhost:8000"], "vllm_server_base_url is set but rollout=hf"),
    (["rollout=static", "capability_aware=false"], "rollout=static needs capability_aware=true"),
    (["rollout_buckets=[64, 0]"], "rollout_buckets must be a non-empty list of positive"),
])
def test_contradictory_rollout_settings_are_refused_before_loading(tmp_path, monkeypatch, extra, message):
    import balancedbio.models as models

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("model loaded before the check"))
    cfg = _cfg(tmp_path, *extra)
    with pytest.raises(ConfigError, match=message):
        train_grpo(cfg)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra", [[], ["rollout=static"], ["use_vllm=false", "rollout=hf"],
                                   ["use_vllm=false", "rollout=static"]])
def test_consistent_settings_pass(tmp_path, extra):
    check_rollout(_cfg(tmp_path, *extra))


@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed here")
def test_rollout_vllm_without_vllm_is_one_line_exit_2_nothing_written(tmp_path, capsys, monkeypatch):
    import balancedbio.models as models
    from balancedbio.cli import main

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("model loaded before the check"))
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in contract_rows()))
    out = tmp_path / "out"
    assert main(["train", "--method", "grpo", "--data", str(data), "--output", str(out), "rollout=vllm"]) == 2
    err = capsys.readouterr().err.strip()
    assert "rollout=vllm needs the vllm package (pip install vllm)" in err and "rollout=hf" in err
    assert len(err.splitlines()) == 1 and not out.exists()


def test_static_rollout_options_reach_the_trainer(tmp_path, tiny_model_dir):
    from balancedbio.train.grpo import build_trainer

    cfg = _cfg(tmp_path, f"model.name_or_path={tiny_model_dir}", "rollout=static", "rollout_buckets=[16, 32]",
               "rollout_cache_size=1", "prompts_per_step=2", "num_generations=2", "rewards.model_reward=none",
               "report_to=[none]")
    trainer = build_trainer(cfg, reward_funcs=[lambda prompts, completions, **kw: [1.0] * len(completions)],
                            rule_weights=[1.0], model_weights=[0.0])
    assert trainer.cap.rollout == "static"
    assert trainer.cap.rollout_buckets == (16, 32) and trainer.cap.rollout_cache_size == 1
    assert not trainer.use_vllm
