"""Turn the suite's raw results into headline numbers, confidence intervals, report.md and plots.

The report has one table per capability: every benchmark that measured it (the registry's standard
benchmarks with the published setting their number can be put beside, and our synthetic test split,
labelled as ours), each with its metric, n and a 95% bootstrap CI, model beside baseline with a paired
delta. The plot is a grouped bar chart (one group per benchmark, model beside baseline, CI whiskers);
the capability radar is drawn only when at least three capabilities have a value that gives the polygon
an area (>= 0.1), since near-zero values make a radar unreadable.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from balancedbio.atomic import write_json, write_text
from balancedbio.report import (
    bar_chart,
    bar_chart_ci,
    bootstrap_ci,
    fmt,
    markdown_table,
    paired_bootstrap_delta,
    radar_plot,
)
from balancedbio.rows import CAPABILITIES

__all__ = ["CAPABILITY_AXES", "headline_items", "benchmark_rows", "write_report"]

CAPABILITY_AXES = CAPABILITIES
_HEADLINE_DOC = {
    "expertise": "MMLU-medical micro accuracy",
    "reasoning": "final-answer accuracy (synthetic test)",
    "instruction": "prompt-level strict accuracy",
    "integration": "mean score: 0.3 format + 0.5 diagnosis + 0.2 management (0.7 diagnosis without drugs)",
}
_SYNTH_METRIC = {"reasoning": "final-answer accuracy", "instruction": "prompt-level strict accuracy",
                 "integration": "mean score (0.3 format + 0.5 diagnosis + 0.2 management)"}
_RADAR_MIN = 0.1  # a radar reads only when >= 3 axes reach this


def _synthetic_items(results: dict[str, Any], cap: str) -> dict[str, float] | None:
    res = results.get(cap)
    if not isinstance(res, dict) or "skipped" in res:
        return None
    items = res.get("items") or []
    if cap == "reasoning":
        return {it["id"]: float(it["correct"] or 0.0) for it in items}
    if cap == "instruction":
        return {it["id"]: float(bool(it["instructions"]) and all(it["instructions"])) for it in items}
    if cap == "integration":
        return {it["id"]: float(it["value"]) for it in items}
    return None


def headline_items(results: dict[str, Any], cap: str, headline_shots: int = 0) -> dict[str, float] | None:
    """Per-item scores (id -> value) behind a capability's headline number, or None if not run."""
    if cap == "expertise":
        bench = (results.get("benchmarks") or {}).get(f"mmlu_medical_{headline_shots}shot")
        return bench.get("items") if bench else None
    return _synthetic_items(results, cap)


def _stat(items: dict[str, float] | None, n_boot: int, seed: int) -> dict[str, Any] | None:
    if not items:
        return None
    vals = list(items.values())
    lo, hi = bootstrap_ci(vals, n_boot=n_boot, seed=seed)
    return {"value": sum(vals) / len(vals), "ci95": [lo, hi], "n": len(vals)}


def _delta(a: dict[str, float] | None, b: dict[str, float] | None, n_boot: int, seed: int) -> dict[str, Any] | None:
    if not a or not b:
        return None
    common = sorted(set(a) & set(b))
    if not common:
        return None
    d, lo, hi = paired_bootstrap_delta([a[i] for i in common], [b[i] for i in common], n_boot=n_boot, seed=seed)
    return {"value": d, "ci95": [lo, hi], "n": len(common)}


def _headlines(report: dict[str, Any], n_boot: int, seed: int, shots: int) -> dict[str, Any]:
    models = report["models"]
    out: dict[str, Any] = {}
    base = models.get("baseline")
    for cap in CAPABILITY_AXES:
        row: dict[str, Any] = {"metric": _HEADLINE_DOC[cap]}
        for label, res in models.items():
            row[label] = _stat(headline_items(res, cap, shots), n_boot, seed)
        if base is not None:
            d = _delta(headline_items(models["model"], cap, shots), headline_items(base, cap, shots), n_boot, seed)
            if d:
                row["delta"] = d
        out[cap] = row
    return out


def benchmark_rows(report: dict[str, Any], n_boot: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """capability -> one entry per benchmark (standard ones first, then our synthetic split)."""
    models = report["models"]
    keys: dict[str, dict[str, Any]] = {}
    for res in models.values():
        for key, b in (res.get("benchmarks") or {}).items():
            keys.setdefault(key, b)
    out: dict[str, list[dict[str, Any]]] = {cap: [] for cap in CAPABILITY_AXES}
    for key, b in keys.items():
        name = key if b["kind"] == "generate" else f"{b['task']} ({b['shots']}-shot)"
        entry: dict[str, Any] = {"benchmark": name, "key": key, "metric": b["metric_name"],
                                 "published": b["published"], "ours": b["ours"]}
        items = {label: ((res.get("benchmarks") or {}).get(key) or {}).get("items") for label, res in models.items()}
        for label in models:
            entry[label] = _stat(items[label], n_boot, seed)
        if "baseline" in models:
            entry["delta"] = _delta(items["model"], items["baseline"], n_boot, seed)
        out.setdefault(b["capability"], []).append(entry)
    for cap, metric in _SYNTH_METRIC.items():
        items = {label: _synthetic_items(res, cap) for label, res in models.items()}
        if not any(items.values()):
            continue
        entry = {"benchmark": "synthetic test split (ours)", "key": f"synthetic_{cap}", "metric": metric,
                 "published": "none: our own split (MKGSG), no published number", "ours": True}
        for label in models:
            entry[label] = _stat(items[label], n_boot, seed)
        if "baseline" in models:
            entry["delta"] = _delta(items["model"], items["baseline"], n_boot, seed)
        out[cap].append(entry)
    return out


def _cell(h: dict[str, Any] | None) -> str:
    if not h:
        return "-"
    lo, hi = h["ci95"]
    return f"{fmt(h['value'])} [{fmt(lo)}, {fmt(hi)}]"


def _delta_cell(h: dict[str, Any] | None) -> str:
    if not h:
        return "-"
    lo, hi = h["ci95"]
    sign = "+" if h["value"] >= 0 else ""
    return f"{sign}{fmt(h['value'])} [{fmt(lo)}, {fmt(hi)}]"


def _n(entry: dict[str, Any]) -> Any:
    return (entry.get("model") or entry.get("baseline") or {}).get("n", "-")


def _markdown(report: dict[str, Any]) -> str:
    models = report["models"]
    has_base = "baseline" in models
    lines = ["# Evaluation report", ""]
    lines.append(f"Model: `{models['model']['model']}`" +
                 (f"; baseline: `{models['baseline']['model']}`" if has_base else "") +
                 f"; seed {report['seed']}; {report['seconds']} s.")
    lines += ["", "## Capabilities (%, 95% bootstrap CI)", ""]
    headers = ["capability", "metric", "model"] + (["baseline", "delta (paired)"] if has_base else [])
    rows = []
    for cap, h in report["headline"].items():
        r = [cap, h["metric"], _cell(h.get("model"))]
        if has_base:
            r += [_cell(h.get("baseline")), _delta_cell(h.get("delta"))]
        rows.append(r)
    lines.append(markdown_table(headers, rows))
    for cap, entries in report.get("benchmarks", {}).items():
        if not entries:
            continue
        lines += [f"## {cap.capitalize()}: benchmarks (%, 95% bootstrap CI)", ""]
        headers = ["benchmark", "metric", "n", "model"] + (["baseline", "delta (paired)"] if has_base else [])
        headers.append("comparable published setting")
        rows = []
        for e in entries:
            r = [e["benchmark"], e["metric"], _n(e), _cell(e.get("model"))]
            if has_base:
                r += [_cell(e.get("baseline")), _delta_cell(e.get("delta"))]
            rows.append(r + [e["published"]])
        lines.append(markdown_table(headers, rows))
    # MMLU per-subject detail
    mm_rows = []
    subjects: list[str] = []
    for label, res in models.items():
        for b in (res.get("benchmarks") or {}).values():
            if b["task"] != "mmlu_medical":
                continue
            m = b["metric"]
            subjects = list(m["subjects"])
            mm_rows.append([label, f"{b['shots']}-shot", fmt(m["accuracy"]), fmt(m["macro"]), m["n"]]
                           + [fmt(v["accuracy"]) for v in m["subjects"].values()])
    if mm_rows:
        lines += ["## Expertise: MMLU medical by subject (accuracy %)", ""]
        lines.append(markdown_table(["model", "setting", "micro", "macro", "n"] + subjects,
                                    [r + [""] * (5 + len(subjects) - len(r)) for r in mm_rows]))
    preds = sorted({b["predictions"] for res in models.values() for b in (res.get("benchmarks") or {}).values()})
    if preds:
        lines += ["Per-item predictions: " + ", ".join(f"`{p}`" for p in preds), ""]
    # generative detail (synthetic split)
    gen_rows = []
    for label, res in models.items():
        for cap in ("reasoning", "instruction", "integration"):
            r = res.get(cap) or {}
            if "skipped" in r or not r:
                gen_rows.append([label, cap, "skipped: " + str(r.get("skipped", "not run")), "", "", "", ""])
                continue
            extra = (f"prompt strict {fmt(r['prompt_level_strict_acc'])} / loose {fmt(r['prompt_level_loose_acc'])}; "
                     f"instruction strict {fmt(r['inst_level_strict_acc'])} / loose {fmt(r['inst_level_loose_acc'])}"
                     if cap == "instruction" else "")
            gen_rows.append([label, cap, r["n"], fmt(r.get("value")), fmt(r.get("format_ok")), r["unparseable"],
                             extra])
    lines += ["## Generative tasks (synthetic test split, ours)", ""]
    lines.append(markdown_table(["model", "capability", "n", "score %", "format ok %", "unparseable", "detail"],
                                gen_rows))
    saf_rows = []
    for label, res in models.items():
        s = res.get("safety") or {}
        if "skipped" in s or not s:
            saf_rows.append([label, "skipped: " + str(s.get("skipped", "not run")), "", "", ""])
        else:
            saf_rows.append([label, s["n_answers"], fmt(s["hallucinated_entity_rate"]), fmt(s["contradiction_rate"]),
                             f"{s['claims']['supported']} / {s['claims']['refuted']}"])
    lines += ["## Safety (lower is better)", ""]
    lines.append(markdown_table(["model", "answers", "hallucinated entities %", "contradictions %",
                                 "claims supported / refuted"], saf_rows))
    skipped = {k: v["count"] for k, v in report["skipped_rows"].items() if v["count"]}
    if skipped:
        lines += ["## Skipped input rows", "", ", ".join(f"{k}: {v}" for k, v in skipped.items()) +
                  " (first messages in report.json)", ""]
    if report.get("plots"):
        lines += ["## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in report["plots"]] + [""]
    return "\n".join(lines) + "\n"


def _plots(report: dict[str, Any], out: Path, headline_shots: int) -> list[str]:
    plots = []
    bars: dict[str, dict[str, tuple[float, float, float]]] = {}
    for cap, entries in report["benchmarks"].items():
        for e in entries:
            label = f"{cap}\n{e['benchmark'].replace(' (ours)', '*')}"
            for model_label in report["models"]:
                h = e.get(model_label)
                if h:
                    bars.setdefault(model_label, {})[label] = (h["value"], *h["ci95"])
    if bars:
        plots.append(str(bar_chart_ci(bars, out / "benchmarks.png",
                                      title="Benchmarks (95% bootstrap CI; * = our synthetic split)")))
    radar = {label: {cap: (report["headline"][cap].get(label) or {}).get("value") for cap in CAPABILITY_AXES}
             for label in report["models"]}
    present = [c for c in CAPABILITY_AXES if any(v[c] is not None for v in radar.values())]
    readable = [c for c in present if any((v[c] or 0.0) >= _RADAR_MIN for v in radar.values())]
    if len(present) >= 3 and len(readable) >= 3:
        radar = {label: {c: v[c] for c in present} for label, v in radar.items()}
        plots.append(str(radar_plot(radar, out / "capabilities_radar.png", title="Capabilities")))
    subj = {}
    for label, res in report["models"].items():
        b = (res.get("benchmarks") or {}).get(f"mmlu_medical_{headline_shots}shot")
        if b and b["metric"].get("subjects"):
            subj[label] = {s: v["accuracy"] for s, v in b["metric"]["subjects"].items()}
    if subj:
        plots.append(str(bar_chart(subj, out / "mmlu_subjects.png",
                                   title=f"MMLU medical, {headline_shots}-shot accuracy by subject")))
    return plots


def write_report(report: dict[str, Any], out: Path, *, n_boot: int = 1000, seed: int = 0,
                 headline_shots: int = 0) -> dict[str, Any]:
    """Add headline numbers, benchmark tables and CIs to ``report``; write plots, report.json and report.md."""
    report["headline"] = _headlines(report, n_boot, seed, headline_shots)
    report["benchmarks"] = benchmark_rows(report, n_boot, seed)
    for stale in ("capabilities_radar.png",):  # a plot this run does not draw must not linger from an older one
        (out / stale).unlink(missing_ok=True)
    report["plots"] = _plots(report, out, headline_shots)
    clean = _nan_to_none(report)
    write_json(out / "report.json", clean)
    write_text(out / "report.md", _markdown(clean))
    return clean


def _nan_to_none(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_nan_to_none(v) for v in x]
    return x
