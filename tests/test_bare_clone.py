"""A bare clone runs: nothing in a default points outside the repository (no ``../shared``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_packaged_mmlu_is_the_default_and_complete():
    from balancedbio.eval.datasets import MMLU_MEDICAL_SUBJECTS, load_mmlu
    from balancedbio.eval.suite import EvalSuiteConfig, _resolve_dir
    from balancedbio.resources import mmlu_medical_dir

    root = _resolve_dir(EvalSuiteConfig().mmlu_dir)
    assert root == mmlu_medical_dir()
    assert REPO / "src" in root.parents or "site-packages" in str(root)
    test = load_mmlu(root, "test", strict=True)
    dev = load_mmlu(root, "dev", strict=True)
    assert len(test.items) == 1099 and test.subjects == sorted(MMLU_MEDICAL_SUBJECTS)
    assert all(len(v) == 5 for v in dev.by_subject().values()) and len(dev.items) == 30
    assert "MIT License" in (root / "LICENSE").read_text()


def _defaults(obj, prefix=""):
    """(key, value) of every default of a config dataclass, nested ones included."""
    import dataclasses

    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _defaults(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", value


def test_no_default_points_outside_the_repository():
    """Recipes (configs/*.yaml) and config defaults never name ../shared; help examples and tests may."""
    import importlib
    import sys

    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from gen_config_docs import RECIPES
    finally:
        sys.path.remove(str(REPO / "scripts"))
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "configs").rglob("*.yaml")
                 if "shared/" in p.read_text(encoding="utf-8")]
    for _, module, name in RECIPES:
        cfg = getattr(importlib.import_module(module), name)()
        offenders += [f"{name}.{k}" for k, v in _defaults(cfg) if "shared/" in str(v) or str(v).startswith("../")]
    assert len(RECIPES) >= 5 and offenders == []


def _copy_repo(dest: Path) -> Path:
    """Copy the tracked and new (not ignored) files of the repository, nothing else."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@pytest.mark.slow
def test_quickstart_eval_stage_runs_from_a_bare_copy(tmp_path, tiny_model_dir):
    """The quickstart recipe's eval stage (MMLU expertise) from a copy of the repo with no ../shared."""
    clone = _copy_repo(tmp_path / "clone" / "balancedbio")
    assert not (clone.parent / "shared").exists()
    env = {**os.environ, "PYTHONPATH": str(clone / "src"), "BALANCEDBIO_HOME": str(tmp_path / "home")}
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "balancedbio", "run", "configs/quickstart.yaml",
           "stages=[eval]", f"model={tiny_model_dir}", "eval.tasks=[expertise]", "eval.mcq.limit=2",
           "eval.bootstrap=10", "--output", str(out)]
    proc = subprocess.run(cmd, cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "stages" / "eval" / "report.json").read_text())
    mmlu = report["data"]["mmlu_medical"]
    assert Path(mmlu["dir"]).resolve() == (clone / "src" / "balancedbio" / "resources" / "mmlu_medical")
    assert mmlu["n_test"] == 12
