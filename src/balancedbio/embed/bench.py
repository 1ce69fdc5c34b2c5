"""``embed-bench``: the downstream biology benchmarks of the BFT paper (arXiv 2511.21075, docs/embeddings.md)
in one report: gene-gene interaction (CORUM, liana ligand-receptor) from gene-profile embeddings, GO-BP
process naming (GeneAgent-style), and optionally perturbation response on a user's ``.h5ad`` screen.

Rows compare the models passed in (base, NLL/DFT/BFT checkpoints, adapters) with two baselines: random
vectors per gene and MiniLM sentence embeddings of the same fixed profiles.

Everything is computed first and written at the end into a fresh directory that is renamed into place
(``results.json``, ``report.md``, ``roc.png``), so an interrupted run never leaves a report behind.

Example::

    cfg = load_config(EmbedBenchConfig, "configs/embed.yaml", ["n_pairs=2000", "process_sets=20"])
    run_embed_bench(cfg, {"base": "default", "bft": "runs/bft/final"}, "runs/embed-bench")
"""

from __future__ import annotations

import gc
import logging
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from balancedbio.config import option, to_dict
from balancedbio.errors import ConfigError, DataError
from balancedbio.progress import phase

log = logging.getLogger(__name__)

TASKS = ("interaction", "ligand_receptor", "process", "perturbation")
BASELINES = ("random", "minilm")


@dataclass(frozen=True)
class EmbedBenchConfig:
    """Knobs of ``balancedbio embed-bench``; shrink ``n_pairs``/``n_lr_pairs``/``process_sets`` for a quick run."""

    seed: int = option(0, "Seed for pair sampling, splits, bootstrap and random vectors.")
    tasks: list[str] = option(["interaction", "ligand_receptor", "process"], "Tasks to run.", choices=TASKS)
    baselines: list[str] = option(["random", "minilm"], "Baseline embedders in the table.", choices=BASELINES)
    n_pairs: int | None = option(None, "CORUM positive pairs to sample (null: all ~39.6k); as many negatives.",
                                 min=10)
    n_lr_pairs: int | None = option(None, "Ligand-receptor positive pairs to sample (null: all).", min=10)
    test_frac: float = option(0.25, "Held-out share of pairs (pair split) or of genes (gene split).",
                              min=0.05, max=0.9)
    n_bootstrap: int = option(500, "Bootstrap resamples for the 95% confidence intervals.", min=10)
    C: float = option(1.0, "Inverse L2 strength of the logistic regression.", min=0.0, min_exclusive=True)
    profile_source: str = option("fixed", "Gene profile text embedded by each model: 'fixed' descriptions "
                                 "(knowledge graph or HGNC/HPO files) or 'generated' by that model.",
                                 choices=("fixed", "generated"))
    profile_max_new_tokens: int = option(128, "Tokens per generated gene profile.", min=8)
    pooling: str = option("mean", "Hidden-state pooling.", choices=("mean", "last"))
    layer: int = option(-1, "Hidden-state index to pool (0 = embeddings, -1 = last layer).")
    batch_size: int = option(16, "Texts per embedding batch.", min=1)
    max_length: int = option(256, "Tokens kept per profile text.", min=8)
    random_dim: int = option(384, "Dimension of the random-vector baseline.", min=2)
    process_sets: int = option(200, "GO-BP sets in the fixed process-naming test sample.", min=1)
    process_seed: int = option(1234, "Seed of the process-naming test sample (keep fixed across runs).")
    process_max_genes: int = option(30, "Genes shown per set (a seeded subset of larger sets).", min=2)
    process_max_new_tokens: int = option(48, "Tokens generated per process-naming answer.", min=4)
    process_batch_size: int = option(8, "Prompts per generation batch.", min=1)
    process_prefill: bool = option(False, "Start each answer with 'Process:' already written (true), or let the "
                                   "model write the format itself and report its rate (false).")
    perturb_h5ad: str | None = option(None, "AnnData screen for the perturbation task (see docs/embeddings.md).")
    perturbation_key: str = option("perturbation", ".obs column naming each cell's perturbed gene.")
    control_label: str = option("control", "Label of control cells in that column.")
    ridge_alpha: float = option(1.0, "Ridge strength of the perturbation model.", min=0.0)
    device: str | None = option(None, "cpu, cuda, cuda:1 (null: cuda when present).")


# --------------------------------------------------------------------------------------------------
# Data


def _pair_tasks(cfg: EmbedBenchConfig) -> dict[str, Any]:
    from balancedbio.embed.genes import (
        corum_complexes,
        corum_pairs,
        ligand_receptor_pairs,
        pathway_sets,
        sample_negatives,
        subsample,
    )
    from balancedbio.embed.interaction import PairTask

    out = {}
    exclude = list(corum_complexes()) + list(pathway_sets())
    if "interaction" in cfg.tasks:
        pos = subsample(corum_pairs(), cfg.n_pairs, seed=cfg.seed)
        out["interaction"] = PairTask.build(pos, sample_negatives(pos, len(pos), seed=cfg.seed,
                                                                  exclude_sets=exclude))
    if "ligand_receptor" in cfg.tasks:
        pos = subsample(ligand_receptor_pairs(), cfg.n_lr_pairs, seed=cfg.seed)
        out["ligand_receptor"] = PairTask.build(pos, sample_negatives(pos, len(pos), seed=cfg.seed + 1,
                                                                      exclude_sets=exclude))
    return out


def _embed_profiles(name: str, spec: str | None, genes: list[str], fixed: dict[str, str],
                    cfg: EmbedBenchConfig, loaded: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """gene -> embedding for one embedder, plus timing info."""
    from balancedbio.embed.embed import embed_texts
    from balancedbio.embed.interaction import random_vectors

    if name == "random":
        return random_vectors(genes, cfg.random_dim, seed=cfg.seed), {}
    profiles = fixed
    if spec is not None and cfg.profile_source == "generated":
        from balancedbio.embed.profiles import gene_profiles

        profiles = gene_profiles(genes, source="generated", model=spec, loaded=loaded,
                                 max_new_tokens=cfg.profile_max_new_tokens, batch_size=cfg.batch_size)
    have = [g for g in genes if g in profiles]
    start = time.perf_counter()
    vecs = embed_texts("minilm" if spec is None else loaded, [profiles[g] for g in have],
                       pooling=cfg.pooling, layer=cfg.layer, batch_size=cfg.batch_size,
                       max_length=cfg.max_length, device=cfg.device, progress=True)
    seconds = time.perf_counter() - start
    return dict(zip(have, vecs)), {"n_texts": len(have), "embed_seconds": round(seconds, 2),
                                   "texts_per_s": round(len(have) / max(seconds, 1e-9), 2),
                                   "dim": int(vecs.shape[1]) if len(vecs) else 0}


# --------------------------------------------------------------------------------------------------
# Run


def run_embed_bench(cfg: EmbedBenchConfig, models: dict[str, str], output_dir: str | Path) -> dict[str, Any]:
    """Run the benchmark for ``models`` ({label: model spec}) plus baselines; write the report.

    Returns the results dict also written to ``output_dir/results.json``.
    """
    from balancedbio.embed.embed import load_for_embedding
    from balancedbio.embed.interaction import SPLITS, evaluate_split
    from balancedbio.embed.profiles import gene_profiles

    output_dir = Path(output_dir)
    # the pipeline's own bookkeeping (started.json, manifest.json) in its stage directory is not a foreign file
    foreign = [f for f in output_dir.iterdir() if f.name not in ("started.json", "manifest.json")] \
        if output_dir.is_dir() else []
    if foreign and not (output_dir / "results.json").is_file():
        raise ConfigError(f"{output_dir}: exists and is not an embed-bench report; choose another --output")
    if "perturbation" in cfg.tasks and not cfg.perturb_h5ad:
        raise ConfigError("task 'perturbation' needs perturb_h5ad=PATH (an AnnData screen)")
    bad = [k for k in models if k in BASELINES]
    if bad:
        raise ConfigError(f"model label {bad[0]!r} is reserved for a baseline; pick another label")
    t0 = time.perf_counter()
    pair_tasks = _pair_tasks(cfg)
    perts = deltas = None
    if "perturbation" in cfg.tasks:
        from balancedbio.embed.perturb import read_screen

        perts, deltas, _ = read_screen(cfg.perturb_h5ad, perturbation_key=cfg.perturbation_key,
                                       control_label=cfg.control_label)
    genes = sorted({g for t in pair_tasks.values() for p in t.pairs for g in p} | set(perts or []))
    fixed = gene_profiles(genes)
    no_profile = sorted(set(genes) - set(fixed))
    if no_profile:
        log.warning("%d of %d genes have no fixed profile and are left out (e.g. %s)", len(no_profile),
                    len(genes), ", ".join(no_profile[:5]))
    sizes = {}
    for name, task in list(pair_tasks.items()):
        pair_tasks[name] = task.restrict(set(fixed))
        sizes[name] = {"pairs": len(pair_tasks[name].pairs), "dropped_no_profile": len(task.pairs) -
                       len(pair_tasks[name].pairs), "positives": int(pair_tasks[name].labels.sum())}
    if perts is not None:
        keep = [i for i, p in enumerate(perts) if p in fixed]
        sizes["perturbation"] = {"perturbations": len(keep), "dropped_no_profile": len(perts) - len(keep)}
        perts, deltas = [perts[i] for i in keep], deltas[keep]
    genes = [g for g in genes if g in fixed]

    embedders: list[tuple[str, str | None]] = [(b, None) for b in cfg.baselines] + list(models.items())
    results: dict[str, Any] = {"config": to_dict(cfg), "models": dict(models), "sizes": sizes,
                               "genes_without_profile": len(no_profile), "interaction": [],
                               "process": [], "perturbation": [], "throughput": {}}
    for i, (label, spec) in enumerate(embedders, 1):
        phase(f"embed-bench {label} ({i}/{len(embedders)}): loading, then embedding {len(genes)} gene profiles")
        loaded = load_for_embedding(spec, device=cfg.device) if spec is not None else None
        if not genes:  # process naming only: no gene embeddings needed
            vecs, timing = {}, {}
        else:
            vecs, timing = _embed_profiles(label, spec, genes, fixed, cfg, loaded)
        if timing:
            results["throughput"][label] = timing
        for task_name, task in pair_tasks.items():
            task_here = task.restrict(set(vecs))
            for split in SPLITS:
                r = evaluate_split(task_here, vecs, split=split, test_frac=cfg.test_frac, seed=cfg.seed,
                                   n_boot=cfg.n_bootstrap, C=cfg.C)
                results["interaction"].append({"embedder": label, "task": task_name, **r})
        if perts is not None:
            from balancedbio.embed.perturb import evaluate_perturbation

            r = evaluate_perturbation(perts, deltas, vecs, test_frac=cfg.test_frac, seed=cfg.seed,
                                      alpha=cfg.ridge_alpha)
            results["perturbation"].append({"embedder": label, **r})
        if spec is not None and "process" in cfg.tasks:
            from balancedbio.embed.process import process_test_sets, run_process_naming

            sets = process_test_sets(cfg.process_sets, seed=cfg.process_seed, max_genes=cfg.process_max_genes)
            phase(f"embed-bench {label} ({i}/{len(embedders)}): naming the process of {len(sets)} gene sets")
            start = time.perf_counter()
            r = run_process_naming(*loaded, sets, max_new_tokens=cfg.process_max_new_tokens,
                                   batch_size=cfg.process_batch_size, progress=True,
                                   prefill=cfg.process_prefill)
            r["seconds"] = round(time.perf_counter() - start, 1)
            results["process"].append({"model": label, **r})
        del loaded
        gc.collect()
    results["seconds"] = round(time.perf_counter() - t0, 1)
    results["machine"] = _machine(cfg.device)
    _write_report(results, output_dir)
    return results


def _format_rate(r: dict[str, Any]) -> str:
    return "prefilled" if r.get("format_rate") is None else f"{r['format_rate']:.2f}"


def _machine(device: str | None) -> str:
    import os

    import torch

    if (device or "").startswith("cuda") or (device is None and torch.cuda.is_available()):
        return f"GPU {torch.cuda.get_device_name()}"
    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads " \
           f"{torch.get_num_threads()}"


# --------------------------------------------------------------------------------------------------
# Report


def _ci(x: tuple[float, float] | list[float]) -> str:
    return f"[{x[0]:.3f}, {x[1]:.3f}]"


def render_markdown(results: dict[str, Any]) -> str:
    """The report as markdown tables."""
    lines = ["# Embedding benchmark", "", f"Machine: {results.get('machine', '?')}; "
             f"total {results.get('seconds', '?')} s."]
    rows = sorted(results["interaction"], key=lambda r: (r["task"], r["split"]))
    if rows:
        lines += ["", "## Gene-gene interaction", "",
                  "| task | split | embedder | AUROC [95% CI] | AUPRC [95% CI] | train / test pairs |",
                  "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['task']} | {r['split']} | {r['embedder']} | {r['auroc']:.3f} {_ci(r['auroc_ci'])} "
                     f"| {r['auprc']:.3f} {_ci(r['auprc_ci'])} | {r['n_train']} / {r['n_test']} |")
    if results["process"]:
        lines += ["", "## Biological-process naming (GO-BP, MiniLM similarity)", "",
                  "| model | sets | mean cosine | mean percentile | 'Process:' format | seconds |",
                  "|---|---|---|---|---|---|"]
        for r in results["process"]:
            lines.append(f"| {r['model']} | {r['n_sets']} | {r['mean_cosine']:.3f} | {r['mean_percentile']:.3f} "
                         f"| {_format_rate(r)} | {r['seconds']} |")
    if results["perturbation"]:
        lines += ["", "## Perturbation response (Pearson of deltas, held-out perturbations)", "",
                  "| embedder | ridge | mean-shift baseline | train / test |", "|---|---|---|---|"]
        for r in results["perturbation"]:
            lines.append(f"| {r['embedder']} | {r['pearson_delta']:.3f} | {r['pearson_delta_mean_shift']:.3f} "
                         f"| {r['n_train']} / {r['n_test']} |")
    if results["throughput"]:
        lines += ["", "## Embedding throughput", "", "| embedder | texts | texts/s | dim |", "|---|---|---|---|"]
        for k, t in results["throughput"].items():
            lines.append(f"| {k} | {t['n_texts']} | {t['texts_per_s']} | {t['dim']} |")
    return "\n".join(lines) + "\n"


def plot_roc(results: dict[str, Any], dest: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(r["task"], r["split"]) for r in results["interaction"]})
    fig, axes = plt.subplots(1, max(len(keys), 1), figsize=(4.2 * max(len(keys), 1), 4), squeeze=False)
    for ax, (task, split) in zip(axes[0], keys):
        for r in results["interaction"]:
            if (r["task"], r["split"]) == (task, split):
                ax.plot(r["roc"]["fpr"], r["roc"]["tpr"], label=f"{r['embedder']} ({r['auroc']:.3f})")
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        ax.set(title=f"{task}, split by {split}", xlabel="false positive rate", ylabel="true positive rate")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(dest, dpi=110)
    plt.close(fig)


def _write_report(results: dict[str, Any], output_dir: Path) -> None:
    from balancedbio.atomic import atomic_dir, write_json, write_text

    if not results["interaction"] and not results["process"] and not results["perturbation"]:
        raise DataError("nothing to report: no task produced results")
    with atomic_dir(output_dir, overwrite=True) as tmp:
        write_json(tmp / "results.json", results)
        write_text(tmp / "report.md", render_markdown(results))
        if results["interaction"]:
            plot_roc(results, tmp / "roc.png")
