"""balance.json and the Pareto plot, rebuilt from the finished (arm, seed, measure) files of a run.

Per arm and metric: ``score`` (mean over items of the item's mean over the arm's seeds), ``ci`` (percentile
bootstrap, :func:`balancedbio.report.bootstrap_ci`), ``n`` (items), ``delta_vs_base`` and ``delta_ci``
(paired bootstrap over the items both have, :func:`balancedbio.report.paired_bootstrap_delta`), and the
same per seed. The intervals resample items with the trained weights fixed: they do not include the
variance between training seeds, which the per-seed entries show.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from balance_power import power_table

from balancedbio.atomic import atomic_path, write_json, write_text
from balancedbio.report import bootstrap_ci, fmt, markdown_table, paired_bootstrap_delta

# metric -> (measure file, what a higher value means)
METRICS = {
    "mmlu_medical": "mmlu", "ifeval_prompt_strict": "ifeval", "ifeval_prompt_loose": "ifeval",
    "ifeval_inst_strict": "ifeval", "ifeval_inst_loose": "ifeval", "synth_expertise": "synth",
    "synth_reasoning": "synth", "synth_instruction": "synth", "synth_integration": "synth",
    "hallucination": "synth", "contradiction": "synth", "knowledge_heldout": "knowledge",
}
LOWER_IS_BETTER = {"hallucination", "contradiction"}
# the comparisons the experiment is for, arm against arm: does BFT (or DFT) beat NLL; what each GRPO stage
# adds to the BFT model it starts from; does capability-aware GRPO beat plain GRPO
CONTRASTS = (("bft", "nll"), ("dft", "nll"), ("bft_grpo", "bft"), ("bft_cagrpo", "bft"), ("bft_cagrpo", "bft_grpo"))
DOMAIN = ("knowledge_heldout", "synth_expertise", "synth_reasoning", "synth_integration")
GENERAL = ("mmlu_medical", "ifeval_prompt_strict")
TARGETS = {"mmlu_medical": 0.03, "ifeval_prompt_strict": 0.03, **{m: 0.05 for m in METRICS if m.startswith("synth_")},
           "knowledge_heldout": 0.05, "hallucination": 0.05, "contradiction": 0.05}


def pieces_dir(cfg: Any, run_dir: Path) -> Path:
    """Where the finished pieces live: ``cfg.results_dir``, else ``<run>/results``."""
    return Path(cfg.results_dir) if cfg.results_dir else run_dir / "results"


TRAINING = "training.json"


def _load(pieces: Path, label: str, measure: str) -> dict[str, Any] | None:
    path = pieces / label / f"{measure}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def compute_seconds(pieces: Path, labels: list[str], measures: list[str],
                    training: dict[str, float | None]) -> dict[str, Any]:
    """What the results cost, summed over the kept pieces (whichever sittings and machines wrote them):
    each model's training seconds (``training``: label -> seconds, from its training record) and seconds
    per measure, and the totals."""
    per_model: dict[str, dict[str, float]] = {}
    for label in labels:
        row: dict[str, float] = {} if training.get(label) is None else {"training": float(training[label])}
        for f in measures:
            blob = _load(pieces, label, f)
            if blob and blob.get("seconds") is not None:
                row[f] = float(blob["seconds"])
        if row:
            per_model[label] = row
    spent = sum(r.get("training", 0.0) for r in per_model.values())
    total = sum(sum(r.values()) for r in per_model.values())
    return {"training_s": round(spent, 1), "measures_s": round(total - spent, 1), "total_s": round(total, 1),
            "per_model": per_model}


COSINES = "capability_cosines.json"


def surgery_effect(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What gradient surgery did to a capability-aware GRPO run, from its recorded cosine history (the
    trainer's ``capability_cosines.json``: per step the K x K cosine matrix of the per-capability gradients,
    their norms and the surgery's mixing coefficients).

    Per capability pair: mean and lowest cosine and the steps where the pair conflicted (cosine < 0). Per step,
    the update surgery applied (``coeffs @ grads``) against the plain sum of the same gradients: the cosine
    between the two directions and the ratio of their norms (1 and 1: surgery changed nothing). Both follow
    from the Gram matrix ``cos_ij * |g_i| * |g_j|`` without the gradients themselves.
    """
    import numpy as np

    steps = [h for h in history if len(h.get("capabilities", [])) > 1]
    if not steps:
        return None
    pairs: dict[str, list[float]] = {}
    direction, ratio, shares, conflict_steps = [], [], {}, 0
    for h in steps:
        caps, cos = h["capabilities"], np.asarray(h["cosine"], dtype=float)
        norms, c = np.asarray(h["grad_norms"], dtype=float), np.asarray(h["coeffs"], dtype=float)
        off = [(f"{a} / {caps[j]}", float(cos[i, j])) for i, a in enumerate(caps) for j in range(i + 1, len(caps))]
        for pair, v in off:
            pairs.setdefault(pair, []).append(v)
        conflict_steps += any(v < 0 for _, v in off)
        gram = cos * np.outer(norms, norms)
        ones = np.ones(len(caps))
        plain, done = float(ones @ gram @ ones), float(c @ gram @ c)
        if plain > 0 and done > 0:
            direction.append(float(c @ gram @ ones) / math.sqrt(plain * done))
            ratio.append(math.sqrt(done / plain))
        for a, n in zip(caps, norms):
            shares.setdefault(a, []).append(float(n) / float(norms.sum()) if norms.sum() > 0 else float("nan"))

    def span(v: list[float]) -> dict[str, float] | None:
        return {"mean": sum(v) / len(v), "min": min(v), "max": max(v)} if v else None

    return {"steps": len(steps), "conflict_steps": conflict_steps,
            "pairs": {k: {"mean": sum(v) / len(v), "min": min(v), "negative_steps": sum(x < 0 for x in v),
                          "steps": len(v)} for k, v in sorted(pairs.items())},
            "update_cosine_vs_plain_sum": span(direction), "update_norm_ratio_vs_plain_sum": span(ratio),
            "grad_norm_share": {k: sum(v) / len(v) for k, v in sorted(shares.items())}}


def _training(pieces: Path, run_dir: Path, label: str) -> dict[str, Any] | None:
    """The arm's training record (the pieces' copy, else the stage manifest): seconds, the recipe's summary
    numbers, the fingerprint; for a capability-aware GRPO arm, what its surgery did (:func:`surgery_effect`)."""
    record, found = pieces / label / TRAINING, None
    if record.is_file():
        m = json.loads(record.read_text())
        found = {k: m.get(k) for k in ("stage", "seconds", "summary", "fingerprint", "finished")}
    else:
        for stage in ("bft", "grpo"):
            path = run_dir / "arms" / label / "stages" / stage / "manifest.json"
            if path.is_file():
                m = json.loads(path.read_text())
                found = {"stage": stage, "seconds": m.get("seconds"), "summary": m.get("summary"),
                         "fingerprint": m.get("fingerprint"), "finished": m.get("finished")}
                break
    if found is None:
        return None
    for path in (pieces / label / COSINES, run_dir / "arms" / label / "stages" / "grpo" / COSINES):
        if path.is_file():
            effect = surgery_effect(json.loads(path.read_text()))
            if effect:
                found["surgery"] = effect
            break
    return found


def answer_lengths(blob: dict[str, Any] | None) -> dict[str, Any] | None:
    """Words per stored answer of a generative piece (IFEval, synth): n, mean, median, and the share of
    answers that repeat a line (a degenerate loop; the length a model spends on it is what a format
    instruction loses)."""
    answers = list(((blob or {}).get("extra") or {}).get("completions", {}).values())
    if not answers:
        return None
    words = sorted(len(a.split()) for a in answers)
    mid = len(words) // 2
    median = words[mid] if len(words) % 2 else (words[mid - 1] + words[mid]) / 2

    def loops(text: str) -> bool:
        lines = [x.strip() for x in text.splitlines() if len(x.strip()) > 20]
        return len(lines) != len(set(lines))

    return {"n": len(words), "mean_words": sum(words) / len(words), "median_words": median,
            "repeated_line_share": sum(loops(a) for a in answers) / len(answers)}


def ifeval_by_category(subset: Path, blob: dict[str, Any] | None) -> dict[str, list[int]] | None:
    """Instruction-level strict results by instruction category (the id's prefix, e.g. ``length_constraints``):
    {category: [instructions, followed]}; where a model's format gains and losses are."""
    items = ((blob or {}).get("items") or {}).get("ifeval_inst_strict")
    if not items or not subset.is_file():
        return None
    out: dict[str, list[int]] = {}
    for line in subset.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        for k, inst in enumerate(row["instruction_id_list"]):
            v = items.get(f"{row['key']}#{k}")
            if v is not None:
                cell = out.setdefault(inst.split(":")[0], [0, 0])
                cell[0] += 1
                cell[1] += int(v)
    return dict(sorted(out.items()))


def _rename_delta(contrasts: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    return {c: {m: {("delta" if k == "delta_vs_base" else k): v for k, v in e.items()} for m, e in per.items()}
            for c, per in contrasts.items()}


def _nan(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def _clean(x: Any) -> Any:
    """NaN -> None, so the file is strict JSON."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def _stat(items: dict[str, float], base: dict[str, float] | None, n_boot: int) -> dict[str, Any]:
    vals = list(items.values())
    lo, hi = bootstrap_ci(vals, n_boot=n_boot, seed=0)
    out: dict[str, Any] = {"score": sum(vals) / len(vals), "ci": [_nan(lo), _nan(hi)], "n": len(vals),
                           "delta_vs_base": None, "delta_ci": None}
    if base is not None:
        common = sorted(set(items) & set(base))
        if common:
            d, dlo, dhi = paired_bootstrap_delta([items[i] for i in common], [base[i] for i in common],
                                                 n_boot=n_boot, seed=0)
            out.update(delta_vs_base=d, delta_ci=[_nan(dlo), _nan(dhi)], n_paired=len(common))
    return out


def _composite(entries: list[dict[str, Any] | None]) -> tuple[float, float] | None:
    """Mean of the measured metrics' deltas and its 95% half-width (metrics on disjoint items: variances
    add); metrics not measured (a partial run) are left out, and the plot's axis names those present."""
    got = [e for e in entries if e and e.get("delta_vs_base") is not None and e.get("delta_ci") and None not in e["delta_ci"]]
    if not got:
        return None
    mean = sum(e["delta_vs_base"] for e in got) / len(got)
    half = math.sqrt(sum(((e["delta_ci"][1] - e["delta_ci"][0]) / 2) ** 2 for e in got)) / len(got)
    return mean, half


def markdown(report: dict[str, Any]) -> str:
    """One table: a row per metric, per arm its score [95% CI] and paired delta vs base [95% CI], in points."""
    arms = [a for a in report["arms"] if a in report["results"]]

    def cell(e: dict[str, Any] | None) -> str:
        if not e:
            return "-"
        text = f"{fmt(e['score'])} [{fmt(e['ci'][0])}, {fmt(e['ci'][1])}] n={e['n']}"
        if e.get("delta_vs_base") is not None and e.get("delta_ci"):
            text += f"; {100 * e['delta_vs_base']:+.1f} [{fmt(e['delta_ci'][0])}, {fmt(e['delta_ci'][1])}]"
        return text

    rows = [[m, *[cell(report["results"][a].get(m)) for a in arms]] for m in report["metrics"]]
    head = "partial results: " + ", ".join(report["missing"]) + " missing\n\n" if report["partial"] else ""
    contrasts = report.get("contrasts") or {}
    contrast_table = ""
    if contrasts:
        def dcell(e: dict[str, Any] | None) -> str:
            if not e or e.get("delta") is None:
                return "-"
            return f"{100 * e['delta']:+.1f} [{fmt(e['delta_ci'][0])}, {fmt(e['delta_ci'][1])}]"

        contrast_table = "\n" + markdown_table(
            ["metric: paired difference (points)", *contrasts],
            [[m, *[dcell(per.get(m)) for per in contrasts.values()]] for m in report["metrics"]])
    lengths = [[label, f, a["n"], f"{a['mean_words']:.0f}", f"{a['median_words']:.0f}",
                f"{100 * a['repeated_line_share']:.0f}"]
               for label, per in (report.get("answers") or {}).items() for f, a in per.items() if a]
    length_table = ("\n" + markdown_table(["model", "answers", "n", "mean words", "median words",
                                           "repeating a line (%)"], lengths)) if lengths else ""
    cats = report.get("ifeval_by_category") or {}
    category_table = ""
    if cats:
        names = sorted({c for per in cats.values() for c in per})
        category_table = "\n" + markdown_table(
            ["IFEval instructions followed (strict)", *cats],
            [[c, *[f"{per[c][1]}/{per[c][0]}" if c in per else "-" for per in cats.values()]] for c in names])
    surgery = [[f"{arm} seed {seed}", e["steps"], e["conflict_steps"], pair, f"{p['mean']:+.3f}", f"{p['min']:+.3f}",
                p["negative_steps"], f"{e['update_cosine_vs_plain_sum']['min']:.3f}" if e["update_cosine_vs_plain_sum"] else "-"]
               for arm, res in report["results"].items() for seed, t in (res.get("training") or {}).items()
               if t and (e := t.get("surgery")) for pair, p in e["pairs"].items()]
    surgery_table = ("\n" + markdown_table(
        ["gradient surgery", "steps", "steps with a conflict", "capability pair", "mean cosine", "lowest cosine",
         "steps < 0", "lowest cos(update, plain sum)"], surgery)) if surgery else ""
    cost = report.get("compute_seconds")
    cost_line = (f"\nCompute, summed over the kept pieces: training {cost['training_s']:,.0f} s, measures "
                 f"{cost['measures_s']:,.0f} s, {len(cost['per_model'])} models.\n") if cost else ""
    return (head + markdown_table(["metric (%)", *arms], rows) + contrast_table + length_table + category_table
            + surgery_table + "\n" + power_markdown(report["power"]) + cost_line)


def power_markdown(power: dict[str, Any]) -> str:
    """The power table in points: sd_d, MDE at the planned n (pilot sd_d / independent-errors bound), n for the target."""
    def pts(x: Any) -> str:
        return "-" if x is None else f"{100 * x:.1f}"

    rows = []
    for m, e in power["measures"].items():
        if "note" in e:
            rows.append([m, e["n_pilot"], "0 items changed", "-", "-", "-", pts(e.get("target")), "-", "-"])
            continue
        rows.append([m, e["n_pilot"], f"{e['discordant_share']:.3f}", f"{e['sd_d']:.3f}", e["planned_n"],
                     f"{pts(e['mde_at_planned_n'])} / {pts(e.get('mde_at_planned_n_if_independent'))}",
                     pts(e.get("target")),
                     f"{e.get('n_needed_for_target') or '-'} / {e.get('n_needed_if_independent') or '-'}",
                     e.get("available_n") or "generated"])
    return markdown_table(["metric", "pilot n", "discordant", "sd_d", "planned n",
                           "MDE at planned n (pilot / independent), points", "target", "n for target (pilot / independent)",
                           "available"], rows)


def pareto_plot(results: dict[str, Any], dest: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 5))
    seen: dict[str, set[str]] = {"x": set(), "y": set()}
    for k, (arm, res) in enumerate(results.items()):
        if arm == "base":
            continue
        for j, (seed, per) in enumerate((res.get("per_seed") or {}).items()):  # colour: arm; marker: seed
            x = _composite([per.get(m) for m in DOMAIN])
            y = _composite([per.get(m) for m in GENERAL])
            if x is None or y is None:
                continue
            seen["x"].update(m for m in DOMAIN if per.get(m))
            seen["y"].update(m for m in GENERAL if per.get(m))
            ax.errorbar([x[0]], [y[0]], xerr=[x[1]], yerr=[y[1]], fmt="os^Dv"[j % 5], color=f"C{k}", capsize=3,
                        label=f"{arm} (seed {seed})")
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("domain gain vs base: mean delta of " + ", ".join(m for m in DOMAIN if m in seen["x"]), fontsize=7)
    ax.set_ylabel("general retention vs base: mean delta of " + ", ".join(m for m in GENERAL if m in seen["y"]),
                  fontsize=7)
    ax.set_title("balance: up-right dominates (95% CI whiskers)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # outside: the points stay visible
    fig.tight_layout()
    with atomic_path(dest) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_results(cfg: Any, run_dir: Path, out: Path, meta: dict[str, Any], plan: Any = None) -> dict[str, Any]:
    """Aggregate the run's files into ``out`` (+ the plot). ``plan``: the config whose sizes the power
    table is computed for (a pilot's results sized for the full run); default ``cfg``."""
    measures = list(cfg.measures)
    metrics = [m for m, f in METRICS.items() if f in measures]
    pieces = pieces_dir(cfg, run_dir)
    base_items = {m: (_load(pieces, "base", METRICS[m]) or {}).get("items", {}).get(m) for m in metrics}
    results: dict[str, Any] = {}
    missing: list[str] = [f"base/{f}" for f in measures if _load(pieces, "base", f) is None]
    pilot_pairs: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {m: [] for m in metrics}
    results["base"] = {m: _stat(base_items[m], None, cfg.bootstrap) for m in metrics if base_items[m]}
    generative = [f for f in ("ifeval", "synth") if f in measures]
    answers: dict[str, dict[str, Any]] = {"base": {f: answer_lengths(_load(pieces, "base", f)) for f in generative}}
    subset = run_dir / "data" / "ifeval_subset.jsonl"
    categories: dict[str, Any] = {"base": ifeval_by_category(subset, _load(pieces, "base", "ifeval"))}
    pooled_items: dict[str, dict[str, dict[str, float]]] = {}
    for arm in [a for a in cfg.arms if a != "base"]:
        per_seed: dict[str, dict[str, Any]] = {}
        pooled: dict[str, dict[str, list[float]]] = {}
        for seed in cfg.seeds:
            label = f"{arm}-s{seed}"
            per_seed[str(seed)] = {}
            for f in measures:
                blob = _load(pieces, label, f)
                if f in generative:
                    answers.setdefault(label, {})[f] = answer_lengths(blob)
                if f == "ifeval":
                    categories[label] = ifeval_by_category(subset, blob)
                if blob is None:
                    missing.append(f"{label}/{f}")
                    continue
                for m in [m for m in metrics if METRICS[m] == f]:
                    items = blob["items"].get(m)
                    if not items:
                        continue
                    per_seed[str(seed)][m] = _stat(items, base_items[m], cfg.bootstrap)
                    if base_items[m]:
                        pilot_pairs[m].append((items, base_items[m]))
                    for i, v in items.items():
                        pooled.setdefault(m, {}).setdefault(i, []).append(v)
        entry: dict[str, Any] = {}
        for m, by_item in pooled.items():
            full = {i: sum(v) / len(v) for i, v in by_item.items()}
            pooled_items.setdefault(arm, {})[m] = full
            entry[m] = {**_stat(full, base_items[m], cfg.bootstrap), "seeds": sorted(
                int(s) for s, p in per_seed.items() if m in p)}
        entry["per_seed"] = per_seed
        entry["training"] = {str(seed): _training(pieces, run_dir, f"{arm}-s{seed}") for seed in cfg.seeds}
        results[arm] = entry
    trained = {f"{arm}-s{seed}": (rec or {}).get("seconds")
               for arm, entry in results.items() if arm != "base" for seed, rec in entry["training"].items()}
    contrasts = {}
    for a, b in CONTRASTS:  # arm against arm, paired on the same items (each pooled over its seeds)
        if a in pooled_items and b in pooled_items:
            contrasts[f"{a} - {b}"] = {
                m: {k: v for k, v in _stat(items, pooled_items[b][m], cfg.bootstrap).items()
                    if k in ("delta_vs_base", "delta_ci", "n_paired")}
                for m, items in pooled_items[a].items() if m in pooled_items[b]}
    plan = plan or cfg
    mmlu_n = 1099 if not plan.mmlu_limit else None
    planned = {"ifeval_prompt_strict": plan.ifeval_prompts, "ifeval_prompt_loose": plan.ifeval_prompts,
               "knowledge_heldout": plan.knowledge_facts,
               **{m: plan.synth_per_capability for m in metrics if m.startswith("synth_")},
               "hallucination": 2 * plan.synth_per_capability, "contradiction": 2 * plan.synth_per_capability, **({"mmlu_medical": mmlu_n} if mmlu_n else {})}
    available = {"mmlu_medical": 1099, "ifeval_prompt_strict": 541, "ifeval_prompt_loose": 541}
    power = power_table({m: p for m, p in pilot_pairs.items() if not m.startswith("ifeval_inst")},
                        planned, TARGETS, available)
    report = {"experiment": "balance", "issue": 19, "partial": bool(missing), "missing": missing,
              "metrics": {m: ("lower is better" if m in LOWER_IS_BETTER else "higher is better") for m in metrics},
              "seeds": list(cfg.seeds), "arms": ["base", *[a for a in cfg.arms if a != "base"]],
              "results": results,
              "contrasts": _rename_delta(contrasts),
              "compute_seconds": compute_seconds(pieces, ["base", *trained], measures, trained),
              "answers": answers,
              "ifeval_by_category": {k: v for k, v in categories.items() if v},
              "power": {"method": "paired normal approximation (McNemar for 0/1 items), two-sided alpha 0.05, "
                                  "power 0.8; sd of the paired differences from this run's arm-vs-base pairs "
                                  "(largest over pairs); one-seed (conservative) figure",
                        "planned_sizes_from": plan.name, "planned_seeds": list(plan.seeds),
                        "targets": TARGETS, "measures": power},
              **meta}
    write_json(out, _clean(report))
    write_text(out.with_suffix(".md"), markdown(_clean(report)))
    pareto_plot(results, out.with_suffix(".png"))
    return report
