"""Hybrid reward weighting: fixed, inverse-variance (two-level noise estimates within and between prompt
groups, planted with a binary rule score and a compressed similarity score), GDPO; group advantages."""

from __future__ import annotations

import pytest
import torch

from balancedbio.config import from_dict
from balancedbio.train.weighting import (
    HybridWeighter,
    WeightingConfig,
    clipped_alpha,
    group_advantages,
    group_normalize,
    min_variance_alpha,
    noise_variances,
    rule_noise_share,
    two_level_noise,
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


def plant(prompts, sd_model, *, g=4, b=0.1, sd_prompt=0.2, seed=0):
    """Binary rule score and compressed similarity of one latent quality, in prompt groups of ``g``.

    q = 0.5 + u_i + v_ij (prompt difficulty u, sd ``sd_prompt``; completion part v, sd 0.1), clipped to
    [0.02, 0.98]; rule ~ Bernoulli(q) (noise variance E[q(1 - q)]); similarity = 0.6 + nu_i + b q + e
    (prompt offset nu, sd 0.03; noise sd ``sd_model``, i.e. sd_model^2 / b^2 in rule units)."""
    gen = torch.Generator().manual_seed(seed)
    u = sd_prompt * torch.randn(prompts, 1, generator=gen)
    q = (0.5 + u + 0.1 * torch.randn(prompts, g, generator=gen)).clamp(0.02, 0.98)
    rule = torch.bernoulli(q, generator=gen)
    model = 0.6 + 0.03 * torch.randn(prompts, 1, generator=gen) + b * q + sd_model * torch.randn(prompts, g, generator=gen)
    centred = q - q.mean(1, keepdim=True)
    truth = {"s_rule": float((q * (1 - q)).mean()), "s_model": sd_model ** 2 / b ** 2, "scale": b,
             "var_within": float((centred ** 2).sum(1).mean() / (g - 1))}
    truth["alpha"] = truth["s_model"] / (truth["s_rule"] + truth["s_model"])
    return rule.view(-1), model.view(-1), truth


@pytest.mark.parametrize(("sd_model", "seed"), [(0.02, 0), (0.02, 1), (0.1, 2), (0.1, 3)])
def test_two_level_estimate_recovers_planted_noise_of_binary_rule_and_compressed_similarity(sd_model, seed):
    rule, model, truth = plant(20000, sd_model, seed=seed)
    est = two_level_noise(rule, model, 4, floor=1e-6)
    assert est.scale == pytest.approx(truth["scale"], rel=0.08)
    assert est.s_rule == pytest.approx(truth["s_rule"], rel=0.03)
    assert est.s_model == pytest.approx(truth["s_model"], rel=0.12)
    assert est.var_within == pytest.approx(truth["var_within"], rel=0.2)
    assert min_variance_alpha(est.s_rule, est.s_model) == pytest.approx(truth["alpha"], abs=0.02)
    # the pooled one-level estimate reads the similarity's compressed scale as low noise and puts (nearly)
    # all weight on it, whichever score is the noisier one: the failure the two-level estimate removes
    s_r, s_m, _ = noise_variances(rule, model, floor=1e-6)
    assert min_variance_alpha(s_r, s_m) < 0.05


def test_inverse_variance_online_recovers_alpha_and_weights_the_cleaner_capability():
    cfg = WeightingConfig(mode="inverse_variance", ema=0.99, alpha_clip=[0.0, 1.0], w_clip=[0.1, 10.0])
    w = HybridWeighter(cfg, ["expertise", "reasoning"])
    for step in range(150):  # 8 prompt groups of 4 per capability and step
        r1, m1, t1 = plant(8, 0.02, seed=2 * step)
        r2, m2, t2 = plant(8, 0.1, seed=2 * step + 1)
        rewards, weight, metrics = w.combine(torch.cat([r1, r2]), torch.cat([m1, m2]),
                                             ["expertise"] * 32 + ["reasoning"] * 32, 4)
    assert metrics["alpha/expertise"] == pytest.approx(0.165, abs=0.06)   # planted: 0.04 / (0.204 + 0.04)
    assert metrics["alpha/reasoning"] == pytest.approx(0.83, abs=0.06)    # planted: 1.0 / (0.204 + 1.0)
    assert metrics["scale/expertise"] == pytest.approx(0.1, rel=0.2)
    assert metrics["w/expertise"] > 1.0 > metrics["w/reasoning"]          # the cleaner hybrid moves the policy more
    a, b = metrics["alpha/expertise"], metrics["scale/expertise"]
    assert torch.allclose(rewards[:32], a * r1 + (1 - a) * m1 / b, atol=1e-5)
    assert weight[:32].eq(metrics["w/expertise"]).all() and torch.isfinite(rewards).all()
    w2 = HybridWeighter(cfg, ["expertise", "reasoning"])
    w2.load_state_dict(w.state_dict())
    assert w2.alpha("expertise") == w.alpha("expertise") and w2.scale("reasoning") == w.scale("reasoning")


def test_not_identified_without_variation_between_prompts():
    """Every prompt equally hard: the model score's scale is not identified, so the configured alpha stays."""
    rule, model, _ = plant(4000, 0.05, sd_prompt=0.0)
    w = HybridWeighter(WeightingConfig(mode="inverse_variance"), ["expertise"])
    estimates = [two_level_noise(rule[i:i + 800], model[i:i + 800], 4) for i in range(0, 16000, 800)]
    assert sum(e is None for e in estimates) >= 5  # sampling noise identifies some batches spuriously
    _, _, metrics = w.combine(torch.ones(8), torch.rand(8), ["expertise"] * 8, 4)  # no variation at all
    assert metrics["alpha/expertise"] == 0.7 and "scale/expertise" not in metrics


def test_old_state_layout_starts_afresh():
    w = HybridWeighter(WeightingConfig(mode="inverse_variance"), ["expertise"])
    w.load_state_dict({"moments": {"expertise": [0.0] * 5}, "seen": {"expertise": 100}})
    assert w.seen["expertise"] == 0 and w.alpha("expertise") == 0.7


def test_inverse_variance_uses_configured_alpha_before_min_samples():
    w = HybridWeighter(WeightingConfig(mode="inverse_variance", min_samples=100), ["expertise"])
    rule, model, _ = plant(8, 0.02)
    _, _, metrics = w.combine(rule, model, ["expertise"] * 32, 4)
    assert metrics["alpha/expertise"] == 0.7 and metrics["w/expertise"] == 1.0
    w = HybridWeighter(WeightingConfig(mode="inverse_variance", min_groups=9), ["expertise"])
    _, _, metrics = w.combine(rule, model, ["expertise"] * 32, 4)
    assert metrics["alpha/expertise"] == 0.7


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
    cfg = WeightingConfig(mode="inverse_variance", ema=0.99)
    w = HybridWeighter(cfg, ["expertise", "reasoning", "instruction"])
    caps = ["expertise"] * 32 + ["reasoning"] * 32 + ["instruction"] * 16
    for step in range(60):
        r1, m1, _ = plant(8, 0.02, seed=3 * step)
        r2, m2, _ = plant(8, 0.1, seed=3 * step + 1)
        r3, _, _ = plant(4, 0.1, seed=3 * step + 2)
        rule = torch.cat([r1, r2, r3])
        model = torch.cat([m1, m2, torch.full((16,), NAN)])
        _, weight, metrics = w.combine(rule, model, caps, 4)
    assert metrics["w/instruction"] == 1.0                       # configured weight, no estimate possible
    assert metrics["w/expertise"] > 1.0 > metrics["w/reasoning"]  # the cleaner capability moves the policy more
    assert weight[:32].eq(metrics["w/expertise"]).all() and weight[64:].eq(1.0).all()


def test_clip_bounds_each_scores_share_of_the_noise():
    """Inside the range the clip leaves alpha* alone (where the rule's noise share equals alpha*); outside it
    keeps the share at the bound, where clipping alpha itself let a much noisier score carry the noise."""
    for s_r, s_m in [(1.0, 3.0), (0.2, 0.05), (0.25, 0.25)]:
        a = min_variance_alpha(s_r, s_m)
        assert rule_noise_share(a, s_r, s_m) == pytest.approx(a)
        assert clipped_alpha(s_r, s_m, 0.05, 0.95) == pytest.approx(a)
    s_r, s_m = 0.2, 0.2 * 19                                    # alpha* = 0.95 exactly: continuous at the bound
    assert clipped_alpha(s_r, s_m, 0.05, 0.95) == pytest.approx(0.95)
    s_r, s_m = 0.2, 0.2 * 10_000                                # the model score far noisier (a tiny scale b)
    assert rule_noise_share(0.95, s_r, s_m) < 0.05              # the old clip: the model carries 96% of the noise
    a = clipped_alpha(s_r, s_m, 0.05, 0.95)
    assert rule_noise_share(a, s_r, s_m) == pytest.approx(0.95) and 0.95 < a < 1
    s_r, s_m = 0.2 * 10_000, 0.2                                # the rule score far noisier: the lower bound
    a = clipped_alpha(s_r, s_m, 0.05, 0.95)
    assert rule_noise_share(a, s_r, s_m) == pytest.approx(0.05) and 0 < a < 0.05
    assert clipped_alpha(s_r, s_m, 0.0, 1.0) == pytest.approx(min_variance_alpha(s_r, s_m))


def test_an_uninformative_similarity_cannot_take_over_the_reward():
    """A similarity that barely moves with quality (planted b = 0.005, noise sd 0.02: about 100 times the rule's
    noise in rule units; the estimate puts b at 0.002 and the noise 460 times the rule's) gets the clip's 5% of
    the hybrid's noise: the hybrid's within-group variation follows the rule score."""
    cfg = WeightingConfig(mode="inverse_variance", ema=0.99)
    w = HybridWeighter(cfg, ["expertise"])
    for step in range(100):
        rule, model, _ = plant(16, 0.02, b=0.005, sd_prompt=0.25, seed=step)
        rewards, _, metrics = w.combine(rule, model, ["expertise"] * 64, 4)
    est = w.estimate("expertise")
    assert est is not None and est.s_model > 100 * est.s_rule
    a, b = metrics["alpha/expertise"], metrics["scale/expertise"]
    assert rule_noise_share(a, est.s_rule, est.s_model) == pytest.approx(0.95, abs=1e-6)
    within = lambda x: x.view(-1, 4) - x.view(-1, 4).mean(1, keepdim=True)  # noqa: E731
    rule_part, model_part = within(a * rule), within((1 - a) * model / b)
    assert model_part.var() < 0.1 * rule_part.var()
    old = within(0.05 * model / b).var() / within(0.95 * rule).var()
    assert old > 1                                               # clipping alpha at 0.95: the model part 1.6x
