"""Capability-aware GRPO on the tiny model: 2 steps, loss parity with TRL, bad rewards, data errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from grpo_rows import contract_rows

from balancedbio.config import load_config
from balancedbio.errors import DataError
from balancedbio.train.grpo import GRPORecipeConfig, build_trainer, load_rows, train_grpo


def _const_reward(value):
    def reward(prompts, completions, **kw):
        return [value] * len(completions)
    return reward


def _cfg(tmp_path, tiny_model_dir, *extra):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in contract_rows()))
    return load_config(GRPORecipeConfig, None, [
        f"model.name_or_path={tiny_model_dir}", f"data={data}", f"output_dir={tmp_path / 'out'}",
        "steps=2", "prompts_per_step=4", "num_generations=2", "max_new_tokens=8", "lr=1e-3",
        "rewards.model_reward=none", "report_to=[none]", *extra])


def _text(c):
    return c[0]["content"] if isinstance(c, list) else c


def _length_reward(prompts, completions, **kw):
    return [len(_text(c)) / 50.0 for c in completions]


def _diversity_reward(prompts, completions, **kw):
    return [len(set(_text(c))) / max(1, len(_text(c))) for c in completions]


def test_two_steps_weights_change_and_outputs(tmp_path, tiny_model_dir, monkeypatch):
    from balancedbio.models import load_model
    from balancedbio.train.rollout import StaticRollout

    calls = []
    original = StaticRollout.generate
    monkeypatch.setattr(StaticRollout, "generate", lambda self, *a, **kw: calls.append(1) or original(self, *a, **kw))

    cfg = _cfg(tmp_path, tiny_model_dir, "surgery=pcgrad", "weighting.mode=fixed", "rollout=static",
               "save_steps=2")
    before, _ = load_model(str(tiny_model_dir))
    final = train_grpo(cfg, reward_funcs=[_diversity_reward], rule_weights=[1.0], model_weights=[0.0])
    after, _ = load_model(str(final))
    changed = any(not torch.equal(a, b) for a, b in zip(before.state_dict().values(), after.state_dict().values()))
    assert changed
    assert len(calls) == 2  # the static-cache rollout engine made the rollouts
    summary = json.loads((tmp_path / "out" / "grpo_summary.json").read_text())
    assert math.isfinite(summary["training_loss"]) and summary["global_step"] == 2
    assert summary["total_groups"] == 8 and 0 <= summary["skipped_groups"] <= 8
    history = json.loads((tmp_path / "out" / "capability_cosines.json").read_text())
    assert len(history) == 2 and (tmp_path / "out" / "interference.png").is_file()
    state = json.loads((tmp_path / "out" / "checkpoint-2" / "capability_state.json").read_text())
    assert state["total_groups"] == 8 and len(state["cosine_history"]) == 2 and "weighter" in state


def test_surgery_none_matches_trl_loss_and_gradient(tmp_path, tiny_model_dir):
    """Sum of per-capability losses / gradients == TRL's _compute_loss on the same micro-batch."""
    cfg = _cfg(tmp_path, tiny_model_dir, "surgery=none", "loss_type=dapo", "model.use_lora=true",
               "model.lora.dropout=0.0",  # dropout would draw different masks in the two passes
               "precision=fp32")          # also on a GPU, where auto is bf16 and the two sums round apart
    rows = contract_rows()
    trainer = build_trainer(cfg, rows=rows, reward_funcs=[_diversity_reward], rule_weights=[1.0], model_weights=[0.0])
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1  # set by the Trainer's loop during train()
    batch = [dict(x) for x in trainer.train_dataset.select(range(4))]
    batch = [b for b in batch for _ in range(2)]
    inputs = trainer._generate_and_score_completions(batch)
    cap_ids = inputs.pop("capability_ids")
    params = [p for p in trainer.model.parameters() if p.requires_grad]
    assert 0 < sum(p.numel() for p in params) < sum(p.numel() for p in trainer.model.parameters())  # LoRA
    ref_loss = trainer._compute_loss(trainer.model, inputs)
    ref_grads = torch.autograd.grad(ref_loss, params)
    total, grads = 0.0, [torch.zeros_like(p) for p in params]
    for cap in cap_ids.unique():
        rows_c = (cap_ids == cap).nonzero(as_tuple=True)[0]
        loss = trainer._capability_loss(trainer.model, inputs, rows_c, cap_ids.shape[0])
        total = total + loss.detach()
        for acc, g in zip(grads, torch.autograd.grad(loss, params)):
            acc += g
    assert torch.allclose(total, ref_loss.detach(), atol=1e-6)
    for a, b in zip(grads, ref_grads):
        assert torch.allclose(a, b, atol=1e-6)


def test_reward_that_raises_or_has_wrong_length_is_named(tmp_path, tiny_model_dir):
    from balancedbio.train.grpo_trainer import RewardError

    def broken_reward(prompts, completions, **kw):
        raise KeyError("answer")

    def short_reward(prompts, completions, **kw):
        return [1.0]

    for func, msg in ((broken_reward, "reward 'broken_reward' raised KeyError"),
                      (short_reward, "reward 'short_reward' returned 1 values for 8 completions")):
        cfg = _cfg(tmp_path, tiny_model_dir, f"output_dir={tmp_path / func.__name__}")
        trainer = build_trainer(cfg, reward_funcs=[func], rule_weights=[1.0], model_weights=[0.0])
        with pytest.raises(RewardError, match=msg):
            trainer.train()


def test_all_equal_rewards_are_skipped_not_nan(tmp_path, tiny_model_dir):
    cfg = _cfg(tmp_path, tiny_model_dir, "steps=1")
    trainer = build_trainer(cfg, reward_funcs=[_const_reward(1.0)], rule_weights=[1.0], model_weights=[0.0])
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.train()
    assert trainer.skipped_groups == trainer.total_groups == 4
    after = list(trainer.model.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    assert all(torch.equal(a, b) for a, b in zip(before, after))  # no signal: no update


def test_bad_data_is_reported(tmp_path):
    bad = tmp_path / "train.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "x"}], "capability": "chat"}) + "\n")
    with pytest.raises(DataError, match=r"train.jsonl:1: key 'capability'"):
        load_rows(bad)
    with pytest.raises(DataError, match="not found"):
        load_rows(tmp_path / "missing.jsonl")


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    from balancedbio.cli import main

    config = str(Path(__file__).resolve().parents[2] / "configs" / "grpo.yaml")
    assert main(["train", "--method", "grpo", "--config", config, "--data", str(tmp_path / "missing.jsonl")]) == 2
    assert main(["train", "--method", "grpo", "--config", config, "surgery=gradvac"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "file not found: " in err[0] and "missing.jsonl" in err[0] and "'surgery'" in err[1]


def test_grpo_from_a_lora_adapter_keeps_training_that_adapter(tmp_path, tiny_model_dir):
    """The pipeline hands GRPO the BFT stage's LoRA adapter: GRPO continues it over the same base."""
    from safetensors.torch import load_file

    from balancedbio.models import LoraSettings, load_model, wrap_lora

    base, _ = load_model(str(tiny_model_dir))
    adapter = wrap_lora(base, LoraSettings(r=2, alpha=4, dropout=0.0))
    adapter.save_pretrained(tmp_path / "bft_adapter")
    cfg = _cfg(tmp_path, tmp_path / "bft_adapter", "model.use_lora=true", "surgery=pcgrad")
    final = train_grpo(cfg, reward_funcs=[_diversity_reward], rule_weights=[1.0], model_weights=[0.0])
    assert (final / "adapter_config.json").is_file()
    before = load_file(str(tmp_path / "bft_adapter" / "adapter_model.safetensors"))
    after = load_file(str(final / "adapter_model.safetensors"))
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    loaded, _ = load_model(str(final))  # loads onto the original base
    assert loaded(torch.tensor([[1, 2, 3]])).logits.isfinite().all()


def test_vllm_settings_reach_trl_or_fail_clearly(tmp_path, tiny_model_dir):
    import importlib.util

    from balancedbio.errors import BalancedBioError
    from balancedbio.train.grpo import grpo_args

    cfg = _cfg(tmp_path, tiny_model_dir, "rollout=vllm", "vllm_mode=server",
               "vllm_server_base_url=http://localhost:8000")
    if importlib.util.find_spec("vllm") is None:
        with pytest.raises(BalancedBioError, match="rollout=vllm needs the vllm package"):
            grpo_args(cfg)
    else:  # pragma: no cover - GPU machines with vLLM
        args = grpo_args(cfg)
        assert args.use_vllm and args.vllm_mode == "server"
    assert not grpo_args(_cfg(tmp_path, tiny_model_dir)).use_vllm


def test_resume_restores_weighting_state_and_counters(tmp_path, tiny_model_dir):
    """Stopping after step 2 and resuming ends with the same online weighting state as running through.

    The rewards depend on the prompt only, so the moments depend on which rows each step saw (the data
    order, which resume keeps across epochs) and not on the sampled completions.
    """
    import shutil

    def prompt_reward_a(prompts, completions, **kw):
        return [(len(str(p)) % 7) / 7 for p in prompts]

    def prompt_reward_b(prompts, completions, **kw):
        return [(len(str(p)) % 5) / 5 for p in prompts]

    funcs = dict(reward_funcs=[prompt_reward_a, prompt_reward_b], rule_weights=[1.0, 0.0],
                 model_weights=[0.0, 1.0])
    extra = ("weighting.mode=inverse_variance", "weighting.min_samples=2", "save_steps=2", "steps=4",
             "surgery=pcgrad", "seed=3")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    straight = _cfg(tmp_path / "a", tiny_model_dir, *extra)
    train_grpo(straight, **funcs)
    ref = json.loads((tmp_path / "a" / "out" / "checkpoint-4" / "capability_state.json").read_text())
    at_two = json.loads((tmp_path / "a" / "out" / "checkpoint-2" / "capability_state.json").read_text())
    assert any(v > 0 for v in ref["weighter"]["seen"].values())
    assert ref["weighter"] != at_two["weighter"]  # the state moves between the two checkpoints

    # a second run that holds only checkpoint-2, as if it had been stopped there
    resumed = _cfg(tmp_path / "b", tiny_model_dir, *extra)
    shutil.copytree(tmp_path / "a" / "out" / "checkpoint-2", tmp_path / "b" / "out" / "checkpoint-2")
    train_grpo(resumed, resume=True, **funcs)
    got = json.loads((tmp_path / "b" / "out" / "checkpoint-4" / "capability_state.json").read_text())
    assert got["weighter"]["seen"] == ref["weighter"]["seen"]
    assert got["weighter"]["moments"].keys() == ref["weighter"]["moments"].keys()
    for cap, moments in ref["weighter"]["moments"].items():
        assert got["weighter"]["moments"][cap] == pytest.approx(moments, rel=1e-5, abs=1e-7), cap
    assert (got["total_groups"], got["skipped_groups"]) == (ref["total_groups"], ref["skipped_groups"])
    assert [h["step"] for h in got["cosine_history"]] == [h["step"] for h in ref["cosine_history"]]


def test_resumed_run_equals_uninterrupted(tmp_path, tiny_model_dir):
    """Sampled completions, several epochs (4 prompts, 4 steps), logging every 3 steps, a checkpoint every 2:
    the run resumed from checkpoint-2 ends with the uninterrupted run's weights, bit for bit, and logs the
    same entries. Before the sampler was seeded per epoch, the resumed run replayed epoch 0's prompt order
    at epoch 2 and ended elsewhere; before the log window closed at each save, it logged other windows."""
    import shutil

    from safetensors.torch import load_file

    funcs = dict(reward_funcs=[_length_reward], rule_weights=[1.0], model_weights=[0.0])
    extra = ("save_steps=2", "steps=4", "logging_steps=3", "surgery=pcgrad", "seed=3")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    train_grpo(_cfg(tmp_path / "a", tiny_model_dir, *extra), **funcs)
    shutil.copytree(tmp_path / "a" / "out" / "checkpoint-2", tmp_path / "b" / "out" / "checkpoint-2")
    train_grpo(_cfg(tmp_path / "b", tiny_model_dir, *extra), resume=True, **funcs)

    a = load_file(str(tmp_path / "a" / "out" / "final" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "out" / "final" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)

    def logged(run):
        state = json.loads((tmp_path / run / "out" / "checkpoint-4" / "trainer_state.json").read_text())
        return [{k: v for k, v in h.items() if "runtime" not in k and "per_second" not in k and "time" not in k}
                for h in state["log_history"]]

    assert [h["step"] for h in logged("a")] == [2, 3, 4]    # a window ends at every save, and every 3 steps
    assert logged("b") == logged("a")
    meta = [json.loads((tmp_path / run / "out" / "final" / "balancedbio_grpo.json").read_text()) for run in "ab"]
    assert meta[0]["training_loss"] == meta[1]["training_loss"]  # the whole run's mean, not the resumed part's


def test_a_checkpoint_cut_before_its_weighting_state_is_not_resumed_from(tmp_path, tiny_model_dir):
    """A kill after the Trainer wrote checkpoint-4's trainer_state.json but before the capability state was
    written: resume takes checkpoint-2 (the last complete one) and ends where the uninterrupted run ends."""
    import shutil

    from safetensors.torch import load_file

    funcs = dict(reward_funcs=[_length_reward], rule_weights=[1.0], model_weights=[0.0])
    extra = ("save_steps=2", "steps=6", "surgery=pcgrad", "seed=3")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    train_grpo(_cfg(tmp_path / "a", tiny_model_dir, *extra), **funcs)
    for n in (2, 4):
        shutil.copytree(tmp_path / "a" / "out" / f"checkpoint-{n}", tmp_path / "b" / "out" / f"checkpoint-{n}")
    (tmp_path / "b" / "out" / "checkpoint-4" / "capability_state.json").unlink()
    train_grpo(_cfg(tmp_path / "b", tiny_model_dir, *extra), resume=True, **funcs)
    a = load_file(str(tmp_path / "a" / "out" / "final" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "out" / "final" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    state = json.loads((tmp_path / "b" / "out" / "checkpoint-6" / "capability_state.json").read_text())
    ref = json.loads((tmp_path / "a" / "out" / "checkpoint-6" / "capability_state.json").read_text())
    assert (state["total_groups"], state["skipped_groups"]) == (ref["total_groups"], ref["skipped_groups"])
