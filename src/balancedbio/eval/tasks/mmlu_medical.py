"""MMLU, the six medical subjects (Hendrycks et al., arXiv 2009.03300), the way lm-eval 0.4 scores them.

Log-likelihood of the answer letter after lm-eval's ``mmlu_<subject>`` prompt, zero- or k-shot (the
first k dev questions of the subject). Source: an MMLU directory (``dev/`` and ``test/`` CSVs; empty =
the copy shipped with the package) or ``hub`` (``cais/mmlu``, with allow_download). ``limit`` counts
questions per subject, so a quick run covers every subject.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from balancedbio.eval.datasets import MCQItem, hub_source, load_hub, load_mmlu
from balancedbio.eval.tasks._mcq import Items, _limited, mcq_judge, mcq_metric, mcq_prompt
from balancedbio.eval.tasks.base import Source, Task, register


def _root(source: Source) -> Path:
    if source.path:
        return Path(source.path).expanduser()
    from balancedbio.resources import mmlu_medical_dir

    return mmlu_medical_dir()


def _split(source: Source, split: str, subjects: Sequence[str] | None) -> Any:
    is_hub, hub_id = hub_source(source.path)
    if is_hub:
        return load_hub("mmlu", allow_download=source.allow_download, hub_id=hub_id, subjects=subjects,
                        split="dev" if split == "dev" else None, strict=source.strict)
    return load_mmlu(_root(source), split, subjects, strict=source.strict)


def load(source: Source, subjects: Sequence[str] | None = None) -> Items:
    """Test questions of ``subjects`` (default: the six medical ones), ``limit`` per subject."""
    return _limited(_split(source, "test", subjects), source.limit, per_subject=True)


def fewshot(source: Source, subjects: Sequence[str] | None = None) -> dict[str, list[MCQItem]]:
    """The dev questions of each subject, in file order (lm-eval's ``first_n`` sampler)."""
    return _split(source, "dev", subjects).by_subject()


TASK = register(Task(
    "mmlu_medical", "expertise", "loglikelihood", load, mcq_prompt, mcq_judge, mcq_metric,
    headline="accuracy",
    published="MMLU medical subjects, accuracy over questions, answer-letter log-likelihood as lm-eval 0.4's "
              "mmlu tasks (the Open LLM Leaderboard v1 uses 5-shot)",
    description=__doc__.splitlines()[0], fewshot=fewshot))
