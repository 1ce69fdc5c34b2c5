"""Hybrid reward weighting for Capability-Aware GRPO: r_c = alpha_c * rule + (1 - alpha_c) * model / b_c, times w_c.

BalancedBio (Wu et al., arXiv 2508.04278) names an "optimal hybrid reward weighting" without publishing its
formula; the three modes below are our design (derivation in ``docs/methods.md``):

* ``fixed``            alpha_c and w_c from the config (b_c = 1).
* ``inverse_variance`` alpha_c is the minimum-variance combination of the two scores *within prompt groups*
                       (the variation GRPO's advantages use), on the rule score's scale. Per capability, the
                       completion j of prompt i is read as ``rule = q_ij + e_r``,
                       ``model = nu_i + b q_ij + e_m`` with latent quality ``q_ij = u_i + v_ij`` (prompt
                       difficulty plus the completion's own part), a prompt offset nu_i of the model score
                       (e.g. the gold answer's length) and independent completion-level noise. Two scores of
                       one latent do not identify their noise levels when their scales differ (three moments,
                       four unknowns); the prompt groups add the missing equations: within-group moments
                       give ``b Var(v)``, ``Var(v) + s_r``, ``b^2 Var(v) + s_m``; between-group moments of
                       the group means give ``Var(u)`` and ``b Var(u)``, hence the scale b, and with it the
                       noise variances of both scores in rule units (:func:`two_level_noise`).
                       ``alpha_c = s_m' / (s_r + s_m')`` with ``s_m' = s_m / b^2``, the model score enters
                       as ``model / b``, and w_c is proportional to the within-group signal-to-noise ratio
                       ``Var(v) / V(alpha_c)`` of the hybrid, normalised to mean 1 and clipped to
                       ``w_clip``. Moments are running averages (``ema``) over steps.
* ``gdpo``             GDPO (arXiv 2601.05242): each score is normalised within its prompt group (z-score),
                       then summed with weights alpha_c / (1 - alpha_c); w_c from the config.

A missing score (None / NaN: e.g. no gold answer for the model-based similarity) falls back to the other
one for that completion. Pure helpers are exposed for tests; :class:`HybridWeighter` keeps the online state.

Example::

    >>> w = HybridWeighter(WeightingConfig(mode="fixed"), ["expertise", "reasoning"])
    >>> rewards, weights, metrics = w.combine(rule, model, caps, num_generations=4)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch

from balancedbio.config import option
from balancedbio.rows import CAPABILITIES

log = logging.getLogger(__name__)

MODES = ("fixed", "inverse_variance", "gdpo")


@dataclass(frozen=True)
class WeightingConfig:
    """How the rule-based and model-based rewards are mixed, and how capabilities are weighted."""

    mode: str = option("inverse_variance", "fixed | inverse_variance | gdpo (see docs/methods.md).", choices=MODES)
    alpha: dict[str, float] = option(
        {"expertise": 0.7, "reasoning": 0.7, "instruction": 1.0, "integration": 0.7},
        "Weight of the rule-based score per capability (fixed and gdpo modes; the starting value of "
        "inverse_variance until its noise estimates exist).")
    weights: dict[str, float] = option(
        {"expertise": 1.0, "reasoning": 1.0, "instruction": 1.0, "integration": 1.0},
        "Capability weights w_c (fixed and gdpo modes).")
    ema: float = option(0.98, "Decay of the running moment sums per step (inverse_variance; 1 keeps all steps).",
                        min=0.0, max=1.0)
    min_samples: int = option(8, "Scored (rule, model) pairs a capability needs before alpha is estimated "
                              "(and at least min_groups prompt groups).", min=2)
    min_groups: int = option(4, "Prompt groups a capability needs before alpha is estimated (the scale of the "
                             "model score comes from the variation between prompts).", min=2)
    noise_floor: float = option(1e-3, "Lower bound on each noise variance estimate (rule-score units).", min=0.0,
                                min_exclusive=True)
    alpha_clip: list[float] = option([0.05, 0.95], "Range of the rule score's share of the hybrid's noise "
                                     "variance (inverse_variance; equal to alpha_c inside the range).")
    w_clip: list[float] = option([0.5, 2.0], "Range w_c is clipped to (inverse_variance).")


def noise_variances(rule: torch.Tensor, model: torch.Tensor, floor: float = 1e-3) -> tuple[float, float, float]:
    """One-level two-instrument estimate from pooled paired scores [N] (NaN pairs ignored):
    (s_rule, s_model, cov). Valid only when both scores share one scale; kept as the reference that
    :func:`two_level_noise` replaces (see docs/methods.md)."""
    ok = ~(torch.isnan(rule) | torch.isnan(model))
    r, m = rule[ok].double(), model[ok].double()
    if r.numel() < 2:
        return float("nan"), float("nan"), float("nan")
    cov = float(((r - r.mean()) * (m - m.mean())).mean())
    cov_pos = max(cov, 0.0)
    return max(float(r.var(unbiased=False)) - cov_pos, floor), max(float(m.var(unbiased=False)) - cov_pos, floor), cov


def min_variance_alpha(s_rule: float, s_model: float) -> float:
    """alpha minimising alpha^2 s_rule + (1 - alpha)^2 s_model: s_model / (s_rule + s_model)."""
    return s_model / (s_rule + s_model)


def rule_noise_share(alpha: float, s_rule: float, s_model: float) -> float:
    """The rule score's share of the hybrid's noise variance: alpha^2 s_rule / V(alpha)."""
    a, m = alpha * alpha * s_rule, (1 - alpha) ** 2 * s_model
    return a / (a + m) if a + m > 0 else float("nan")


def clipped_alpha(s_rule: float, s_model: float, lo: float, hi: float) -> float:
    """alpha_c with each score's share of the hybrid's noise variance kept within [lo, hi].

    At the minimum-variance alpha* the rule score's noise share equals alpha* itself, so where alpha* lies in
    [lo, hi] this is alpha*. Outside, clipping alpha itself would not bound anything: at alpha = 0.95 a model
    score estimated 10,000 times noisier than the rule score (a small scale b) still carries 97% of the
    hybrid's noise. Instead alpha is set where the noise share equals the bound p: alpha / (1 - alpha) =
    sqrt(p / (1 - p) * s_model / s_rule), which is continuous with alpha* at the bounds.
    """
    p = min(hi, max(lo, min_variance_alpha(s_rule, s_model)))
    if p <= 0.0 or p >= 1.0:
        return p
    t = (p / (1 - p) * s_model / s_rule) ** 0.5
    return t / (1 + t)


# sums over prompt groups kept per capability: groups, pairs, within-group covariances (rr, mm, rm),
# group means (r, m), their products (rr, mm, rm) and 1 / pairs
MOMENTS = ("groups", "pairs", "w_rr", "w_mm", "w_rm", "r", "m", "rr", "mm", "rm", "inv_n")


@dataclass(frozen=True)
class NoiseEstimate:
    """Two-level noise estimate of one capability, in rule-score units.

    scale: b, model-score units per rule unit; var_between / var_within: Var(u) / Var(v) of the latent
    quality; s_rule / s_model: noise variances of the rule score and of model / b.
    """

    scale: float
    var_between: float
    var_within: float
    s_rule: float
    s_model: float


def group_moments(rule: torch.Tensor, model: torch.Tensor, num_generations: int) -> torch.Tensor:
    """Sums of :data:`MOMENTS` [11] over the prompt groups (consecutive ``num_generations``) of paired scores [N];
    pairs with a NaN are left out, groups with fewer than 2 pairs are skipped."""
    r = rule.double().view(-1, num_generations)
    m = model.double().view(-1, num_generations)
    ok = ~(torch.isnan(r) | torch.isnan(m))                                 # [P, G]
    n = ok.sum(1)
    keep = n >= 2
    r, m, ok, n = r[keep], m[keep], ok[keep], n[keep].double()
    out = torch.zeros(len(MOMENTS), dtype=torch.float64)
    if r.shape[0] == 0:
        return out
    r = torch.where(ok, r, torch.zeros_like(r))
    m = torch.where(ok, m, torch.zeros_like(m))
    mr, mm = r.sum(1) / n, m.sum(1) / n                                   # group means [P']
    dr = torch.where(ok, r - mr[:, None], torch.zeros_like(r))
    dm = torch.where(ok, m - mm[:, None], torch.zeros_like(m))
    out[0], out[1] = float(r.shape[0]), float(n.sum())
    out[2] = ((dr * dr).sum(1) / (n - 1)).sum()
    out[3] = ((dm * dm).sum(1) / (n - 1)).sum()
    out[4] = ((dr * dm).sum(1) / (n - 1)).sum()
    out[5], out[6] = mr.sum(), mm.sum()
    out[7], out[8], out[9] = (mr * mr).sum(), (mm * mm).sum(), (mr * mm).sum()
    out[10] = (1.0 / n).sum()
    return out


def estimate_noise(sums: torch.Tensor | list[float], floor: float = 1e-3) -> NoiseEstimate | None:
    """Noise estimate from :func:`group_moments` sums, or None where it is not identified (fewer than 2
    groups, no variation between prompts, or the scores do not rise together between prompts).

    Within groups: W_rr = Var(v) + s_r, W_mm = b^2 Var(v) + s_m, W_rm = b Var(v). Between group means
    (n pairs each): B_rr = Var(u) + W_rr / n, B_rm = b Var(u) + W_rm / n (nu_i only enters B_mm).
    """
    x = [float(v) for v in sums]
    g = x[0]
    if g < 2:
        return None
    w_rr, w_mm, w_rm = x[2] / g, x[3] / g, x[4] / g
    mean_r, mean_m, inv_n = x[5] / g, x[6] / g, x[10] / g
    b_rr = x[7] / g - mean_r * mean_r
    b_rm = x[9] / g - mean_r * mean_m
    var_u = b_rr - inv_n * w_rr
    b_var_u = b_rm - inv_n * w_rm
    if var_u <= 1e-12 or b_var_u <= 0:
        return None
    b = b_var_u / var_u
    var_v = max(w_rm / b, 0.0)
    s_r = max(w_rr - var_v, floor)
    s_m = max((w_mm - b * max(w_rm, 0.0)) / (b * b), floor)
    return NoiseEstimate(scale=b, var_between=var_u, var_within=var_v, s_rule=s_r, s_model=s_m)


def two_level_noise(rule: torch.Tensor, model: torch.Tensor, num_generations: int,
                    floor: float = 1e-3) -> NoiseEstimate | None:
    """:func:`estimate_noise` of one batch of paired scores [N] in prompt groups of ``num_generations``."""
    return estimate_noise(group_moments(rule, model, num_generations), floor)


def group_normalize(x: torch.Tensor, num_generations: int, eps: float = 1e-4) -> torch.Tensor:
    """z-score within consecutive groups of ``num_generations`` [N] -> [N]; NaN entries stay NaN, a constant
    group gives 0."""
    g = x.view(-1, num_generations)                                    # [P, G]
    mean = torch.nanmean(g, dim=1, keepdim=True)
    dev = torch.where(torch.isnan(g), torch.zeros_like(g), g - mean)
    count = (~torch.isnan(g)).sum(1, keepdim=True).clamp_min(1)
    std = (dev.pow(2).sum(1, keepdim=True) / count).sqrt()
    return ((g - mean) / (std + eps)).view(-1)


def _mix(a: torch.Tensor, b: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """alpha * a + (1 - alpha) * b, falling back to the present score where one is NaN [N]."""
    mixed = alpha * a + (1 - alpha) * b
    mixed = torch.where(torch.isnan(a), b, mixed)
    return torch.where(torch.isnan(b), a, mixed)


class HybridWeighter:
    """Online state of the hybrid weighting (decayed moment sums per capability); ``state_dict`` for
    checkpoints."""

    def __init__(self, cfg: WeightingConfig, capabilities: list[str] | tuple[str, ...] = CAPABILITIES):
        self.cfg = cfg
        self.capabilities = list(capabilities)
        self.moments: dict[str, list[float]] = {c: [0.0] * len(MOMENTS) for c in self.capabilities}
        self.seen: dict[str, int] = {c: 0 for c in self.capabilities}
        self.groups: dict[str, int] = {c: 0 for c in self.capabilities}

    def state_dict(self) -> dict[str, Any]:
        return {"moments": {k: list(v) for k, v in self.moments.items()}, "seen": dict(self.seen),
                "groups": dict(self.groups), "layout": list(MOMENTS)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("layout") != list(MOMENTS):
            log.warning("weighting state from an older layout: the noise estimates start afresh")
            return
        self.moments = {k: list(v) for k, v in state["moments"].items()}
        self.seen = {k: int(v) for k, v in state["seen"].items()}
        self.groups = {k: int(v) for k, v in state["groups"].items()}

    def _update(self, cap: str, r: torch.Tensor, m: torch.Tensor, num_generations: int) -> None:
        batch = group_moments(r, m, num_generations)
        if batch[0] == 0:
            return
        beta = self.cfg.ema
        self.moments[cap] = [beta * old + float(new) for old, new in zip(self.moments[cap], batch)]
        self.seen[cap] += int(batch[1])
        self.groups[cap] += int(batch[0])

    def estimate(self, cap: str) -> NoiseEstimate | None:
        """Current noise estimate of a capability (None before min_samples pairs / min_groups groups, or
        while not identified)."""
        if self.seen.get(cap, 0) < self.cfg.min_samples or self.groups.get(cap, 0) < self.cfg.min_groups:
            return None
        return estimate_noise(self.moments[cap], self.cfg.noise_floor)

    def noise(self, cap: str) -> tuple[float, float]:
        """Current (s_rule, s_model) noise variances of a capability in rule units (NaN without an estimate)."""
        est = self.estimate(cap)
        return (float("nan"), float("nan")) if est is None else (est.s_rule, est.s_model)

    def alpha(self, cap: str) -> float:
        if self.cfg.mode == "inverse_variance":
            est = self.estimate(cap)
            if est is not None:
                lo, hi = self.cfg.alpha_clip
                return clipped_alpha(est.s_rule, est.s_model, lo, hi)
        return float(self.cfg.alpha.get(cap, 0.5))

    def scale(self, cap: str) -> float:
        """b_c: the model score enters the hybrid as model / b_c (1 without an estimate or outside
        inverse_variance)."""
        if self.cfg.mode == "inverse_variance":
            est = self.estimate(cap)
            if est is not None:
                return est.scale
        return 1.0

    def weights(self, present: list[str]) -> dict[str, float]:
        """Capability weights w_c for the capabilities ``present`` in a batch.

        ``inverse_variance``: w_c proportional to the within-group signal-to-noise ratio Var(v) / V(alpha_c)
        of the hybrid over the capabilities that have estimates, normalised to mean 1 among them and
        clipped to ``w_clip``. A capability without an estimate (too few pairs or groups, not identified,
        or one that never has both scores, e.g. instruction following with no gold answer) keeps its
        configured weight and does not hold the others back.
        """
        fixed = {c: float(self.cfg.weights.get(c, 1.0)) for c in present}
        if self.cfg.mode != "inverse_variance":
            return fixed
        snr: dict[str, float] = {}
        for c in present:
            est = self.estimate(c)
            if est is not None:
                a = self.alpha(c)
                snr[c] = est.var_within / (a * a * est.s_rule + (1 - a) ** 2 * est.s_model)
        mean = sum(snr.values()) / len(snr) if snr else 0.0
        if len(snr) < 2 or mean <= 0:
            return fixed  # relative weights need at least two capabilities with estimates
        lo, hi = self.cfg.w_clip
        return {**fixed, **{c: min(hi, max(lo, v / mean)) for c, v in snr.items()}}

    def combine(self, rule: torch.Tensor, model: torch.Tensor, capabilities: list[str],
                num_generations: int, *, update: bool = True) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """Hybrid rewards [N] and per-completion capability weights [N] for one global batch.

        ``rule`` / ``model``: [N] scores (NaN = not applicable); ``capabilities``: N names, constant within
        each consecutive group of ``num_generations``. Updates the online estimates first (inverse_variance),
        so alpha uses this batch too (``update=False``, e.g. for evaluation batches, leaves them). Returns
        metrics ``alpha/<cap>``, ``w/<cap>``, ``scale/<cap>`` and the noise estimates for logging.
        """
        n = rule.shape[0]
        if model.shape[0] != n or len(capabilities) != n:
            raise ValueError(f"rule, model and capabilities must have one entry per completion ({n})")
        present = [c for c in self.capabilities if c in set(capabilities)]
        unknown = sorted(set(capabilities) - set(self.capabilities))
        if unknown:
            raise ValueError(f"unknown capability {unknown[0]!r}; expected one of {', '.join(self.capabilities)}")
        cap_index = torch.tensor([self.capabilities.index(c) for c in capabilities], device=rule.device)
        group_cap = cap_index.view(-1, num_generations)[:, 0]
        if self.cfg.mode == "inverse_variance" and update:
            for c in present:
                groups = (group_cap == self.capabilities.index(c)).repeat_interleave(num_generations)
                self._update(c, rule[groups], model[groups], num_generations)
        alpha_list = [self.alpha(c) for c in self.capabilities]
        scale_list = [self.scale(c) for c in self.capabilities]
        alpha = torch.tensor(alpha_list, dtype=rule.dtype, device=rule.device)[cap_index]       # [N]
        scale = torch.tensor(scale_list, dtype=rule.dtype, device=rule.device)[cap_index]       # [N]
        if self.cfg.mode == "gdpo":
            rewards = _mix(group_normalize(rule, num_generations), group_normalize(model, num_generations), alpha)
        else:
            rewards = _mix(rule, model / scale, alpha)
        w = self.weights(present)
        weight = torch.tensor([w.get(c, 1.0) for c in capabilities], dtype=rule.dtype, device=rule.device)
        metrics = {f"alpha/{c}": alpha_list[self.capabilities.index(c)] for c in present}
        metrics.update({f"w/{c}": w[c] for c in present})
        for c in present:
            est = self.estimate(c) if self.cfg.mode == "inverse_variance" else None
            if est is not None:
                metrics[f"scale/{c}"] = est.scale
                metrics[f"noise_rule/{c}"] = est.s_rule
                metrics[f"noise_model/{c}"] = est.s_model
                metrics[f"signal_within/{c}"] = est.var_within
        return rewards, weight, metrics


def group_advantages(rewards: torch.Tensor, num_generations: int, *, scale: bool = True,
                     eps: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor]:
    """Group-relative advantages (DeepSeekMath GRPO, arXiv 2402.03300) [N] -> ([N], zero_std [P]).

    A_i = r_i - mean(group), divided by the group std when ``scale`` (Dr. GRPO, arXiv 2503.20783, does
    not). NaN rewards are left out of the baseline and get advantage 0. A group whose rewards are all
    equal carries no signal: its advantages are exactly 0 (never NaN) and it is flagged in ``zero_std``.
    """
    g = rewards.view(-1, num_generations)                                # [P, G]
    valid = ~torch.isnan(g)
    count = valid.sum(1, keepdim=True).clamp_min(1)
    filled = torch.where(valid, g, torch.zeros_like(g))
    mean = filled.sum(1, keepdim=True) / count
    dev = torch.where(valid, g - mean, torch.zeros_like(g))
    std = (dev.pow(2).sum(1, keepdim=True) / (count - 1).clamp_min(1)).sqrt()
    zero_std = (std.squeeze(1) < 1e-8) | (valid.sum(1) < 2)
    adv = dev / (std + eps) if scale else dev
    adv = torch.where(zero_std[:, None], torch.zeros_like(adv), adv)
    return adv.reshape(-1), zero_std
