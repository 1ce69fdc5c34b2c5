"""The run's one report: ``<run>/report.md`` (tables and plots of every stage) and ``<run>/report.json``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from balancedbio.atomic import write_json, write_text
from balancedbio.pipeline.context import RunContext


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def write_run_report(ctx: RunContext) -> dict[str, str]:
    """Assemble the run's report from the stage manifests and the stages' own reports."""
    run_dir = ctx.run_dir
    plots_dir = run_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# balancedbio run `{ctx.cfg.name}`", "",
             f"Base model: `{ctx.cfg.model}` | seed {ctx.cfg.seed} | stages: {', '.join(ctx.cfg.stages)}", "",
             "## Stages", "", "| stage | seconds | summary |", "|---|---:|---|"]
    for stage, manifest in ctx.manifests.items():
        summary = ", ".join(f"{k}={_fmt(v)}" for k, v in manifest.get("summary", {}).items()
                            if not isinstance(v, (dict, list)))
        lines.append(f"| {stage} | {manifest.get('seconds', 0):.1f} | {summary} |")
    licences = ctx.manifests.get("kg", {}).get("summary", {}).get("licences")
    if licences:
        lines += ["", "## Knowledge sources and their licences", "", "| source | licence |", "|---|---|"]
        lines += [f"| {name} | {text} |" for name, text in sorted(licences.items())]
    report: dict[str, Any] = {"run": ctx.cfg.name, "model": ctx.cfg.model, "seed": ctx.cfg.seed,
                              "stages": ctx.manifests}
    plots: list[str] = []
    for stage in ("eval", "embed"):
        if stage not in ctx.manifests:
            continue
        stage_dir = ctx.stage_dir(stage)
        for png in sorted(stage_dir.glob("**/*.png")):
            dest = plots_dir / f"{stage}-{png.name}"
            shutil.copyfile(png, dest)
            plots.append(str(dest.relative_to(run_dir)))
        for name in ("report.md",):
            md = stage_dir / name
            if md.is_file():
                body = md.read_text()
                body = "\n".join(("#" + ln) if ln.startswith("#") else ln for ln in body.splitlines())
                lines += ["", f"## {'Evaluation' if stage == 'eval' else 'Embeddings'}", "", body]
                break
        for name in ("report.json", "results.json"):
            data = _load_json(stage_dir / name)
            if data is not None:
                report[f"{stage}_report"] = data
                break
    if plots:
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in plots]
    md_path = write_text(run_dir / "report.md", "\n".join(lines) + "\n")
    json_path = write_json(run_dir / "report.json", report)
    return {"report_md": str(md_path), "report_json": str(json_path)}
