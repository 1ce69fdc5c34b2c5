"""``BalancedSFTTrainer``: TRL's ``SFTTrainer`` with the NLL / DFT / BFT loss of :mod:`balancedbio.losses`.

BFT (Tang et al., arXiv 2511.21075) needs each target token's log-probability and the mask, nothing
else, so the loss is computed from TRL's fused, chunked LM head (``model(..., fused_lm_head=True)``,
``trl.trainer.utils.add_fused_lm_head``): the [B, T, V] logits are never materialised, and BFT costs one
extra pass over the [B, T] log-probabilities (the sliding-window confidence), not an extra model pass.

Denominators (the one place they are decided):
- ``nll`` / ``dft``: token sum over the whole optimizer step's tokens, exactly as TRL (``num_items_in_batch``
  counts the tokens of every accumulated micro-batch on every rank; DDP averages gradients, so the loss is
  multiplied by the number of processes).
- ``bft``: plain mean over the micro-batch's samples (docs/bft.md), divided by the number of accumulated
  micro-batches; DDP averages over ranks, so one optimizer step is a mean over all of its samples.
Either way the returned loss is already scaled for gradient accumulation (``loss_is_scaled_for_ga``).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from trl import SFTTrainer

from balancedbio.errors import BalancedBioError
from balancedbio.losses import sft_loss_from_logps
from balancedbio.model_card import ModelCardMixin

log = logging.getLogger(__name__)


class BalancedSFTTrainer(ModelCardMixin, SFTTrainer):
    """SFTTrainer whose loss is ``balancedbio.losses.sft_loss_from_logps`` on fused-head log-probs."""

    loss_is_scaled_for_ga = True

    def __init__(self, *args: Any, method: str = "bft", group_size: int = 256, gamma: float = 1.0,
                 max_nonfinite: int = 10, stats_buffer: Any = None, warmup_ratio: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.warmup_ratio = warmup_ratio
        self.method = method
        self.group_size = group_size
        self.gamma = gamma
        self.max_nonfinite = max_nonfinite
        self.nonfinite_skipped = 0
        self.stats_buffer = stats_buffer

    def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
        """The Trainer's scheduler, with ``warmup_ratio`` turned into whole steps by
        :func:`balancedbio.train.recipe.warmup_steps` (rounded down, so a short run never trains only at lr 0)."""
        if self.lr_scheduler is None and self.warmup_ratio is not None:
            from balancedbio.train.recipe import warmup_steps

            self.args.warmup_steps = warmup_steps(self.warmup_ratio, num_training_steps)
        return super().create_scheduler(num_training_steps, optimizer)

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        mode = "train" if self.model.training else "eval"
        inputs["use_cache"] = False
        outputs = model(**inputs, fused_lm_head=True)
        token_logps, mask = outputs.log_probs, outputs.label_mask  # [B, T-1] each, zero where masked
        loss, metrics = sft_loss_from_logps(token_logps, mask, method=self.method, group_size=self.group_size,
                                            gamma=self.gamma)
        ga = self.current_gradient_accumulation_steps if mode == "train" else 1
        if self.method in ("nll", "dft") and num_items_in_batch is not None:
            token_sum = loss * max(metrics["num_tokens"], 1)
            loss = token_sum / num_items_in_batch
            if self.args.average_tokens_across_devices:
                loss = loss * (self.accelerator.num_processes // self.get_tp_size())
        else:
            loss = loss / ga

        if not torch.isfinite(loss):
            self.nonfinite_skipped += 1
            log.warning("non-finite loss (%s) in a micro-batch at step %d: skipped (%d so far)", loss.item(),
                        self.state.global_step, self.nonfinite_skipped)
            if self.nonfinite_skipped > self.max_nonfinite:
                raise BalancedBioError(f"{self.nonfinite_skipped} micro-batches had a NaN/inf loss (limit "
                                       f"train.max_nonfinite={self.max_nonfinite}); stopped without saving")
            # A zero that keeps the graph connected, with zero gradients, so DDP ranks stay in step.
            loss = token_logps.nan_to_num(0.0, 0.0, 0.0).sum() * 0.0

        self._record(mode, inputs, outputs, metrics)
        return (loss, outputs) if return_outputs else loss

    def _record(self, mode: str, inputs: dict[str, Any], outputs: Any, metrics: dict[str, Any]) -> None:
        gather = self.accelerator.gather_for_metrics
        device = outputs.log_probs.device
        m = self._metrics[mode]
        num_valid = gather(outputs.label_mask.sum()).sum()
        if outputs.entropy is not None:
            entropy_sum = gather(outputs.entropy.detach().sum()).sum()
            m["entropy"].append((entropy_sum / num_valid).item() if num_valid > 0 else 0.0)
        if outputs.is_top1 is not None:
            correct = gather(outputs.is_top1.sum()).sum()
            m["mean_token_accuracy"].append((correct / num_valid).item() if num_valid > 0 else 0.0)
        prob_sum = torch.tensor(metrics["mean_token_prob"] * metrics["num_tokens"], device=device)
        m["mean_token_prob"].append((gather(prob_sum).sum() / num_valid.clamp(min=1)).item())
        conf, weights = metrics["confidences"], metrics["weights"]
        nonempty = (outputs.label_mask.sum(dim=1) > 0)
        if nonempty.any():
            m["sample_confidence"].append(conf[nonempty].mean().item())
            m["sample_weight"].append(weights[nonempty].mean().item())
            if self.stats_buffer is not None:
                self.stats_buffer.add(conf[nonempty], weights[nonempty])
        m["nonfinite_skipped"] = [float(self.nonfinite_skipped)]
        if mode == "train":
            attention = inputs.get("attention_mask")
            local = attention.sum() if attention is not None else torch.tensor(inputs["input_ids"].numel(), device=device)
            self._total_train_tokens += int(gather(local).sum().item())
        m["num_tokens"] = [self._total_train_tokens]
