"""The capability-aware loss equals TRL 1.16's ``GRPOTrainer._compute_loss``, loss and gradient, for every accepted
``loss_type`` and the options that change it (vLLM importance-sampling ratio, KL, entropy mask and bonus,
off-policy mask, sequence-level ratio, two-sided clipping, accumulation), with surgery ``none`` (the plain sum
of the per-capability parts). Unsupported options are refused with one line."""

from __future__ import annotations

import json

import pytest
import torch
from grpo_rows import contract_rows

from balancedbio.config import load_config
from balancedbio.train.engines import EngineError
from balancedbio.train.grpo import GRPORecipeConfig, build_trainer
from balancedbio.train.grpo_loss import LOSS_TYPES


def _diversity_reward(prompts, completions, **kw):
    text = [c[0]["content"] if isinstance(c, list) else c for c in completions]
    return [len(set(t)) / max(1, len(t)) for t in text]


def _cfg(tmp_path, model_dir, *extra):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in contract_rows()))
    return load_config(GRPORecipeConfig, None, [
        f"model.name_or_path={model_dir}", f"data={data}", f"output_dir={tmp_path / 'out'}", "steps=1",
        "prompts_per_step=4", "num_generations=2", "max_new_tokens=6", "rewards.model_reward=none",
        "report_to=[none]", *extra])


@pytest.fixture(scope="module")
def trainer(tmp_path_factory, tiny_model_dir):
    tmp = tmp_path_factory.mktemp("parity")
    t = build_trainer(_cfg(tmp, tiny_model_dir, "beta=0.04"), reward_funcs=[_diversity_reward],
                      rule_weights=[1.0], model_weights=[0.0])
    t.model.train()
    return t


def _inputs(trainer, *, seq_ratio=False):
    """A micro-batch of 6 rows over 3 capabilities, old / reference / sampling log-probs off the current ones."""
    gen = torch.Generator().manual_seed(5)
    b, p, c = 6, 5, 7
    prompt_ids = torch.randint(10, 2000, (b, p), generator=gen)
    prompt_mask = torch.ones(b, p, dtype=torch.long)
    prompt_mask[0, :2] = 0                                   # left padding
    completion_ids = torch.randint(10, 2000, (b, c), generator=gen)
    completion_mask = torch.ones(b, c, dtype=torch.long)
    completion_mask[1, 4:] = 0
    completion_mask[3, 2:] = 0
    completion_mask[5] = 0                                   # a truncated completion under mask_truncated_completions
    with torch.no_grad():
        ids = torch.cat([prompt_ids, completion_ids], 1)
        logps, _, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model, ids, torch.cat([prompt_mask, completion_mask], 1), c)
    ratio_shape = (b, 1) if seq_ratio else (b, c)
    return {
        "prompt_ids": prompt_ids, "prompt_mask": prompt_mask, "completion_ids": completion_ids,
        "completion_mask": completion_mask, "advantages": torch.randn(b, generator=gen),
        "old_per_token_logps": logps + 0.3 * torch.randn(b, c, generator=gen),
        "ref_per_token_logps": logps + 0.2 * torch.randn(b, c, generator=gen),
        "sampling_per_token_logps": logps + 0.4 * torch.randn(b, c, generator=gen),
        "importance_sampling_ratio": 0.5 + torch.rand(ratio_shape, generator=gen),
        "num_items_in_batch": completion_mask.sum(),
    }


CAPS = torch.tensor([0, 1, 0, 2, 1, 2])

# Every accepted loss type with every multiplicative / additive option on at once (vLLM token-level
# importance-sampling ratio, bias-corrected KL, off-policy sequence mask, two-sided clipping), plus the
# options that change the ratio's or the denominator's form.
ALL_ON = {"beta": 0.04, "args.use_bias_correction_kl": True, "use_vllm": True,
          "vllm_importance_sampling_correction": True, "off_policy_mask_threshold": 0.05, "args.delta": 1.1}
CASES = {
    **{f"{lt}-vllm-ratio-kl-offpolicy": {"loss_type": lt, **ALL_ON} for lt in LOSS_TYPES},
    "grpo-plain": {"loss_type": "grpo"},
    "grpo-sequence-level-ratio-and-vllm-sequence-ratio-kl": {
        "loss_type": "grpo", "importance_sampling_level": "sequence", "use_vllm": True,
        "vllm_importance_sampling_correction": True, "_seq_ratio": True, "beta": 0.04,
        "args.use_bias_correction_kl": False},
    "dapo-entropy-mask-and-bonus-accumulation": {
        "loss_type": "dapo", "top_entropy_quantile": 0.5, "entropy_coef": 0.01, "_entropy_bonus_enabled": True,
        "current_gradient_accumulation_steps": 2, "args.steps_per_generation": 2},
}


@pytest.mark.parametrize("name", list(CASES))
def test_capability_loss_equals_trl(trainer, name, monkeypatch):
    settings = dict(CASES[name])
    seq_ratio = settings.pop("_seq_ratio", False)
    defaults = {"beta": 0.0, "use_vllm": False, "vllm_importance_sampling_correction": False,
                "importance_sampling_level": "token", "top_entropy_quantile": 1.0, "entropy_coef": 0.0,
                "_entropy_bonus_enabled": False, "off_policy_mask_threshold": None,
                "current_gradient_accumulation_steps": 1, "epsilon_high": 0.28, "args.delta": None,
                "args.steps_per_generation": 1, "args.use_bias_correction_kl": True}
    for key, value in {**defaults, **settings}.items():
        target, attr = (trainer.args, key[5:]) if key.startswith("args.") else (trainer, key)
        monkeypatch.setattr(target, attr, value, raising=False)
    inputs = _inputs(trainer, seq_ratio=seq_ratio)
    model = trainer.model
    params = [p for p in model.parameters() if p.requires_grad]
    ref = trainer._compute_loss(model, inputs)
    ref_grads = torch.autograd.grad(ref, params)
    entropy_mask = trainer._entropy_mask(model, inputs)
    assert (entropy_mask is not None) == (trainer.top_entropy_quantile < 1)
    total, grads = torch.zeros(()), [torch.zeros_like(p) for p in params]
    for cap in CAPS.unique():
        rows = (CAPS == cap).nonzero(as_tuple=True)[0]
        loss = trainer._capability_loss(model, inputs, rows, len(CAPS), entropy_mask)
        total = total + loss.detach()
        for acc, g in zip(grads, torch.autograd.grad(loss, params)):
            acc += g
    assert ref.abs() > 1e-4                               # a loss that could differ
    assert torch.allclose(total, ref.detach(), rtol=1e-5, atol=1e-7), (float(total), float(ref))
    scale = max(g.abs().max() for g in ref_grads)
    assert scale > 0
    for a, b in zip(grads, ref_grads):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6 * scale)


def test_options_that_change_the_loss_change_it(trainer, monkeypatch):
    """The parity above is not vacuous: the vLLM ratio, KL and the entropy mask each move TRL's loss."""
    inputs = _inputs(trainer)
    monkeypatch.setattr(trainer, "loss_type", "dapo")
    monkeypatch.setattr(trainer, "current_gradient_accumulation_steps", 1, raising=False)
    for attr in ("beta", "entropy_coef"):
        monkeypatch.setattr(trainer, attr, 0.0)
    monkeypatch.setattr(trainer, "_entropy_bonus_enabled", False)
    monkeypatch.setattr(trainer, "use_vllm", False)
    monkeypatch.setattr(trainer, "top_entropy_quantile", 1.0)
    def loss() -> float:
        return float(trainer._compute_loss(trainer.model, inputs).detach())

    base = loss()
    monkeypatch.setattr(trainer, "use_vllm", True)
    monkeypatch.setattr(trainer, "vllm_importance_sampling_correction", True)
    assert loss() != pytest.approx(base, rel=1e-4)
    monkeypatch.setattr(trainer, "use_vllm", False)
    monkeypatch.setattr(trainer, "beta", 0.04)
    assert loss() != pytest.approx(base, rel=1e-4)
    monkeypatch.setattr(trainer, "beta", 0.0)
    monkeypatch.setattr(trainer, "top_entropy_quantile", 0.5)
    assert loss() != pytest.approx(base, rel=1e-4)


@pytest.mark.parametrize("extra,match", [
    ({"loss_type": "vespo"}, r"loss_type='vespo' is not supported by capability-aware GRPO; choose one of grpo"),
    ({"use_adaptive_entropy": True}, r"use_adaptive_entropy=true is not supported"),
])
def test_unsupported_options_are_refused_in_one_line(tmp_path, tiny_model_dir, extra, match):
    cfg = _cfg(tmp_path, tiny_model_dir)
    with pytest.raises(EngineError, match=match) as info:
        build_trainer(cfg, reward_funcs=[_diversity_reward], rule_weights=[1.0], model_weights=[0.0],
                      args_extra=extra)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_mask_truncated_completions_reaches_the_capability_loss(tmp_path, tiny_model_dir):
    """TRL zeroes the masks of completions cut at max_new_tokens; the capability loss then ignores them."""
    cfg = _cfg(tmp_path, tiny_model_dir, "max_new_tokens=3")
    t = build_trainer(cfg, reward_funcs=[_diversity_reward], rule_weights=[1.0], model_weights=[0.0],
                      args_extra={"mask_truncated_completions": True})
    t.model.train()
    t.current_gradient_accumulation_steps = 1
    batch = [dict(x) for x in t.train_dataset.select(range(4)) for _ in range(2)]
    inputs = t._generate_and_score_completions(batch)
    cap_ids = inputs.pop("capability_ids")
    eos = set(t.eos_token_ids)
    truncated = [not any(int(x) in eos for x in row) for row in inputs["completion_ids"]]
    assert any(truncated)                                  # 3 new tokens: most completions are cut
    for row, cut in zip(inputs["completion_mask"], truncated):
        assert (int(row.sum()) == 0) == cut
    params = [p for p in t.model.parameters() if p.requires_grad]
    ref = t._compute_loss(t.model, inputs)
    total = sum(t._capability_loss(t.model, inputs, (cap_ids == c).nonzero(as_tuple=True)[0], len(cap_ids))
                for c in cap_ids.unique())
    assert torch.allclose(total.detach(), ref.detach(), atol=1e-6)
    for a, b in zip(torch.autograd.grad(total, params), torch.autograd.grad(ref, params)):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-7)


def test_training_step_with_surgery_none_equals_trl_training_step(trainer, monkeypatch):
    """The whole step (K backward passes through accelerator.backward, buffer, Gram, write-back) with surgery
    none leaves the same .grad as TRL's own training_step; pcgrad changes it."""
    from trl import GRPOTrainer

    for attr, value in {"loss_type": "dapo", "beta": 0.04, "use_vllm": True, "vllm_importance_sampling_correction": True,
                        "top_entropy_quantile": 1.0, "entropy_coef": 0.0, "_entropy_bonus_enabled": False,
                        "off_policy_mask_threshold": None, "importance_sampling_level": "token",
                        "current_gradient_accumulation_steps": 1}.items():
        monkeypatch.setattr(trainer, attr, value, raising=False)
    monkeypatch.setattr(trainer, "_prepare_inputs", lambda batch: batch)   # the batch is already scored
    model = trainer.model
    params = [p for p in model.parameters() if p.requires_grad]
    inputs = _inputs(trainer)

    def grads_after(step, batch):
        model.zero_grad(set_to_none=True)
        step(model, batch, None)
        out = [p.grad.detach().clone() for p in params]
        model.zero_grad(set_to_none=True)
        return out

    metrics = trainer._metrics["train"]

    def appended(step, batch):
        """The gradients of one step, and every metric the step appended (name -> value)."""
        before = {k: len(v) for k, v in metrics.items()}
        grads = grads_after(step, batch)
        return grads, {k: v[-1] for k, v in metrics.items() if len(v) > before.get(k, 0)}

    ref, ref_logs = appended(lambda m, b, n: GRPOTrainer.training_step(trainer, m, b, n), dict(inputs))
    monkeypatch.setattr(trainer.cap, "surgery", "none")
    ours, our_logs = appended(trainer.training_step, {**inputs, "capability_ids": CAPS})
    trl_logs = {"kl", "entropy", "clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean",
                "clip_ratio/low_min", "clip_ratio/high_max", "step_time"}
    assert set(ref_logs) == trl_logs                                      # what TRL 1.16 logs in this step
    assert trl_logs <= set(our_logs) and our_logs["step_time"] > 0
    del ref_logs["step_time"]
    assert {k: our_logs[k] for k in ref_logs} == pytest.approx(ref_logs, rel=1e-5, abs=1e-8)   # TRL's logs too
    assert ref_logs["kl"] > 0 and ref_logs["clip_ratio/region_mean"] > 0 and ref_logs["entropy"] > 0
    assert ref_logs["clip_ratio/high_max"] > ref_logs["clip_ratio/low_min"]
    scale = max(g.abs().max() for g in ref)
    for a, b in zip(ours, ref):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6 * scale)
    monkeypatch.setattr(trainer.cap, "surgery", "pcgrad")
    projected = grads_after(trainer.training_step, {**inputs, "capability_ids": CAPS})
    assert trainer.cosine_history and min(min(r) for r in trainer.cosine_history[-1]["cosine"]) < 0
    assert any(not torch.allclose(a, b, rtol=1e-4, atol=1e-6 * scale) for a, b in zip(projected, ref))


@pytest.mark.parametrize("variant", [
    {"loss_type": "cispo", "epsilon_high": 1.05},
    {"loss_type": "grpo", "importance_sampling_level": "sequence"},
    {"loss_type": "bnpo", "entropy_coef": 0.01, "_entropy_bonus_enabled": True},
], ids=["cispo", "grpo-sequence", "bnpo-entropy-bonus"])
def test_training_step_logs_what_trl_logs(trainer, monkeypatch, variant):
    """Every metric TRL's training_step appends for these loss settings, ours appends with the same value
    (step_time: present, not compared)."""
    from trl import GRPOTrainer

    settings = {"beta": 0.0, "use_vllm": False, "top_entropy_quantile": 1.0, "entropy_coef": 0.0,
                "_entropy_bonus_enabled": False, "off_policy_mask_threshold": None,
                "importance_sampling_level": "token", "current_gradient_accumulation_steps": 1, **variant}
    for attr, value in settings.items():
        monkeypatch.setattr(trainer, attr, value, raising=False)
    monkeypatch.setattr(trainer, "_prepare_inputs", lambda batch: batch)
    monkeypatch.setattr(trainer.cap, "surgery", "none")
    metrics = trainer._metrics["train"]
    inputs = _inputs(trainer)

    def appended(step, batch):
        before = {k: len(v) for k, v in metrics.items()}
        trainer.model.zero_grad(set_to_none=True)
        step(trainer.model, batch, None)
        trainer.model.zero_grad(set_to_none=True)
        return {k: v[-1] for k, v in metrics.items() if len(v) > before.get(k, 0)}

    ref = appended(lambda m, b, n: GRPOTrainer.training_step(trainer, m, b, n), dict(inputs))
    ours = appended(trainer.training_step, {**inputs, "capability_ids": CAPS})
    assert "step_time" in ref and "step_time" in ours
    ref.pop("step_time")
    assert set(ref) <= set(ours), set(ref) - set(ours)
    assert {k: ours[k] for k in ref} == pytest.approx(ref, rel=1e-5, abs=1e-8, nan_ok=True)
    expected = {"cispo": "cispo_clip_ratio", "grpo": "clip_ratio/high_max", "bnpo": "entropy_coef"}
    assert expected[variant["loss_type"]] in ref
