"""Trainer callbacks that make a resumed run train and log exactly what an uninterrupted one does.

Both recipes (BFT and GRPO) add them. Each closes one gap between ``Trainer.train(resume_from_checkpoint=...)``
and a run that was never stopped:

- :class:`LogAtSaveCallback`: the Trainer logs the loss (and TRL its metrics) averaged over the steps since the
  last log; a run resumed from ``checkpoint-N`` restarts that window at N. Ending a window at every save makes
  the windows of both runs the same.
- :class:`EpochSeedCallback`: TRL's GRPO sampler (``RepeatSampler``) draws each epoch's prompt order from one
  generator seeded once, at construction, and has no ``set_epoch``; a resumed run builds a new sampler, so
  from its first epoch on it replays the orders of epoch 0, 1, ... instead of continuing. Re-seeding the
  generator at every epoch start with (seed, epoch) makes the order a function of the epoch alone. Epoch 0's
  order is TRL's own; later epochs differ from TRL's (they are still a fresh permutation per epoch).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from transformers import TrainerCallback


class LogAtSaveCallback(TrainerCallback):
    """Log at every checkpoint. Add it after the callbacks that may ask for a save."""

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if control.should_save:
            control.should_log = True


def seeded_samplers(dataloader: Any) -> list[Any]:
    """The samplers inside ``dataloader`` (plain, or wrapped by accelerate's shards) that draw from their own
    seeded ``torch.Generator`` (TRL's ``RepeatSampler``)."""
    found: list[Any] = []
    stack = [dataloader]
    seen: set[int] = set()
    while stack:
        obj = stack.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(getattr(obj, "generator", None), torch.Generator) and isinstance(getattr(obj, "seed", None), int):
            found.append(obj)
        for attr in ("sampler", "batch_sampler", "base_dataloader"):
            stack.append(getattr(obj, attr, None))
    return found


def epoch_seed(seed: int, epoch: int) -> int:
    """Epoch 0 keeps ``seed`` (TRL's own first order); epoch e > 0 takes a seed of its own."""
    return seed if epoch == 0 else (seed * 1_000_003 + epoch) % (2**63 - 1)


class EpochSeedCallback(TrainerCallback):
    """Re-seed the GRPO prompt sampler at every epoch start, so the order depends on the epoch only."""

    def on_epoch_begin(self, args: Any, state: Any, control: Any, train_dataloader: Any = None,
                       **kw: Any) -> None:
        # the epoch about to run: whole epochs done so far (state.epoch is float progress; a run resumed
        # mid-epoch re-enters that epoch and skips the batches it had trained)
        epoch = math.floor((state.epoch or 0.0) + 1e-6)
        for sampler in seeded_samplers(train_dataloader):
            sampler.generator.manual_seed(epoch_seed(sampler.seed, epoch))
