"""Run the pipeline's stages in order with manifests, skipping finished stages and resuming the rest.

Resume rule: a stage is finished when ``stages/<stage>/manifest.json`` exists and its fingerprint (the
hash of the stage's resolved config plus the fingerprints of the stages it reads from) matches; the
manifest is written atomically after every output of the stage is in place, so it is the stage's commit
marker. When a stage starts, ``stages/<stage>/started.json`` records its fingerprint: a killed stage
(no manifest) started with the same fingerprint resumes from its own checkpoints; a stage whose settings
or inputs changed, or that ``--from`` names, starts from nothing (its old directory is removed), unless
the caller asks to resume. The runner is handed the stage table; it imports no stage.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from balancedbio import __version__
from balancedbio.atomic import write_json
from balancedbio.config import config_hash, to_dict
from balancedbio.errors import BalancedBioError, ConfigError
from balancedbio.pipeline.config import STAGES, PipelineConfig
from balancedbio.pipeline.context import RunContext, StageSpec
from balancedbio.progress import phase

STARTED = "started.json"


def versions() -> dict[str, str]:
    out = {"balancedbio": __version__, "python": platform.python_version()}
    for mod in ("torch", "transformers", "trl", "peft", "accelerate", "datasets"):
        module = sys.modules.get(mod)
        if module is not None:
            out[mod] = getattr(module, "__version__", "?")
    return out


def _fingerprint(stage: str, stage_cfg: dict[str, Any], upstream: list[str], known: dict[str, str]) -> str:
    parts = {"stage": stage, "config": stage_cfg, "inputs": {u: known[u] for u in upstream if u in known}}
    return config_hash(parts)


def _check_run_dir(cfg: PipelineConfig, run_dir: Path, force: bool) -> None:
    run_file = run_dir / "run.json"
    if run_file.is_file():
        try:
            previous = json.loads(run_file.read_text())
        except (OSError, json.JSONDecodeError):
            previous = {}
        if previous.get("config_hash") != config_hash(cfg) and not force:
            raise ConfigError(
                f"{run_dir} holds a run with a different config (hash {previous.get('config_hash')} vs "
                f"{config_hash(cfg)}); pass --force to reuse it (stages whose settings changed rerun) "
                "or choose another --output")
    elif run_dir.exists() and any(run_dir.iterdir()) and not force:
        raise ConfigError(f"{run_dir} exists and is not a balancedbio run directory; pass --force or "
                          "choose another --output")


def _summary_line(summary: dict[str, Any]) -> str:
    bits = []
    for k, v in summary.items():
        if isinstance(v, float):
            bits.append(f"{k}={v:.4g}")
        elif isinstance(v, (int, str)) and len(str(v)) < 60:
            bits.append(f"{k}={v}")
    return "  ".join(bits[:6])


def _distributed_state() -> Any:
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    from accelerate import PartialState

    # Without a GPU, accelerate treats a torchrun launch as one process unless told to use the CPU (gloo).
    return PartialState(cpu=not torch.cuda.is_available())


def _plan(stage: str, fingerprint: str, ctx: RunContext, *, fresh: bool, resume: bool) -> str:
    """What a stage will do: ``skip`` (up to date), ``resume`` (same settings, interrupted) or ``fresh``."""
    stage_dir = ctx.stage_dir(stage)
    manifest = _read_manifest(stage_dir / "manifest.json")
    if not fresh and manifest is not None and manifest.get("fingerprint") == fingerprint:
        return "skip"
    if fresh or not stage_dir.exists():
        return "fresh"
    started = _read_manifest(stage_dir / STARTED)
    if started is not None and started.get("fingerprint") == fingerprint and manifest is None:
        return "resume"                       # killed with these very settings: continue its checkpoints
    return "resume" if resume else "fresh"    # settings changed (or unknown): start over unless asked not to


_PLAN_WORDS = {"skip": "up to date, skipped", "resume": "resuming (interrupted with the same settings)",
               "fresh": "running from scratch"}
_DRY_WORDS = {"skip": "up to date: would be skipped", "resume": "would resume from its checkpoints",
              "fresh": "would run from scratch"}


def run_pipeline(cfg: PipelineConfig, specs: Mapping[str, StageSpec], *, lines: Mapping[str, Any] | None = None,
                 source: str = "<config>", force: bool = False, from_stage: str | None = None,
                 resume: bool = False, dry_run: bool = False, echo: Any = print) -> dict[str, Any]:
    """Run (or resume) the pipeline with the stage table ``specs``; return ``{stage: manifest}``.

    A stage runs from scratch (its directory removed first) when its settings or inputs changed since
    it last started, or when ``from_stage`` names it or an earlier stage; it resumes its own checkpoints
    only when it was interrupted with the very same settings, or when ``resume`` is set. ``dry_run``
    validates everything, prints the plan and returns ``{stage: plan}`` without writing anything.
    """
    if from_stage is not None and from_stage not in STAGES:
        raise ConfigError(f"--from {from_stage}: no such stage (stages: {', '.join(STAGES)})")
    if from_stage is not None and from_stage not in cfg.stages:
        raise ConfigError(f"--from {from_stage}: this recipe does not run that stage "
                          f"(it runs: {', '.join(cfg.stages)})")
    run_dir = cfg.run_dir
    state = None if dry_run else _distributed_state()
    is_main = state is None or state.is_main_process
    ctx = RunContext(cfg=cfg, run_dir=run_dir, lines=dict(lines or {}), source=source, is_main=is_main)

    # Validate every stage's settings before running anything, and fingerprint them (a stage's
    # fingerprint covers its settings and its inputs' fingerprints, so it is known before anything runs).
    resolved: dict[str, tuple[Any, dict[str, Any]]] = {}
    fingerprints: dict[str, str] = {}
    for stage in cfg.stages:
        resolved[stage] = specs[stage].resolve(ctx)
        fingerprints[stage] = _fingerprint(stage, resolved[stage][1], list(specs[stage].needs), fingerprints)
    forced = set(STAGES[STAGES.index(from_stage):]) if from_stage is not None else set()

    _check_run_dir(cfg, run_dir, force)
    if state is not None:
        state.wait_for_everyone()      # every rank checked the directory before the main one writes into it
    total = len(cfg.stages)
    if dry_run:
        _check_writable(run_dir)
        plans: dict[str, Any] = {}
        rerun = False
        for i, stage in enumerate(cfg.stages, 1):
            plan = _plan(stage, fingerprints[stage], ctx, fresh=stage in forced, resume=resume)
            if plan == "skip" and rerun and any(n in plans and plans[n] != "skip" for n in specs[stage].needs):
                plan = "fresh"
            rerun = rerun or plan != "skip"
            plans[stage] = plan
            what = specs[stage].describe(ctx, resolved[stage][0]) if specs[stage].describe else ""
            echo(f"[{i}/{total}] {stage:<6} {_DRY_WORDS[plan]}" + (f": {what}" if what else ""))
        echo(f"dry run: recipe and inputs valid; nothing written (run directory {run_dir})")
        return plans

    if is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "run.json", {"config_hash": config_hash(cfg), "config": to_dict(cfg),
                                          "versions": versions()})
    if state is not None:
        state.wait_for_everyone()

    for i, stage in enumerate(cfg.stages, 1):
        spec = specs[stage]
        stage_cfg, stage_dict = resolved[stage]
        fingerprint = fingerprints[stage]
        manifest_path = ctx.stage_dir(stage) / "manifest.json"
        plan = _plan(stage, fingerprint, ctx, fresh=stage in forced, resume=resume)
        if state is not None:
            state.wait_for_everyone()              # every rank decided before the main one cleans
        if plan == "skip":
            ctx.manifests[stage] = _read_manifest(manifest_path) or {}
            if is_main:
                echo(f"[{i}/{total}] {stage:<6} up to date, skipped  "
                     f"{_summary_line(ctx.manifests[stage].get('summary', {}))}")
            continue
        if is_main:
            if plan == "fresh":
                clean_stage(ctx, stage)
            else:
                manifest_path.unlink(missing_ok=True)
            ctx.stage_dir(stage).mkdir(parents=True, exist_ok=True)
            write_json(ctx.stage_dir(stage) / STARTED, {"fingerprint": fingerprint, "config": stage_dict})
            what = spec.describe(ctx, stage_cfg) if spec.describe else ""
            echo(f"[{i}/{total}] {stage:<6} {_PLAN_WORDS[plan]} ..." + (f" {what}" if what else ""))
            phase(f"{stage} stage", echo=False)  # what the heartbeat names while the stage is silent
        if state is not None:
            state.wait_for_everyone()
        started = time.time()
        result = None
        try:
            if spec.all_ranks or is_main:
                result = spec.run(ctx, stage_cfg)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise BalancedBioError(f"stage {stage}: disk full while writing under {ctx.stage_dir(stage)}; "
                                       "free space and rerun: finished stages are kept") from None
            raise
        if state is not None:
            state.wait_for_everyone()
        seconds = time.time() - started
        if is_main:
            assert result is not None
            manifest = {"stage": stage, "fingerprint": fingerprint, "config_hash": config_hash(stage_dict),
                        "config": stage_dict, "inputs": {u: ctx.manifests[u]["fingerprint"]
                                                         for u in spec.needs if u in ctx.manifests},
                        "outputs": _relative(result.outputs, run_dir), "summary": result.summary,
                        "weights": _weights_digest(result.outputs),
                        "started": plan, "seconds": round(seconds, 2),
                        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "versions": versions()}
            write_json(manifest_path, manifest)
            echo(f"[{i}/{total}] {stage:<6} done in {seconds:.1f}s  {_summary_line(result.summary)}")
        if state is not None:
            state.wait_for_everyone()
        manifest = _read_manifest(manifest_path)
        if manifest is None:
            raise BalancedBioError(f"stage {stage}: manifest missing after the stage finished ({manifest_path})")
        ctx.manifests[stage] = manifest
    return ctx.manifests


def _weights_digest(outputs: dict[str, Any]) -> dict[str, str]:
    """SHA-256 of every safetensors file of a stage's ``final`` output, so the manifest names the
    exact weights the stage wrote (empty for stages without weights)."""
    final = outputs.get("final")
    if not final or not Path(str(final)).is_dir():
        return {}
    out = {}
    for f in sorted(Path(str(final)).glob("*.safetensors")):
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        out[f.name] = h.hexdigest()
    return out


def _check_writable(run_dir: Path) -> None:
    """The run directory (or its nearest existing parent) must be a writable directory."""
    probe = run_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{probe}: output path is a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{probe}: output directory is not writable")


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _relative(outputs: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    out = {}
    for k, v in outputs.items():
        p = Path(str(v))
        try:
            out[k] = str(p.resolve().relative_to(run_dir.resolve()))
        except ValueError:
            out[k] = str(v)
    return out


def clean_stage(ctx: RunContext, stage: str) -> None:
    """Remove a stage's directory (outputs, checkpoints, manifest) so it starts from nothing.

    The directory is renamed aside first, so a kill during the removal never leaves a half-removed
    stage that looks resumable; a leftover ``.<stage>.old-*`` is removed on the next clean.
    """
    stage_dir = ctx.stage_dir(stage)
    parent = stage_dir.parent
    for old in parent.glob(f".{stage}.old-*"):
        shutil.rmtree(old, ignore_errors=True)
    if not stage_dir.exists():
        return
    aside = parent / f".{stage}.old-{os.getpid()}"
    os.replace(stage_dir, aside)
    shutil.rmtree(aside, ignore_errors=True)
