"""TRL's loss metrics from per-capability sums: the pieces add up to the whole batch's values."""

from __future__ import annotations

import math

import pytest
import torch

from balancedbio.train.grpo_loss import LossSettings, policy_token_loss
from balancedbio.train.grpo_metrics import loss_metrics, loss_stat_sums, nan_reduce, seq_clip_means


def _batch(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    logps = torch.randn(6, 5, generator=gen) * 0.1 - 2
    old = logps + torch.randn(6, 5, generator=gen) * 0.4
    adv = torch.randn(6, generator=gen)
    mask = torch.ones(6, 5)
    mask[1, 3:] = 0
    mask[4, :] = 0                                     # a row without valid tokens
    ent = torch.rand(6, 5, generator=gen)
    return logps, old, adv, mask, ent


@pytest.mark.parametrize("level", ["token", "sequence"])
def test_split_sums_equal_the_whole_batch(level):
    logps, old, adv, mask, ent = _batch()
    s = LossSettings(loss_type="dapo", eps_low=0.2, eps_high=0.28, importance_sampling_level=level)

    def parts(rows):
        stats = {}
        policy_token_loss(logps[rows], old[rows], adv[rows], mask[rows], s, stats=stats)
        return loss_stat_sums(stats, mask[rows], with_kl=False, entropies=ent[rows]), seq_clip_means(stats, mask[rows])

    whole, whole_seq = parts(torch.arange(6))
    a, a_seq = parts(torch.tensor([0, 2, 4]))
    b, b_seq = parts(torch.tensor([1, 3, 5]))
    assert torch.allclose(a + b, whole)
    split = loss_metrics(a + b, torch.cat([a_seq, b_seq]), None, s)
    full = loss_metrics(whole, whole_seq, None, s)
    assert split == pytest.approx(full, nan_ok=True)
    assert full["entropy"] == pytest.approx(float((ent * mask).sum() / mask.sum()))
    per = mask.sum() if level == "token" else 6
    assert full["clip_ratio/region_mean"] == pytest.approx(float(whole[3] / per))
    assert full["clip_ratio/high_max"] >= full["clip_ratio/high_mean"] - 1e-6 or math.isnan(full["clip_ratio/high_max"])


def test_loss_type_decides_the_keys():
    logps, old, adv, mask, ent = _batch(1)
    cispo = LossSettings(loss_type="cispo", eps_high=1.05, entropy_coef=0.01)
    stats = {}
    policy_token_loss(logps, old, adv, mask, cispo, stats=stats)
    total = loss_stat_sums(stats, mask, with_kl=False, entropies=ent)
    out = loss_metrics(total, None, 0.5, cispo, sync_gradients=False)
    assert set(out) == {"entropy", "cispo_clip_ratio", "policy_loss"}      # entropy_coef only at a sync
    assert "entropy_coef" in loss_metrics(total, None, 0.5, cispo, sync_gradients=True)
    assert out["cispo_clip_ratio"] == pytest.approx(float(((stats["ratio"] > 1.05) & (adv[:, None] > 0)).float()
                                                           .mul(mask).sum() / mask.sum()))


def test_nan_reduce():
    assert nan_reduce(torch.tensor([float("nan"), 0.5, 0.2]), torch.min) == pytest.approx(0.2)
    assert math.isnan(nan_reduce(torch.tensor([float("nan")]), torch.max))
