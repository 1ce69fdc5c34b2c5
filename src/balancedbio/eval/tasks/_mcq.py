"""Shared pieces of the multiple-choice benchmark entries (log-likelihood and chain-of-thought).

Log-likelihood entries score :class:`~balancedbio.eval.datasets.MCQItem` s with
:func:`balancedbio.eval.mcq.score_mcq` (lm-eval's prompts and tokenization); ``judge(item, prediction)``
is the per-question record of the predictions file and ``metric`` the accuracy over them.
Chain-of-thought entries ask the question in a chat turn, generate, and read the committed letter with
:func:`balancedbio.scoring.answers.extract_choice` (the extractor the GRPO rewards use).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from balancedbio.errors import DataError
from balancedbio.eval.datasets import HUB, MCQItem, MCQSet, hub_source, load_hub
from balancedbio.eval.mcq import MCQPrediction, prediction_record
from balancedbio.eval.mcq_prompts import build_context, prompt_format
from balancedbio.eval.tasks.base import Source

__all__ = ["Items", "mcq_loader", "mcq_train_loader", "mcq_prompt", "mcq_judge", "mcq_metric", "cot_prompt", "cot_judge", "cot_metric",
           "HUB"]



class Items(list):  # type: ignore[type-arg]
    """The loaded questions, plus ``skipped``: one ``file:line: why`` per malformed row left out."""

    skipped: list[str]


def _limited(ds: MCQSet, limit: int, per_subject: bool) -> Items:
    items = ds.items
    if limit and not per_subject:
        items = items[:limit]
    elif limit:
        seen: dict[str, int] = {}
        kept = []
        for it in items:
            if seen.get(it.subject, 0) < limit:
                seen[it.subject] = seen.get(it.subject, 0) + 1
                kept.append(it)
        items = kept
    out = Items(items)
    out.skipped = list(ds.skipped)
    return out


def mcq_loader(kind: str, read_file: Callable[..., MCQSet], *, per_subject_limit: bool = False,
               default: Callable[[], str] | None = None) -> Callable[[Source], Items]:
    """``load(source)``: a local file in the benchmark's format, or ``hub[:id]`` with allow_download."""
    def load(source: Source) -> Items:
        path = source.path or (default() if default else "")
        if not path:
            raise DataError(f"{kind}: no data file given (pass the benchmark's file, or 'hub' with --allow-download)")
        is_hub, hub_id = hub_source(path)
        if is_hub:
            ds = load_hub(kind, allow_download=source.allow_download, hub_id=hub_id, strict=source.strict)
        else:
            ds = read_file(Path(path).expanduser(), strict=source.strict)
        return _limited(ds, source.limit, per_subject_limit)
    return load


def mcq_train_loader(kind: str, read_file: Callable[..., MCQSet]) -> Callable[[Source], dict[str, list[MCQItem]]]:
    """``fewshot(source)``: the training split ``source.train`` (a file in the benchmark's released format,
    or ``hub[:id]`` with allow_download), the pool lm-eval samples shots from: ``{"": items}``."""
    def fewshot(source: Source) -> dict[str, list[MCQItem]]:
        path = source.train
        if not path:
            raise DataError(f"{kind}: few-shot needs its training split: set benchmark_train.{kind} to the "
                            f"{kind} train file (same format as the test file), or 'hub' with --allow-download")
        is_hub, hub_id = hub_source(path)
        if is_hub:
            ds = load_hub(kind, allow_download=source.allow_download, hub_id=hub_id, split="train",
                          strict=source.strict)
        else:
            ds = read_file(Path(path).expanduser(), strict=source.strict)
        if not ds.items:
            raise DataError(f"{path}: the {kind} training split has no usable questions")
        return {"": list(ds.items)}
    return fewshot


def mcq_prompt(item: MCQItem) -> str:
    """The zero-shot lm-eval context of a question (the scorer adds shots itself)."""
    return build_context(prompt_format(item.prompt_format), item)


def mcq_judge(item: MCQItem, pred: MCQPrediction) -> dict[str, Any]:
    return prediction_record(pred)


def _accuracy(judged: Sequence[dict[str, Any]]) -> dict[str, Any]:
    n = len(judged)
    per: dict[str, list[bool]] = {}
    for j in judged:
        per.setdefault(str(j.get("subject", "")), []).append(bool(j["correct"]))
    acc = sum(bool(j["correct"]) for j in judged) / n if n else math.nan
    subjects = {s: {"accuracy": sum(v) / len(v), "n": len(v)} for s, v in sorted(per.items())}
    macro = sum(s["accuracy"] for s in subjects.values()) / len(subjects) if subjects else math.nan
    return {"headline": acc, "accuracy": acc, "macro": macro, "n": n, "subjects": subjects}


def mcq_metric(judged: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy (micro, the headline), the macro average over subjects and per-subject accuracy."""
    return _accuracy(judged)


COT_INSTRUCTION = ("Think step by step, then give your final answer on the last line in the form "
                   "'Answer: X', where X is the letter of the correct option.")


def cot_prompt(item: MCQItem) -> list[dict[str, str]]:
    """One user turn: the question, its lettered options and the step-by-step instruction."""
    options = "\n".join(f"{k}. {v}" for k, v in item.choices.items())
    context = f"{item.context}\n" if item.context else ""
    return [{"role": "user", "content": f"{context}Question: {item.question.strip()}\n{options}\n\n{COT_INSTRUCTION}"}]


def cot_judge(item: MCQItem, completion: str) -> dict[str, Any]:
    """The letter the completion commits to (None when it commits to none), against the key."""
    from balancedbio.scoring.answers import extract_choice

    pred = extract_choice(completion, "".join(item.choices))
    return {"id": item.id, "subject": item.subject, "gold": item.answer, "pred": pred,
            "correct": pred == item.answer, "completion": completion}


def cot_metric(judged: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy (headline), with the share of completions that commit to no letter."""
    out = _accuracy(judged)
    out["unparseable"] = sum(j["pred"] is None for j in judged)
    return out
