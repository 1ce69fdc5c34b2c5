"""Hybrid reward weighting for Capability-Aware GRPO: r_c = alpha_c * rule + (1 - alpha_c) * model, times w_c.

BalancedBio (Wu et al., arXiv 2508.04278) names an "optimal hybrid reward weighting" without publishing its
formula; the three modes below are our design (derivation in ``docs/grpo.md``):

* ``fixed``            alpha_c and w_c from the config.
* ``inverse_variance`` alpha_c is the minimum-variance combination of the two scores. Both scores are read
                       as noisy measurements of one latent quality q on a common [0, 1] scale,
                       ``rule = q + e_r``, ``model = q + e_m``, with independent zero-mean noise. Then
                       ``Cov(rule, model) = Var(q)``, so the noise variances are identified as
                       ``s_r = Var(rule) - Cov``, ``s_m = Var(model) - Cov`` (the two-instrument
                       estimator of Grubbs, 1948), estimated online with an exponential moving average of
                       the batch moments, and ``alpha_c = s_m / (s_r + s_m)`` minimises the noise variance
                       ``alpha^2 s_r + (1 - alpha)^2 s_m`` of the hybrid. w_c is proportional to the inverse
                       noise variance of the hybrid, normalised to mean 1 over the capabilities present and
                       clipped to ``w_clip``.
* ``gdpo``             GDPO (arXiv 2601.05242): each score is normalised within its prompt group (z-score),
                       then summed with weights alpha_c / (1 - alpha_c); w_c from the config.

A missing score (None / NaN: e.g. no gold answer for the model-based similarity) falls back to the other
one for that completion. Pure helpers are exposed for tests; :class:`HybridWeighter` keeps the online state.

Example::

    >>> w = HybridWeighter(WeightingConfig(mode="fixed"), ["expertise", "reasoning"])
    >>> rewards, weights, metrics = w.combine(rule, model, caps, num_generations=4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from balancedbio.config import option
from balancedbio.rows import CAPABILITIES

MODES = ("fixed", "inverse_variance", "gdpo")


@dataclass(frozen=True)
class WeightingConfig:
    """How the rule-based and model-based rewards are mixed, and how capabilities are weighted."""

    mode: str = option("inverse_variance", "fixed | inverse_variance | gdpo (see docs/grpo.md).", choices=MODES)
    alpha: dict[str, float] = option(
        {"expertise": 0.7, "reasoning": 0.7, "instruction": 1.0, "integration": 0.7},
        "Weight of the rule-based score per capability (fixed and gdpo modes; the starting value of "
        "inverse_variance until min_samples scored pairs were seen).")
    weights: dict[str, float] = option(
        {"expertise": 1.0, "reasoning": 1.0, "instruction": 1.0, "integration": 1.0},
        "Capability weights w_c (fixed and gdpo modes).")
    ema: float = option(0.9, "Momentum of the online moment estimates (inverse_variance).", min=0.0, max=1.0)
    min_samples: int = option(8, "Scored (rule, model) pairs a capability needs before alpha is estimated.", min=2)
    noise_floor: float = option(1e-3, "Lower bound on each noise variance estimate.", min=0.0, min_exclusive=True)
    alpha_clip: list[float] = option([0.05, 0.95], "Range alpha_c is clipped to (inverse_variance).")
    w_clip: list[float] = option([0.5, 2.0], "Range w_c is clipped to (inverse_variance).")


def noise_variances(rule: torch.Tensor, model: torch.Tensor, floor: float = 1e-3) -> tuple[float, float, float]:
    """Two-instrument noise estimate from paired scores [N] (NaN pairs ignored): (s_rule, s_model, cov)."""
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
    """Online state of the hybrid weighting (moment EMAs per capability); ``state_dict`` for checkpoints."""

    def __init__(self, cfg: WeightingConfig, capabilities: list[str] | tuple[str, ...] = CAPABILITIES):
        self.cfg = cfg
        self.capabilities = list(capabilities)
        # per capability: EMA of E[r], E[m], E[r^2], E[m^2], E[rm], and the number of pairs seen
        self.moments: dict[str, list[float]] = {c: [0.0] * 5 for c in self.capabilities}
        self.seen: dict[str, int] = {c: 0 for c in self.capabilities}

    def state_dict(self) -> dict[str, Any]:
        return {"moments": {k: list(v) for k, v in self.moments.items()}, "seen": dict(self.seen)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.moments = {k: list(v) for k, v in state["moments"].items()}
        self.seen = {k: int(v) for k, v in state["seen"].items()}

    def _update(self, cap: str, r: torch.Tensor, m: torch.Tensor) -> None:
        ok = ~(torch.isnan(r) | torch.isnan(m))
        r, m = r[ok].double(), m[ok].double()
        if r.numel() == 0:
            return
        batch = [float(r.mean()), float(m.mean()), float((r * r).mean()), float((m * m).mean()), float((r * m).mean())]
        if self.seen[cap] == 0:
            self.moments[cap] = batch
        else:
            beta = self.cfg.ema
            self.moments[cap] = [beta * old + (1 - beta) * new for old, new in zip(self.moments[cap], batch)]
        self.seen[cap] += int(r.numel())

    def noise(self, cap: str) -> tuple[float, float]:
        """Current (s_rule, s_model) noise variance estimates of a capability (NaN before min_samples)."""
        if self.seen.get(cap, 0) < self.cfg.min_samples:
            return float("nan"), float("nan")
        er, em, err, emm, erm = self.moments[cap]
        cov = max(erm - er * em, 0.0)
        floor = self.cfg.noise_floor
        return max(err - er * er - cov, floor), max(emm - em * em - cov, floor)

    def alpha(self, cap: str) -> float:
        if self.cfg.mode == "inverse_variance":
            s_r, s_m = self.noise(cap)
            if not math.isnan(s_r):
                lo, hi = self.cfg.alpha_clip
                return min(hi, max(lo, min_variance_alpha(s_r, s_m)))
        return float(self.cfg.alpha.get(cap, 0.5))

    def weights(self, present: list[str]) -> dict[str, float]:
        """Capability weights w_c for the capabilities ``present`` in a batch.

        ``inverse_variance``: w_c proportional to 1 / V_c(alpha_c) over the capabilities that have noise
        estimates, normalised to mean 1 among them and clipped to ``w_clip``. A capability without an
        estimate (fewer than ``min_samples`` pairs, or one that never has both scores, e.g. instruction
        following with no gold answer) keeps its configured weight and does not hold the others back.
        """
        fixed = {c: float(self.cfg.weights.get(c, 1.0)) for c in present}
        if self.cfg.mode != "inverse_variance":
            return fixed
        inv: dict[str, float] = {}
        for c in present:
            s_r, s_m = self.noise(c)
            if not math.isnan(s_r):
                a = self.alpha(c)
                inv[c] = 1.0 / (a * a * s_r + (1 - a) ** 2 * s_m)
        if len(inv) < 2:
            return fixed  # relative weights need at least two capabilities with estimates
        mean = sum(inv.values()) / len(inv)
        lo, hi = self.cfg.w_clip
        return {**fixed, **{c: min(hi, max(lo, v / mean)) for c, v in inv.items()}}

    def combine(self, rule: torch.Tensor, model: torch.Tensor, capabilities: list[str],
                num_generations: int, *, update: bool = True) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """Hybrid rewards [N] and per-completion capability weights [N] for one global batch.

        ``rule`` / ``model``: [N] scores (NaN = not applicable); ``capabilities``: N names, constant within
        each consecutive group of ``num_generations``. Updates the online estimates first (inverse_variance),
        so alpha uses this batch too (``update=False``, e.g. for evaluation batches, leaves them). Returns metrics ``alpha/<cap>``, ``w/<cap>`` for logging.
        """
        n = rule.shape[0]
        if model.shape[0] != n or len(capabilities) != n:
            raise ValueError(f"rule, model and capabilities must have one entry per completion ({n})")
        present = [c for c in self.capabilities if c in set(capabilities)]
        unknown = sorted(set(capabilities) - set(self.capabilities))
        if unknown:
            raise ValueError(f"unknown capability {unknown[0]!r}; expected one of {', '.join(self.capabilities)}")
        cap_index = torch.tensor([self.capabilities.index(c) for c in capabilities], device=rule.device)
        if self.cfg.mode == "inverse_variance" and update:
            for c in present:
                sel = cap_index == self.capabilities.index(c)
                self._update(c, rule[sel], model[sel])
        alpha_list = [self.alpha(c) for c in self.capabilities]
        alphas = torch.tensor(alpha_list, dtype=rule.dtype, device=rule.device)
        alpha = alphas[cap_index]                                         # [N]
        if self.cfg.mode == "gdpo":
            rewards = _mix(group_normalize(rule, num_generations), group_normalize(model, num_generations), alpha)
        else:
            rewards = _mix(rule, model, alpha)
        w = self.weights(present)
        weight = torch.tensor([w.get(c, 1.0) for c in capabilities], dtype=rule.dtype, device=rule.device)
        metrics = {f"alpha/{c}": alpha_list[self.capabilities.index(c)] for c in present}
        metrics.update({f"w/{c}": w[c] for c in present})
        for c in present:
            s_r, s_m = self.noise(c)
            if not math.isnan(s_r):
                metrics[f"noise_rule/{c}"] = s_r
                metrics[f"noise_model/{c}"] = s_m
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
