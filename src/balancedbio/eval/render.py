"""Turn the suite's raw results into headline numbers, confidence intervals, report.md and plots."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from balancedbio.atomic import write_json, write_text
from balancedbio.report import (
    bar_chart,
    bootstrap_ci,
    fmt,
    markdown_table,
    paired_bootstrap_delta,
    radar_plot,
)
from balancedbio.rows import CAPABILITIES

__all__ = ["CAPABILITY_AXES", "headline_items", "write_report"]

CAPABILITY_AXES = CAPABILITIES
_HEADLINE_DOC = {
    "expertise": "MMLU-medical micro accuracy",
    "reasoning": "final-answer accuracy (synthetic test)",
    "instruction": "prompt-level strict accuracy",
    "integration": "mean score: 0.3 format + 0.7 diagnosis",
}


def headline_items(results: dict[str, Any], cap: str, headline_shots: int = 0) -> dict[str, float] | None:
    """Per-item scores (id -> value) behind a capability's headline number, or None if not run."""
    res = results.get(cap)
    if not isinstance(res, dict) or "skipped" in res:
        return None
    if cap == "expertise":
        return res.get("items", {}).get(f"mmlu_{headline_shots}shot")
    items = res.get("items") or []
    if cap == "reasoning":
        return {it["id"]: float(it["correct"] or 0.0) for it in items}
    if cap == "instruction":
        return {it["id"]: float(bool(it["instructions"]) and all(it["instructions"])) for it in items}
    if cap == "integration":
        return {it["id"]: float(it["value"]) for it in items}
    return None


def _headlines(report: dict[str, Any], n_boot: int, seed: int, shots: int) -> dict[str, Any]:
    models = report["models"]
    out: dict[str, Any] = {}
    base = models.get("baseline")
    for cap in CAPABILITY_AXES:
        row: dict[str, Any] = {"metric": _HEADLINE_DOC[cap]}
        for label, res in models.items():
            items = headline_items(res, cap, shots)
            if not items:
                row[label] = None
                continue
            vals = list(items.values())
            lo, hi = bootstrap_ci(vals, n_boot=n_boot, seed=seed)
            row[label] = {"value": sum(vals) / len(vals), "ci95": [lo, hi], "n": len(vals)}
        if base is not None:
            a, b = headline_items(models["model"], cap, shots), headline_items(base, cap, shots)
            if a and b:
                common = sorted(set(a) & set(b))
                d, lo, hi = paired_bootstrap_delta([a[i] for i in common], [b[i] for i in common],
                                                   n_boot=n_boot, seed=seed)
                row["delta"] = {"value": d, "ci95": [lo, hi], "n": len(common)}
        out[cap] = row
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
    # expertise detail
    mm_rows = []
    subjects: list[str] = []
    for label, res in models.items():
        exp = res.get("expertise") or {}
        for k, s in (exp.get("mmlu") or {}).items():
            mm_rows.append([label, f"{k}-shot", fmt(s["micro"]), fmt(s["macro"]), s["n"]]
                           + [fmt(v["accuracy"]) for v in s["subjects"].values()])
            subjects = list(s["subjects"])
        for kind, s in (exp.get("extra") or {}).items():
            mm_rows.append([label, kind, fmt(s["micro"]), fmt(s["macro"]), s["n"]])
    if mm_rows:
        lines += ["## Expertise: MMLU medical (accuracy %)", ""]
        lines.append(markdown_table(["model", "setting", "micro", "macro", "n"] + subjects,
                                    [r + [""] * (5 + len(subjects) - len(r)) for r in mm_rows]))
    # generative detail
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
    lines += ["## Generative tasks (synthetic test split)", ""]
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


def write_report(report: dict[str, Any], out: Path, *, n_boot: int = 1000, seed: int = 0,
                 headline_shots: int = 0) -> dict[str, Any]:
    """Add headline numbers and CIs to ``report``; write plots, report.json and report.md into ``out``."""
    report["headline"] = _headlines(report, n_boot, seed, headline_shots)
    plots = []
    radar = {label: {cap: (report["headline"][cap].get(label) or {}).get("value") for cap in CAPABILITY_AXES}
             for label in report["models"]}
    present = [c for c in CAPABILITY_AXES if any(v[c] is not None for v in radar.values())]
    if len(present) >= 3:
        radar = {label: {c: v[c] for c in present} for label, v in radar.items()}
        plots.append(str(radar_plot(radar, out / "capabilities_radar.png", title="Capabilities")))
    subj = {}
    for label, res in report["models"].items():
        mm = ((res.get("expertise") or {}).get("mmlu") or {}).get(str(headline_shots))
        if mm:
            subj[label] = {s: v["accuracy"] for s, v in mm["subjects"].items()}
    if subj:
        plots.append(str(bar_chart(subj, out / "mmlu_subjects.png",
                                   title=f"MMLU medical, {headline_shots}-shot accuracy by subject")))
    report["plots"] = plots
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
