"""GRPO policy losses as pure functions, the same arithmetic as TRL 1.16's ``GRPOTrainer._compute_loss``.

Token objective (:func:`policy_token_loss`), for the accepted ``loss_type`` values:

- ``grpo``, ``bnpo``, ``dr_grpo``, ``dapo``, ``luspo``: PPO-style clipped surrogate
  -min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A), rho optionally capped at ``delta`` (two-sided clipping);
- ``cispo``: -sg(min(rho, eps_high)) A log pi (CISPO, MiniMax-M1);
- ``sapo``: soft gate -sigmoid(tau (rho - 1)) 4 / tau A with tau by the sign of A (SAPO).

and everything TRL multiplies in or adds afterwards: the off-policy sequence mask (``off_policy_mask_threshold``),
the high-entropy token mask (``top_entropy_quantile``), the vLLM importance-sampling ratio (any of its four
modes: TRL computes the ratio while scoring the rollouts, the loss multiplies it in), and ``beta`` times the k3
KL estimate to the reference (times rho when ``use_bias_correction_kl``). rho is per token or per sequence
(``importance_sampling_level``).

Aggregation (:func:`aggregate_loss`) takes the denominators of the *whole local micro-batch* explicitly, so the
loss of a subset of rows (one capability's) is that subset's share of the batch loss: summing the K
per-capability losses gives exactly TRL's loss for the batch, and summing their gradients its gradient (tested
against TRL for every accepted loss type). That is what lets gradient surgery replace the plain sum without
changing the scale.

- ``grpo``, ``sapo``: mean over sequences of each sequence's mean token loss (DeepSeekMath, arXiv 2402.03300);
- ``bnpo``: sum of token losses / valid tokens of the micro-batch;
- ``dr_grpo``: sum / (sequences x max completion length), a constant (Dr. GRPO, arXiv 2503.20783);
- ``dapo``, ``cispo``: sum / valid tokens of the generation batch per process (DAPO, arXiv 2503.14476);
- ``luspo``: mean over sequences of each sequence's *summed* token loss.

Example::

    >>> s = LossSettings(loss_type="grpo")
    >>> tok = policy_token_loss(logps, logps.detach(), adv, mask, s)                     # [B, T]
    >>> loss = aggregate_loss(tok, mask, s, num_rows=B, num_mask_tokens=mask.sum(),
    ...                       max_completion_length=T, num_tokens=mask.sum())
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo", "luspo")
CLIPPED = ("grpo", "bnpo", "dr_grpo", "dapo", "luspo")    # the PPO-style clipped surrogates (TRL logs their clip ratios)
WINDOW_NORMALISED = ("dapo", "cispo")  # divided by the generation window's tokens, never by the accumulation steps


@dataclass(frozen=True)
class LossSettings:
    """The options of TRL's GRPO loss that shape the per-token objective (names as in ``GRPOConfig``)."""

    loss_type: str = "grpo"
    eps_low: float = 0.2
    eps_high: float = 0.2
    delta: float | None = None                      # cap on rho (two-sided clipping); None: off
    beta: float = 0.0                               # KL coefficient
    use_bias_correction_kl: bool = False            # KL term times rho
    importance_sampling_level: str = "token"        # token | sequence
    off_policy_mask_threshold: float | None = None  # drop negative-advantage sequences whose mean KL exceeds it
    sapo_temperature_pos: float = 1.0
    sapo_temperature_neg: float = 1.05
    entropy_coef: float = 0.0                       # entropy bonus (static coefficient)

    def __post_init__(self) -> None:
        if self.loss_type not in LOSS_TYPES:
            raise ValueError(f"unknown loss type {self.loss_type!r}; choose one of {', '.join(LOSS_TYPES)}")
        if self.importance_sampling_level not in ("token", "sequence"):
            raise ValueError(f"importance_sampling_level must be token or sequence, got "
                             f"{self.importance_sampling_level!r}")


def off_policy_mask(advantages: torch.Tensor, logps: torch.Tensor, sampling_logps: torch.Tensor,
                    mask: torch.Tensor, threshold: float) -> torch.Tensor:
    """[B, 1] keep mask (DeepSeek-V3.2): keep a sequence if its advantage is >= 0 or its mean KL <= threshold."""
    kl = torch.nan_to_num(sampling_logps - logps.detach(), nan=0.0)
    seq_kl = (kl * mask).sum(dim=1, keepdim=True) / mask.sum(dim=1, keepdim=True).clamp(min=1.0)
    return ((advantages >= 0) | (seq_kl <= threshold)).to(dtype=mask.dtype)


def policy_token_loss(logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                      settings: LossSettings, *, ref_logps: torch.Tensor | None = None,
                      sampling_logps: torch.Tensor | None = None, is_ratio: torch.Tensor | None = None,
                      entropy_mask: torch.Tensor | None = None, stats: dict | None = None) -> torch.Tensor:
    """Per-token loss [B, T] (or [B, 1] for a sequence-level ratio without a token-level factor), unmasked.

    logps, old_logps, ref_logps, sampling_logps, mask, entropy_mask: [B, T]; advantages: [B] or [B, T];
    is_ratio: the vLLM importance-sampling ratio, [B, T] or [B, 1] (None: no correction). ``stats``, when a
    dict, receives the detached ratio rho (``ratio``), the KL term (``kl``, when beta != 0) and the clipped
    tokens (``low_clipped``, ``high_clipped`` for the clipped loss types, ``cispo_clipped`` for cispo), for
    logging.
    """
    s = settings
    adv = advantages.unsqueeze(1) if advantages.dim() == 1 else advantages
    keep = None
    if s.off_policy_mask_threshold is not None:
        sampled = sampling_logps if sampling_logps is not None else old_logps
        keep = off_policy_mask(adv, logps, sampled, mask, s.off_policy_mask_threshold)
    log_ratio = logps - old_logps
    if s.importance_sampling_level == "sequence":
        log_ratio = ((log_ratio * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).unsqueeze(-1)   # [B, 1]
    ratio = torch.exp(log_ratio)
    if s.beta != 0.0:
        if ref_logps is None:
            raise ValueError("beta != 0 needs ref_logps")
        kl = torch.exp(ref_logps - logps) - (ref_logps - logps) - 1                           # k3, >= 0
        if s.use_bias_correction_kl:
            kl = kl * ratio
    if s.loss_type == "cispo":
        loss = -torch.clamp(ratio, max=s.eps_high).detach() * adv * logps
    elif s.loss_type in CLIPPED:
        clipped = torch.clamp(ratio, 1 - s.eps_low, 1 + s.eps_high)
        capped = torch.clamp(ratio, max=s.delta) if s.delta is not None else ratio
        loss = -torch.min(capped * adv, clipped * adv)
    else:  # sapo
        tau = torch.where(adv > 0, s.sapo_temperature_pos, s.sapo_temperature_neg)
        loss = -torch.sigmoid(tau * (ratio - 1)) * 4 / tau * adv
    if stats is not None:
        stats["ratio"] = ratio.detach()
        if s.beta != 0.0:
            stats["kl"] = kl.detach()
        if s.loss_type in CLIPPED:
            stats["low_clipped"] = ((ratio < 1 - s.eps_low) & (adv < 0)).detach()
            stats["high_clipped"] = ((ratio > 1 + s.eps_high) & (adv > 0)).detach()
        elif s.loss_type == "cispo":
            stats["cispo_clipped"] = ((ratio > s.eps_high) & (adv > 0)).detach()
    if keep is not None:
        loss = loss * keep
    if entropy_mask is not None:
        loss = loss * entropy_mask
    if is_ratio is not None:
        loss = loss * is_ratio
    if s.beta != 0.0:
        loss = loss + s.beta * kl
    return loss


def aggregate_loss(token_loss: torch.Tensor, mask: torch.Tensor, settings: LossSettings | str, *, num_rows: int,
                   max_completion_length: int, num_tokens: float | torch.Tensor,
                   num_mask_tokens: float | torch.Tensor | None = None, accumulation: int = 1) -> torch.Tensor:
    """Reduce the token losses of (a subset of) a micro-batch to a scalar with the whole batch's denominators.

    ``num_rows``: sequences in the micro-batch (grpo, sapo, dr_grpo, luspo); ``num_mask_tokens``: valid tokens
    of the micro-batch (bnpo; defaults to those of ``mask``); ``num_tokens``: the dapo / cispo denominator
    as TRL forms it (valid tokens of the generation batch, at least 1, per process, scaled to one accumulation
    window);
    ``max_completion_length``: dr_grpo's constant; ``accumulation``: gradient accumulation steps (every type
    but dapo / cispo divides by it, as TRL does).
    """
    loss_type = settings.loss_type if isinstance(settings, LossSettings) else settings
    masked = token_loss * mask.to(token_loss.dtype)                                    # [B', T]
    rows = max(num_rows, 1)
    if loss_type in ("grpo", "sapo"):
        per_seq = masked.sum(-1) / mask.sum(-1).to(token_loss.dtype).clamp(min=1.0)
        return per_seq.sum() / rows / accumulation
    if loss_type == "bnpo":
        total = mask.sum() if num_mask_tokens is None else num_mask_tokens
        denom = torch.as_tensor(total, dtype=token_loss.dtype, device=token_loss.device).clamp(min=1.0)
        return masked.sum() / denom / accumulation
    if loss_type == "dr_grpo":
        return masked.sum() / (rows * max_completion_length) / accumulation
    if loss_type in WINDOW_NORMALISED:
        return masked.sum() / torch.as_tensor(num_tokens, dtype=token_loss.dtype, device=token_loss.device)
    if loss_type == "luspo":
        return masked.sum(-1).sum() / rows / accumulation
    raise ValueError(f"unknown loss type {loss_type!r}; choose one of {', '.join(LOSS_TYPES)}")


def entropy_bonus(entropies: torch.Tensor, mask: torch.Tensor, *, num_mask_tokens: float | torch.Tensor,
                  accumulation: int = 1) -> torch.Tensor:
    """This subset's share of the micro-batch's mean token entropy (``num_mask_tokens``: the batch's tokens)."""
    denom = torch.as_tensor(num_mask_tokens, dtype=entropies.dtype, device=entropies.device).clamp(min=1.0)
    return (entropies * mask).sum() / denom / accumulation


def clipped_token_loss(logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor,
                       mask: torch.Tensor, *, eps_low: float = 0.2, eps_high: float = 0.2, beta: float = 0.0,
                       ref_logps: torch.Tensor | None = None) -> torch.Tensor:
    """The clipped surrogate (+ beta k3 KL, without bias correction) per token: :func:`policy_token_loss` with
    ``loss_type=grpo``. logps, old_logps, ref_logps, mask: [B, T]; advantages: [B] or [B, T]."""
    settings = LossSettings(loss_type="grpo", eps_low=eps_low, eps_high=eps_high, beta=beta)
    return policy_token_loss(logps, old_logps, advantages, mask, settings, ref_logps=ref_logps)
