"""Few-shot examples drawn the way lm-eval 0.4's default ``ContextSampler`` draws them.

lm-eval's PubMedQA, MedQA and MedMCQA tasks take their shots from the ``train`` split with the default
sampler: one ``random.Random(seed)`` (the few-shot seed, 1234 unless changed) per task, advanced once per
evaluated question in evaluation order by ``rnd.sample(train_docs, k)``. The training split is not the
split being evaluated, so the question itself is never removed from the pool. :func:`random_shots`
reproduces that sequence, so each question gets the same k solved examples, in the same order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

from balancedbio.errors import DataError

__all__ = ["LM_EVAL_FEWSHOT_SEED", "random_shots"]

LM_EVAL_FEWSHOT_SEED = 1234  # lm-eval's simple_evaluate(fewshot_random_seed=1234)

T = TypeVar("T")


def random_shots(pool: Sequence[T], n_items: int, k: int, *, seed: int = LM_EVAL_FEWSHOT_SEED,
                 what: str = "training split") -> list[list[T]]:
    """The ``k`` shots of each of ``n_items`` questions (in evaluation order), sampled from ``pool``."""
    if k <= 0:
        return [[] for _ in range(n_items)]
    if len(pool) < k:
        raise DataError(f"{what}: {k}-shot needs at least {k} solved examples, it has {len(pool)}")
    rnd = random.Random(seed)
    docs = list(pool)
    return [rnd.sample(docs, k) for _ in range(n_items)]
