"""Hybrid reward weighting: fixed, inverse-variance (online noise estimates), GDPO; group advantages."""

from __future__ import annotations

import math

import pytest
import torch

from balancedbio.config import from_dict
from balancedbio.train.weighting import (
    HybridWeighter,
    WeightingConfig,
    group_advantages,
    group_normalize,
    min_variance_alpha,
    noise_variances,
)

NAN = float("nan")


def test_fixed_mode_mixes_and_falls_back():
    w = HybridWeighter(WeightingConfig(mode="fixed", alpha={"expertise": 0.25}, weights={"expertise": 2.0}),
                       ["expertise", "instruction"])
    rule = torch.tensor([1.0, 0.0, 1.0, 0.5])
    model = torch.tensor([0.0, 1.0, NAN, NAN])
    rewards, weight, metrics = w.combine(rule, model, ["expertise"] * 2 + ["instruction"] * 2, num_generations=2)
    assert torch.allclose(rewards, torch.tensor([0.25, 0.75, 1.0, 0.5]))
    assert weight.tolist() == [2.0, 2.0, 1.0, 1.0]
    assert metrics["alpha/expertise"] == 0.25 and metrics["w/instruction"] == 1.0


def test_min_variance_alpha_and_two_instrument_estimate():
    assert min_variance_alpha(1.0, 3.0) == 0.75
    gen = torch.Generator().manual_seed(0)
    q = torch.rand(20000, generator=gen)
    rule = q + 0.1 * torch.randn(20000, generator=gen)   # noise variance 0.01
    model = q + 0.3 * torch.randn(20000, generator=gen)  # noise variance 0.09
    s_r, s_m, cov = noise_variances(rule, model, floor=1e-6)
    assert s_r == pytest.approx(0.01, abs=3e-3) and s_m == pytest.approx(0.09, abs=6e-3)
    assert cov == pytest.approx(1 / 12, abs=5e-3)


def test_inverse_variance_online_converges_to_less_noisy_score():
    cfg = WeightingConfig(mode="inverse_variance", ema=0.8, min_samples=8, alpha_clip=[0.0, 1.0])
    w = HybridWeighter(cfg, ["expertise", "reasoning"])
    gen = torch.Generator().manual_seed(1)
    for _ in range(60):
        q = torch.rand(64, generator=gen)
        rule = torch.cat([q[:32] + 0.05 * torch.randn(32, generator=gen), q[32:] + 0.4 * torch.randn(32, generator=gen)])
        model = torch.cat([q[:32] + 0.4 * torch.randn(32, generator=gen), q[32:] + 0.05 * torch.randn(32, generator=gen)])
        rewards, weight, metrics = w.combine(rule, model, ["expertise"] * 32 + ["reasoning"] * 32, 4)
    # expected alpha = s_m / (s_r + s_m) = 0.16 / 0.1625 ~ 0.985 for expertise, ~0.015 for reasoning
    assert metrics["alpha/expertise"] > 0.9 and metrics["alpha/reasoning"] < 0.1
    assert torch.isfinite(rewards).all() and all(math.isfinite(v) for v in metrics.values())
    state = w.state_dict()
    w2 = HybridWeighter(cfg, ["expertise", "reasoning"])
    w2.load_state_dict(state)
    assert w2.alpha("expertise") == w.alpha("expertise")


def test_inverse_variance_uses_configured_alpha_before_min_samples():
    w = HybridWeighter(WeightingConfig(mode="inverse_variance", min_samples=100), ["expertise"])
    _, _, metrics = w.combine(torch.rand(8), torch.rand(8), ["expertise"] * 8, 4)
    assert metrics["alpha/expertise"] == 0.7 and metrics["w/expertise"] == 1.0


def test_gdpo_normalises_each_score_in_its_group():
    w = HybridWeighter(WeightingConfig(mode="gdpo", alpha={"expertise": 0.5}), ["expertise"])
    rule = torch.tensor([1.0, 0.0, 0.0, 0.0])
    model = torch.tensor([0.9, 0.8, 0.9, 0.8])
    rewards, _, _ = w.combine(rule, model, ["expertise"] * 4, num_generations=2)
    expected = 0.5 * group_normalize(rule, 2) + 0.5 * group_normalize(model, 2)
    assert torch.allclose(rewards, expected)
    assert rewards[2] == pytest.approx(-rewards[3].item(), abs=1e-5) and rewards[0] > 0.9


def test_group_advantages_zero_std_groups_are_zero_not_nan():
    r = torch.tensor([1.0, 1.0, 1.0, 0.0, 1.0, 0.5, NAN, NAN])
    adv, zero = group_advantages(r, 2)
    assert torch.isfinite(adv).all()
    assert zero.tolist() == [True, False, False, True]
    assert adv[:2].tolist() == [0.0, 0.0] and adv[2] > 0 > adv[3] and adv[6:].tolist() == [0.0, 0.0]
    adv_dr, _ = group_advantages(r, 2, scale=False)
    assert torch.allclose(adv_dr[2:4], torch.tensor([0.5, -0.5]))


def test_unknown_capability_and_config_validation():
    w = HybridWeighter(WeightingConfig(mode="fixed"), ["expertise"])
    with pytest.raises(ValueError, match="unknown capability 'chat'"):
        w.combine(torch.ones(2), torch.ones(2), ["chat", "chat"], 2)
    from balancedbio.errors import ConfigError

    with pytest.raises(ConfigError, match="mode"):
        from_dict(WeightingConfig, {"mode": "optimal"})


def test_rule_only_capability_keeps_its_weight_without_blocking_the_others():
    """Instruction rows have no model score: they keep the configured weight; the others are re-weighted."""
    cfg = WeightingConfig(mode="inverse_variance", ema=0.5, min_samples=4)
    w = HybridWeighter(cfg, ["expertise", "reasoning", "instruction"])
    gen = torch.Generator().manual_seed(0)
    caps = ["expertise"] * 16 + ["reasoning"] * 16 + ["instruction"] * 16
    for _ in range(20):
        q = torch.rand(48, generator=gen)
        noise = torch.cat([0.05 * torch.randn(16, generator=gen), 0.5 * torch.randn(16, generator=gen),
                           torch.zeros(16)])
        rule = q + noise
        model = torch.cat([q[:32] + 0.2 * torch.randn(32, generator=gen), torch.full((16,), NAN)])
        _, weight, metrics = w.combine(rule, model, caps, 4)
    assert metrics["w/instruction"] == 1.0                       # configured weight, no estimate possible
    assert metrics["w/expertise"] > 1.0 > metrics["w/reasoning"]  # the cleaner capability moves the policy more
    assert weight[:16].eq(metrics["w/expertise"]).all() and weight[32:].eq(1.0).all()
