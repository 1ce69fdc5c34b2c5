"""The pipeline's stages: how each one is configured from the recipe, wired to its inputs, and run.

Each stage calls one recipe of the package (the same function its CLI verb calls); this module only
wires paths between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from balancedbio.config import from_dict, merge_dicts, option, parse_overrides, to_dict
from balancedbio.pipeline.context import RunContext, StageResult, StageSpec
from balancedbio.progress import phase


def _section(ctx: RunContext, stage: str, cls: type, wiring: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Validate the recipe's ``stage`` section against ``cls`` with the pipeline's wiring applied."""
    user = dict(getattr(ctx.cfg, stage))
    wired = parse_overrides([f"{k}={v}" for k, v in wiring.items()]) if wiring else {}
    cfg = from_dict(cls, merge_dicts(user, wired), source=ctx.source, lines=ctx.lines, prefix=f"{stage}.")
    return cfg, to_dict(cfg)


def _check_model(name: str) -> str:
    """--dry-run: the base model must be packaged, a local checkpoint directory or a cached hub id."""
    from balancedbio.models import _ALIASES, PACKAGED_MODELS, resolve_model

    if _ALIASES.get(name, name) in PACKAGED_MODELS:
        return f"packaged model {name}"
    return str(resolve_model(name))


def _check_path(what: str, path: str | None) -> None:
    from balancedbio.errors import ConfigError

    if path and not Path(path).exists():
        raise ConfigError(f"{what}: {path}: not found")


def _trained_model(ctx: RunContext, upto: str) -> str:
    """The newest model produced by a training stage before ``upto`` (or the base model)."""
    order = ["bft", "grpo"]
    stages = [s for s in order if s in ctx.cfg.stages and order.index(s) < order.index(upto)] if upto in order \
        else [s for s in order if s in ctx.cfg.stages]
    return str(ctx.stage_dir(stages[-1]) / "final") if stages else ctx.cfg.model


# ---------------------------------------------------------------------------------------------- kg
@dataclass(frozen=True)
class KGStageConfig:
    """Where the knowledge graph comes from."""

    sources: list[str] | None = option(None, "Sources to build from (default: every source but the opt-in, non-commercial "
                                       "drug2cell; [default, drug2cell] adds it); see `balancedbio kg build --help`.")
    path: str | None = option(None, "Use an existing graph directory instead of building one.")
    toy: bool = option(False, "Use the small packaged toy graph (a few dozen diseases; for tests and demos).")


def _kg_resolve(ctx: RunContext) -> tuple[Any, dict[str, Any]]:
    return _section(ctx, "kg", KGStageConfig, {})


def _kg_describe(ctx: RunContext, cfg: KGStageConfig) -> str:
    _check_path("kg.path", cfg.path)
    return f"graph {cfg.path}" if cfg.path else "packaged toy graph" if cfg.toy else "the built graph"


def _kg_run(ctx: RunContext, cfg: KGStageConfig) -> StageResult:
    from balancedbio.knowledge.build import build_graph
    from balancedbio.knowledge.graph import KnowledgeGraph

    if cfg.path:
        path = Path(cfg.path)
    elif cfg.toy:
        from balancedbio.knowledge.toy import build_toy_graph

        path = build_toy_graph(ctx.stage_dir("kg") / "graph")
    else:
        path = build_graph(sources=cfg.sources)
    graph = KnowledgeGraph.open(path)
    stats = graph.stats() if hasattr(graph, "stats") else {}
    for name, licence in sorted(stats.get("licences", {}).items()):
        phase(f"kg: {name}: {licence}")
    summary = {k: v for k, v in stats.items() if isinstance(v, (int, float))}
    return StageResult({"graph": str(path)}, {**summary, "licences": stats.get("licences", {})})


# ------------------------------------------------------------------------------------------- synth
def _synth_resolve(ctx: RunContext) -> tuple[Any, dict[str, Any]]:
    from balancedbio.synth.generate import SynthConfig

    return _section(ctx, "synth", SynthConfig, {"seed": ctx.cfg.seed})


def _synth_run(ctx: RunContext, cfg: Any) -> StageResult:
    from balancedbio.knowledge.graph import KnowledgeGraph
    from balancedbio.synth.generate import generate_dataset

    graph_path = ctx.output("kg", "graph")
    graph = KnowledgeGraph.open(graph_path) if graph_path else None
    out = ctx.stage_dir("synth") / "data"
    manifest = generate_dataset(cfg, out, resume=True, graph=graph)
    counts = manifest.get("counts", {})
    summary = {k: v for k, v in counts.items() if isinstance(v, int)} if isinstance(counts, dict) else {}
    return StageResult({"data": str(out), "train": str(out / "train.jsonl"), "test": str(out / "test.jsonl")},
                       summary)


def _synth_describe(ctx: RunContext, cfg: Any) -> str:
    _check_path("synth.graph", cfg.graph)
    return f"{cfg.num_examples} rows, backend {cfg.backend}"


# --------------------------------------------------------------------------------------------- bft
def _train_describe(ctx: RunContext, cfg: Any) -> str:
    base = cfg.model.name_or_path
    where = _check_model(base) if base == ctx.cfg.model else f"the model of the stage before ({base})"
    steps = getattr(getattr(cfg, "train", None), "max_steps", None) or getattr(cfg, "steps", None)
    return f"{steps} steps from {where}"


def _bft_resolve(ctx: RunContext) -> tuple[Any, dict[str, Any]]:
    from balancedbio.train.sft import SFTRecipeConfig

    data = ctx.stage_dir("synth") / "data" / "train.jsonl"
    return _section(ctx, "bft", SFTRecipeConfig, {
        "model.name_or_path": ctx.cfg.model, "data.path": str(data),
        "output_dir": str(ctx.stage_dir("bft")), "seed": ctx.cfg.seed})


def _bft_run(ctx: RunContext, cfg: Any) -> StageResult:
    from balancedbio.train.sft import train_sft

    final = train_sft(cfg, resume=True)
    return StageResult({"final": str(final)}, _train_summary(Path(final)))


# -------------------------------------------------------------------------------------------- grpo
def _grpo_resolve(ctx: RunContext) -> tuple[Any, dict[str, Any]]:
    from balancedbio.train.grpo import GRPORecipeConfig

    data = ctx.stage_dir("synth") / "data" / "train.jsonl"
    return _section(ctx, "grpo", GRPORecipeConfig, {
        "model.name_or_path": _trained_model(ctx, "grpo"), "data": str(data),
        "output_dir": str(ctx.stage_dir("grpo")), "seed": ctx.cfg.seed})


def _grpo_run(ctx: RunContext, cfg: Any) -> StageResult:
    from balancedbio.train.grpo import train_grpo

    final = train_grpo(cfg, resume=True)
    return StageResult({"final": str(final)}, _train_summary(Path(final)))


def _train_summary(final: Path) -> dict[str, Any]:
    import json

    for name in ("train_summary.json", "grpo_summary.json", "trainer_state.json"):
        for candidate in (final / name, final.parent / name):
            if candidate.is_file():
                data = json.loads(candidate.read_text())
                if "log_history" in data:
                    losses = [h["loss"] for h in data["log_history"] if "loss" in h]
                    return {"steps": data.get("global_step", len(losses)),
                            **({"loss_first": losses[0], "loss_last": losses[-1]} if losses else {})}
                return {k: v for k, v in data.items() if isinstance(v, (int, float))}
    return {}


# -------------------------------------------------------------------------------------------- eval
def _eval_resolve(ctx: RunContext) -> tuple[Any, dict[str, Any]]:
    from balancedbio.eval.suite import EvalSuiteConfig

    return _section(ctx, "eval", EvalSuiteConfig, {"seed": ctx.cfg.seed} if _has_field(EvalSuiteConfig, "seed") else {})


def _eval_describe(ctx: RunContext, cfg: Any) -> str:
    _check_model(ctx.cfg.model)
    return f"{_trained_model(ctx, 'eval')} against {ctx.cfg.model}"


def _eval_run(ctx: RunContext, cfg: Any) -> StageResult:
    from balancedbio.eval.suite import run_suite
    from balancedbio.knowledge.graph import KnowledgeGraph

    graph_path = ctx.output("kg", "graph")
    test = ctx.output("synth", "test")
    out = ctx.stage_dir("eval")
    report = run_suite(cfg, _trained_model(ctx, "eval"), out, baseline=ctx.cfg.model,
                       synth_test=test, graph=KnowledgeGraph.open(graph_path) if graph_path else None)
    summary = {cap: round(h["model"]["value"], 4) for cap, h in (report.get("headline") or {}).items()
               if isinstance(h, dict) and isinstance(h.get("model"), dict) and h["model"].get("value") is not None}
    return StageResult({"report_json": str(out / "report.json"), "report_md": str(out / "report.md"),
                        "dir": str(out)}, summary)


# ------------------------------------------------------------------------------------------- embed
def _embed_resolve(ctx: RunContext) -> tuple[Any, dict[str, Any]]:
    from balancedbio.embed.bench import EmbedBenchConfig

    return _section(ctx, "embed", EmbedBenchConfig, {"seed": ctx.cfg.seed} if _has_field(EmbedBenchConfig, "seed") else {})


def _embed_run(ctx: RunContext, cfg: Any) -> StageResult:
    from balancedbio.embed.bench import run_embed_bench

    models = {"base": ctx.cfg.model}
    for stage in ("bft", "grpo"):
        if stage in ctx.cfg.stages:
            models[stage] = str(ctx.stage_dir(stage) / "final")
    out = ctx.stage_dir("embed")
    result = run_embed_bench(cfg, models, out)
    summary = {k: v for k, v in (result.get("summary") or {}).items() if isinstance(v, (int, float))}
    return StageResult({"dir": str(out)}, summary)


# ------------------------------------------------------------------------------------------ report
@dataclass(frozen=True)
class ReportStageConfig:
    title: str | None = None


def _report_resolve(ctx: RunContext) -> tuple[Any, dict[str, Any]]:
    return ReportStageConfig(), {}


def _report_run(ctx: RunContext, cfg: ReportStageConfig) -> StageResult:
    from balancedbio.pipeline.summary import write_run_report

    paths = write_run_report(ctx)
    return StageResult(paths, {"files": len(paths)})


def _has_field(cls: type, name: str) -> bool:
    import dataclasses

    return any(f.name == name for f in dataclasses.fields(cls))


STAGE_SPECS: dict[str, StageSpec] = {
    "kg": StageSpec("kg", (), _kg_resolve, _kg_run, describe=_kg_describe),
    "synth": StageSpec("synth", ("kg",), _synth_resolve, _synth_run, describe=_synth_describe),
    "bft": StageSpec("bft", ("synth",), _bft_resolve, _bft_run, all_ranks=True, describe=_train_describe),
    "grpo": StageSpec("grpo", ("synth", "bft"), _grpo_resolve, _grpo_run, all_ranks=True,
                      describe=_train_describe),
    "eval": StageSpec("eval", ("kg", "synth", "bft", "grpo"), _eval_resolve, _eval_run, describe=_eval_describe),
    "embed": StageSpec("embed", ("kg", "bft", "grpo"), _embed_resolve, _embed_run),
    "report": StageSpec("report", ("kg", "synth", "bft", "grpo", "eval", "embed"), _report_resolve, _report_run),
}
