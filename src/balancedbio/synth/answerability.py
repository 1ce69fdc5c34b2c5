"""Source2Synth's curation step: tune the filter model on a slice of the data, then keep the rest only if
the tuned model answers it.

Source2Synth (Lupidi et al., arXiv 2409.08239, "Curation"): the generated examples are split into two
slices; the model is fine-tuned on the first and then asked each example of the second (given its
context) ``k`` times; an example it never answers is dropped. Here, when ``answerability.enabled``:

- **slice**: ``round(finetune_slice * n)`` of the ``n`` train rows (at least one when the share is
  positive), the rows with the smallest ``blake2b(seed:id)``, so the choice is deterministic and does not
  depend on row order; test rows are never tuned on. The slice rows stay in the output (they were used
  for tuning, so the tuned model cannot judge them) and are counted apart (``slice``);
- **tuning**: a LoRA adapter on ``answerability.model`` trained by the project's supervised recipe
  (:func:`balancedbio.train.sft.train_sft`, method ``nll``: TRL's SFTTrainer) for ``finetune_steps`` steps on
  the slice rows, in ``<work>/answerability/`` (checkpoints every quarter of the steps, the final adapter
  saved atomically, so a killed run resumes from its last checkpoint and a finished one is reused);
- **filtering**: every other train row and every test row through
  :class:`balancedbio.synth.curate.AnswerabilityFilter` with the tuned model (the base model when
  ``finetune_slice`` is 0: the filter as it was before tuning existed, byte for byte);
- **facts** (``with_facts``): the question is preceded by the row's grounding facts, entities by their graph
  names, in tuning and filtering alike ("given the facts"); without it the model sees the question alone.

The manifest's ``answerability`` records the model, the slice (rows, steps, learning rate, the tuning loss
at its first and last step), and kept / dropped / drop rate overall and per capability.

Example::

    summary = filter_answerable(cfg.answerability, cfg.seed, work, graph, drops, counts)
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from balancedbio.atomic import write_text
from balancedbio.knowledge.graph import KnowledgeGraph
from balancedbio.synth.curate import AnswerabilityFilter, answer_prompt, read_jsonl
from balancedbio.synth.teacher_schema import fact_lines

log = logging.getLogger(__name__)


def slice_ids(ids: Iterable[str], share: float, seed: int) -> set[str]:
    """The ids of the tuning slice: ``round(share * n)`` of ``ids`` (at least 1 when ``share > 0``), those
    with the smallest ``blake2b(f"{seed}:{id}")``."""
    ids = list(ids)
    if share <= 0 or not ids:
        return set()
    k = max(1, round(share * len(ids)))
    return set(sorted(ids, key=lambda i: hashlib.blake2b(f"{seed}:{i}".encode(), digest_size=8).digest())[:k])


def facts_context(graph: KnowledgeGraph) -> Callable[[dict[str, Any]], str]:
    """``row -> text``: the row's facts as ``- subject | relation | object`` lines, entities by graph name."""
    def context(row: dict[str, Any]) -> str:
        curies = sorted({f[k] for f in row.get("facts", []) for k in ("subject", "object")})
        names = {c: e.name for c, e in graph.entities(curies).items()}
        return fact_lines(row.get("facts", []), names)

    return context


def tune_recipe(acfg: Any, seed: int, data_path: Path, output_dir: Path) -> Any:
    """The :class:`SFTRecipeConfig` that tunes the filter model on the slice (LoRA, NLL, no warm-up)."""
    from balancedbio.models import ModelConfig
    from balancedbio.train.data import SFTDataConfig
    from balancedbio.train.sft import SFTRecipeConfig, SFTTrainConfig

    steps = acfg.finetune_steps
    return SFTRecipeConfig(
        model=ModelConfig(name_or_path=acfg.model, use_lora=True),
        data=SFTDataConfig(path=str(data_path)),
        train=SFTTrainConfig(method="nll", lr=acfg.finetune_lr, lr_scheduler="constant", warmup_ratio=0.0,
                             max_steps=steps, batch_size=acfg.finetune_batch_size, grad_accum=1,
                             max_length=acfg.finetune_max_length, gradient_checkpointing=False,
                             save_steps=max(1, math.ceil(steps / 4)), save_total_limit=1, logging_steps=1,
                             report_to=["none"]),
        output_dir=str(output_dir), seed=seed)


def tune_on_slice(acfg: Any, seed: int, rows: list[dict[str, Any]], work: Path,
                  context: Callable[[dict[str, Any]], str] | None) -> tuple[Path, dict[str, Any]]:
    """Train (or, resuming, finish or reuse) the LoRA adapter on ``rows``; returns its directory and a summary."""
    from balancedbio.train.sft import train_sft

    work.mkdir(parents=True, exist_ok=True)
    data = work / "slice.jsonl"
    write_text(data, "".join(json.dumps({"messages": [answer_prompt(row, context), row["messages"][1]]},
                                        ensure_ascii=False) + "\n" for row in rows))   # the same on a resume
    final = work / "tune" / "final"
    if not (final / "balancedbio_sft.json").is_file():
        log.info("answerability: tuning %s on %d slice rows for %d steps", acfg.model, len(rows), acfg.finetune_steps)
        final = train_sft(tune_recipe(acfg, seed, data, work / "tune"), resume=True)
    summary = json.loads((final / "train_summary.json").read_text())
    losses = [h["loss"] for h in summary["log_history"] if "loss" in h]
    return final, {"rows": len(rows), "steps": summary["global_step"], "lr": acfg.finetune_lr,
                   "first_loss": round(losses[0], 4) if losses else None,
                   "last_loss": round(losses[-1], 4) if losses else None}


def filter_answerable(acfg: Any, seed: int, work: Path, graph: KnowledgeGraph | None,
                      drops: dict[str, int], counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Tune on the slice (when ``finetune_slice > 0``), then rewrite ``<work>/<split>.jsonl`` from
    ``<work>/raw/`` keeping slice rows and answerable rows; updates ``drops`` and ``counts``; returns the
    manifest's ``answerability`` summary."""
    context = facts_context(graph) if acfg.with_facts and graph is not None else None
    chosen = slice_ids((r["id"] for r in read_jsonl(work / "raw" / "train.jsonl")), acfg.finetune_slice, seed)
    model, tuning = acfg.model, None
    if chosen:
        rows = [r for r in read_jsonl(work / "raw" / "train.jsonl") if r["id"] in chosen]
        final, tuning = tune_on_slice(acfg, seed, rows, work / "answerability", context)
        model = str(final)
    filt = AnswerabilityFilter(model, tries=acfg.tries, max_new_tokens=acfg.max_new_tokens, seed=seed,
                               context=context)
    per_cap: dict[str, dict[str, Any]] = {}
    kept = dropped = 0
    for split in ("train", "test"):
        dst = work / f"{split}.jsonl.filtered"
        rows = read_jsonl(work / "raw" / f"{split}.jsonl")
        with open(dst, "w", encoding="utf-8") as fh:
            for row, ok in _judge(filt, rows, chosen):
                cap = per_cap.setdefault(row["capability"], {"slice": 0, "kept": 0, "dropped": 0})
                if ok is None:
                    cap["slice"] += 1
                elif ok:
                    cap["kept"] += 1
                    kept += 1
                else:
                    cap["dropped"] += 1
                    dropped += 1
                    counts[split][row["capability"]] -= 1
                    continue
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(dst, work / f"{split}.jsonl")
    drops["unanswerable"] = dropped
    for cap in per_cap.values():
        judged = cap["kept"] + cap["dropped"]
        cap["drop_rate"] = round(cap["dropped"] / judged, 4) if judged else None
    return {"model": acfg.model, "tries": acfg.tries, "with_facts": context is not None, "slice": tuning,
            "kept": kept, "dropped": dropped,
            "drop_rate": round(dropped / (kept + dropped), 4) if kept + dropped else None,
            "by_capability": dict(sorted(per_cap.items()))}


def _judge(filt: Any, rows: Iterable[dict[str, Any]], chosen: set[str]):
    """``(row, True | False)`` from the filter, ``(row, None)`` for a slice row (kept, not judged)."""
    for row in rows:
        yield (row, None) if row["id"] in chosen else next(iter(filt.filter([row])))
