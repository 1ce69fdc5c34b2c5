"""The stage runner's resume logic, on fake stages (no models involved)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

import balancedbio.pipeline.stages as stages_mod
from balancedbio.errors import ConfigError
from balancedbio.pipeline import load_pipeline_config, run_pipeline
from balancedbio.pipeline.stages import StageResult, StageSpec, _section


@dataclass(frozen=True)
class FakeCfg:
    value: int = 1
    fail: bool = False


@pytest.fixture
def fake_stages(monkeypatch):
    calls: list[str] = []

    def make(name, needs):
        def resolve(ctx):
            return _section(ctx, name, FakeCfg, {}) if name in ("synth", "bft") else (FakeCfg(), {})

        def run(ctx, cfg):
            calls.append(name)
            if cfg.fail:
                raise KeyboardInterrupt  # a crash in the middle of the stage
            out = ctx.stage_dir(name) / "out.txt"
            upstream = [ctx.output(n, "out") for n in needs if ctx.output(n, "out")]
            out.write_text(f"{name}:{cfg.value}:{len(upstream)}")
            return StageResult({"out": str(out)}, {"value": cfg.value})

        return StageSpec(name, needs, resolve, run)

    specs = {"kg": make("kg", ()), "synth": make("synth", ("kg",)), "bft": make("bft", ("synth",)),
             "grpo": make("grpo", ("bft",)), "eval": make("eval", ("bft",)), "embed": make("embed", ("bft",)),
             "report": make("report", ("eval",))}
    monkeypatch.setattr(stages_mod, "STAGE_SPECS", specs)
    return calls


def recipe(tmp_path, extra=""):
    p = tmp_path / "recipe.yaml"
    p.write_text(f"name: r1\noutput_root: {tmp_path / 'runs'}\nstages: [kg, synth, bft]\n" + extra)
    return p


def test_runs_skips_and_reruns_from(tmp_path, fake_stages):
    cfg, lines = load_pipeline_config(recipe(tmp_path))
    manifests = run_pipeline(cfg, lines=lines, echo=lambda m: None)
    assert fake_stages == ["kg", "synth", "bft"]
    assert (tmp_path / "runs/r1/stages/bft/out.txt").read_text() == "bft:1:1"
    assert manifests["bft"]["inputs"]["synth"] == manifests["synth"]["fingerprint"]
    run_pipeline(cfg, lines=lines, echo=lambda m: None)
    assert fake_stages == ["kg", "synth", "bft"]  # all up to date
    run_pipeline(cfg, lines=lines, from_stage="synth", echo=lambda m: None)
    assert fake_stages == ["kg", "synth", "bft", "synth", "bft"]


def test_crash_mid_stage_keeps_finished_stages(tmp_path, fake_stages):
    cfg, lines = load_pipeline_config(recipe(tmp_path), ["bft.fail=true"])
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(cfg, lines=lines, echo=lambda m: None)
    assert not (tmp_path / "runs/r1/stages/bft/manifest.json").exists()
    assert (tmp_path / "runs/r1/stages/synth/manifest.json").exists()
    cfg2, _ = load_pipeline_config(recipe(tmp_path), ["bft.fail=false"])
    run_pipeline(cfg2, lines=lines, force=True, echo=lambda m: None)
    assert fake_stages == ["kg", "synth", "bft", "bft"]  # only the unfinished stage ran again


def test_changed_config_needs_force_and_reruns_only_changed(tmp_path, fake_stages):
    cfg, lines = load_pipeline_config(recipe(tmp_path))
    run_pipeline(cfg, lines=lines, echo=lambda m: None)
    changed, _ = load_pipeline_config(recipe(tmp_path), ["bft.value=2"])
    with pytest.raises(ConfigError, match="different config"):
        run_pipeline(changed, lines=lines, echo=lambda m: None)
    run_pipeline(changed, lines=lines, force=True, echo=lambda m: None)
    assert fake_stages == ["kg", "synth", "bft", "bft"]
    manifest = json.loads((tmp_path / "runs/r1/stages/bft/manifest.json").read_text())
    assert manifest["summary"] == {"value": 2}


def test_bad_recipes_are_rejected_before_anything_runs(tmp_path, fake_stages):
    with pytest.raises(ConfigError, match="key 'stages'"):
        load_pipeline_config(_write(tmp_path, "stages: [kg, nosuchstage]\n"))
    with pytest.raises(ConfigError, match="pipeline order"):
        load_pipeline_config(_write(tmp_path, "stages: [bft, kg]\n"))
    cfg, lines = load_pipeline_config(recipe(tmp_path, "bft:\n  valu: 3\n"))
    with pytest.raises(ConfigError) as exc:
        run_pipeline(cfg, lines=lines, source=str(tmp_path / "recipe.yaml"), echo=lambda m: None)
    assert "bft.valu" in str(exc.value) and "recipe.yaml:5" in str(exc.value)
    assert fake_stages == []
    with pytest.raises(ConfigError, match="no such stage"):
        run_pipeline(cfg, from_stage="nope", echo=lambda m: None)


def test_foreign_directory_is_refused(tmp_path, fake_stages):
    (tmp_path / "runs/r1").mkdir(parents=True)
    (tmp_path / "runs/r1/precious.txt").write_text("mine")
    cfg, lines = load_pipeline_config(recipe(tmp_path))
    with pytest.raises(ConfigError, match="not a balancedbio run"):
        run_pipeline(cfg, lines=lines, echo=lambda m: None)
    assert fake_stages == []


def _write(tmp_path, text):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    return p


def test_full_disk_is_one_clear_error_and_keeps_finished_stages(tmp_path, fake_stages, monkeypatch):
    import errno

    from balancedbio.errors import BalancedBioError

    original = stages_mod.STAGE_SPECS["bft"]

    def full_disk(ctx, cfg):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(stages_mod.STAGE_SPECS, "bft", StageSpec("bft", original.needs, original.resolve, full_disk))
    cfg, lines = load_pipeline_config(recipe(tmp_path))
    with pytest.raises(BalancedBioError, match="disk full"):
        run_pipeline(cfg, lines=lines, echo=lambda m: None)
    assert (tmp_path / "runs/r1/stages/synth/manifest.json").exists()
    assert not (tmp_path / "runs/r1/stages/bft/manifest.json").exists()


def _ckpt(tmp_path, stage="bft"):
    return tmp_path / "runs/r1/stages" / stage / "checkpoint-1" / "state.txt"


def test_changed_settings_start_from_nothing(tmp_path, fake_stages):
    cfg, lines = load_pipeline_config(recipe(tmp_path))
    run_pipeline(cfg, lines=lines, echo=lambda m: None)
    _ckpt(tmp_path).parent.mkdir()
    _ckpt(tmp_path).write_text("old weights")            # a checkpoint left by the first run
    changed, _ = load_pipeline_config(recipe(tmp_path), ["bft.value=2"])
    run_pipeline(changed, lines=lines, force=True, echo=lambda m: None)
    assert not _ckpt(tmp_path).exists()                   # old checkpoints removed, not resumed
    manifest = json.loads((tmp_path / "runs/r1/stages/bft/manifest.json").read_text())
    assert manifest["started"] == "fresh" and manifest["config"] == {"value": 2, "fail": False}
    assert (tmp_path / "runs/r1/stages/bft/out.txt").read_text() == "bft:2:1"
    assert not list((tmp_path / "runs/r1/stages").glob(".bft.old-*"))


def test_interrupted_stage_with_same_settings_resumes_its_checkpoints(tmp_path, fake_stages):
    cfg, lines = load_pipeline_config(recipe(tmp_path), ["bft.fail=true"])
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(cfg, lines=lines, echo=lambda m: None)
    _ckpt(tmp_path).parent.mkdir()
    _ckpt(tmp_path).write_text("step 1")
    # the same settings again (the stage still fails, so flip a stage that is not bft to prove nothing
    # upstream changed): bft's checkpoint survives the restart
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(cfg, lines=lines, echo=lambda m: None)
    assert _ckpt(tmp_path).read_text() == "step 1"
    # a changed setting starts over ...
    fixed, _ = load_pipeline_config(recipe(tmp_path), ["bft.fail=false"])
    run_pipeline(fixed, lines=lines, force=True, echo=lambda m: None)
    assert not _ckpt(tmp_path).exists()


def test_resume_flag_keeps_checkpoints_of_a_changed_stage(tmp_path, fake_stages):
    cfg, lines = load_pipeline_config(recipe(tmp_path))
    run_pipeline(cfg, lines=lines, echo=lambda m: None)
    _ckpt(tmp_path).parent.mkdir()
    _ckpt(tmp_path).write_text("old")
    changed, _ = load_pipeline_config(recipe(tmp_path), ["bft.value=3"])
    run_pipeline(changed, lines=lines, force=True, resume=True, echo=lambda m: None)
    assert _ckpt(tmp_path).read_text() == "old"
    assert json.loads((tmp_path / "runs/r1/stages/bft/manifest.json").read_text())["started"] == "resume"


def test_from_stage_starts_that_stage_and_later_ones_fresh(tmp_path, fake_stages):
    cfg, lines = load_pipeline_config(recipe(tmp_path))
    run_pipeline(cfg, lines=lines, echo=lambda m: None)
    for stage in ("synth", "bft"):
        _ckpt(tmp_path, stage).parent.mkdir()
        _ckpt(tmp_path, stage).write_text("old")
    run_pipeline(cfg, lines=lines, from_stage="bft", echo=lambda m: None)
    assert _ckpt(tmp_path, "synth").exists() and not _ckpt(tmp_path, "bft").exists()
    assert fake_stages == ["kg", "synth", "bft", "bft"]


def test_dry_run_validates_plans_and_writes_nothing(tmp_path, fake_stages):
    cfg, lines = load_pipeline_config(recipe(tmp_path))
    said: list[str] = []
    assert run_pipeline(cfg, lines=lines, dry_run=True, echo=said.append) == \
        {"kg": "fresh", "synth": "fresh", "bft": "fresh"}
    assert not (tmp_path / "runs").exists() and fake_stages == []
    assert "nothing written" in said[-1]
    run_pipeline(cfg, lines=lines, echo=lambda m: None)
    changed, _ = load_pipeline_config(recipe(tmp_path), ["synth.value=5"])
    plans = run_pipeline(changed, lines=lines, force=True, dry_run=True, echo=lambda m: None)
    assert plans == {"kg": "skip", "synth": "fresh", "bft": "fresh"}   # bft's input changed
    assert fake_stages == ["kg", "synth", "bft"]
    bad, _ = load_pipeline_config(recipe(tmp_path), ["bft.valu=1"])
    with pytest.raises(ConfigError, match="bft.valu"):
        run_pipeline(bad, lines=lines, force=True, dry_run=True, echo=lambda m: None)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    in_file, _ = load_pipeline_config(recipe(tmp_path), [f"output_root={blocker}"])
    with pytest.raises(ConfigError, match="is a file"):
        run_pipeline(in_file, lines=lines, dry_run=True, echo=lambda m: None)


def test_pipeline_modules_import_only_downward():
    """runner, stages and summary share types through context.py and never import each other."""
    import ast
    from pathlib import Path

    import balancedbio.pipeline as pkg

    root = Path(pkg.__file__).parent
    allowed = {"runner": {"config", "context"}, "stages": {"config", "context", "summary"},
               "summary": {"config", "context"}, "context": {"config"}, "config": set()}
    for name, ok in allowed.items():
        tree = ast.parse((root / f"{name}.py").read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("balancedbio.pipeline"):
                imported.add(node.module.split(".")[2] if node.module.count(".") >= 2
                             else (node.names[0].name))
        assert imported <= ok, f"pipeline/{name}.py imports {imported - ok}"
