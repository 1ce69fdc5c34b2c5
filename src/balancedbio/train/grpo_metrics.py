"""The loss metrics TRL's ``GRPOTrainer._compute_loss`` logs, rebuilt from per-capability passes.

The capability-aware step computes the loss of each capability's rows separately, so TRL's own logging never
runs. Each pass leaves its sums (:func:`loss_stat_sums`) and per-sequence clip shares (:func:`seq_clip_means`);
the trainer reduces them over ranks once per step, and :func:`loss_metrics` turns the totals into TRL's metric
names and values (checked value for value against TRL in ``tests/train/test_grpo_loss_parity.py``).
"""

from __future__ import annotations

import torch

from balancedbio.train.grpo_loss import CLIPPED, LossSettings


def loss_stat_sums(stats: dict, mask: torch.Tensor, *, with_kl: bool,
                   entropies: torch.Tensor | None = None) -> torch.Tensor:
    """[kl, low-clipped, high-clipped, region-clipped, valid tokens, rows, entropy, cispo-clipped] summed over
    some rows, from the ``stats`` of :func:`~balancedbio.train.grpo_loss.policy_token_loss` and the token ``entropies``: summed over ranks
    and rows, then divided as TRL's logs divide (token means; per-sequence clip flags of a sequence-level ratio
    are counted per row, as TRL counts them)."""
    m = mask.float()

    def msum(x: torch.Tensor | None) -> torch.Tensor:
        if x is None:
            return torch.zeros((), device=m.device)
        return x.float().sum() if x.shape[-1] == 1 else (x.float() * m).sum()

    low, high = stats.get("low_clipped"), stats.get("high_clipped")
    region = (low | high) if low is not None else None
    ent = None if entropies is None else entropies.detach()
    return torch.stack([msum(stats.get("kl") if with_kl else None), msum(low), msum(high), msum(region), m.sum(),
                        torch.tensor(float(m.shape[0]), device=m.device), msum(ent),
                        msum(stats.get("cispo_clipped"))])


def seq_clip_means(stats: dict, mask: torch.Tensor) -> torch.Tensor | None:
    """[B, 2]: each sequence's share of low- and high-clipped tokens (NaN for a sequence without valid tokens),
    as TRL reduces them to ``clip_ratio/low_min`` and ``clip_ratio/high_max``; None for unclipped loss types."""
    low, high = stats.get("low_clipped"), stats.get("high_clipped")
    if low is None:
        return None
    m = mask.float()

    def per_seq(x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:            # sequence-level ratio: one flag per sequence
            return x.float().squeeze(1)
        return (x.float() * m).sum(-1) / m.sum(-1)

    return torch.stack([per_seq(low), per_seq(high)], dim=1)

def nan_reduce(x: torch.Tensor, op) -> float:
    """``op`` (torch.min / torch.max) over the non-NaN values of ``x``; NaN when there are none (TRL's nanmin /
    nanmax)."""
    kept = x[~torch.isnan(x)]
    return float(op(kept)) if kept.numel() else float("nan")


def loss_metrics(total: torch.Tensor, seq_clips: torch.Tensor | None, policy_loss: float | None,
                 settings: LossSettings, *, sync_gradients: bool = True) -> dict[str, float]:
    """TRL's loss metrics of one micro-batch: ``total`` is :func:`loss_stat_sums` summed over passes and ranks,
    ``seq_clips`` every rank's :func:`seq_clip_means` rows (clipped loss types), ``policy_loss`` the policy term's
    mean over ranks (logged with an entropy bonus)."""
    tokens = float(total[4].clamp(min=1.0))
    per = tokens if settings.importance_sampling_level == "token" else float(total[5].clamp(min=1.0))
    out: dict[str, float] = {}
    if settings.beta != 0.0:
        out["kl"] = float(total[0]) / tokens
    out["entropy"] = float(total[6]) / tokens
    if settings.loss_type in CLIPPED:
        out["clip_ratio/low_mean"] = float(total[1]) / per
        out["clip_ratio/high_mean"] = float(total[2]) / per
        out["clip_ratio/region_mean"] = float(total[3]) / per
        if seq_clips is not None:
            out["clip_ratio/low_min"] = nan_reduce(seq_clips[:, 0], torch.min)
            out["clip_ratio/high_max"] = nan_reduce(seq_clips[:, 1], torch.max)
    elif settings.loss_type == "cispo":
        out["cispo_clip_ratio"] = float(total[7]) / per
    if settings.entropy_coef != 0.0:
        if policy_loss is not None:
            out["policy_loss"] = float(policy_loss)
        if sync_gradients:
            out["entropy_coef"] = settings.entropy_coef
    return out
