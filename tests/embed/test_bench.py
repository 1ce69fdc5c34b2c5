"""embed-bench end to end on a tiny model with a stand-in for MiniLM; CLI argument and config errors."""

from __future__ import annotations

import json

import pytest

from balancedbio.config import load_config
from balancedbio.embed.bench import EmbedBenchConfig, render_markdown, run_embed_bench


def test_config_file_loads_and_validates(tmp_path):
    from balancedbio.errors import ConfigError

    cfg = load_config(EmbedBenchConfig, "configs/embed.yaml", ["n_pairs=100", "process_sets=5"])
    assert cfg.n_pairs == 100 and cfg.process_sets == 5 and cfg.tasks[0] == "interaction"
    with pytest.raises(ConfigError, match="tasks"):
        load_config(EmbedBenchConfig, None, ["tasks=[interaction,nope]"])
    with pytest.raises(ConfigError, match="n_pair"):
        load_config(EmbedBenchConfig, None, ["n_pair=3"])


def test_run_embed_bench_tiny(tiny_model_dir, tmp_path, fake_minilm):
    from balancedbio.embed.genes import corum_pairs
    from balancedbio.embed.perturb import synthetic_screen
    from balancedbio.embed.profiles import fixed_profile_from_files

    names = [g for g in sorted({g for p in corum_pairs() for g in p})[:60] if fixed_profile_from_files(g)][:12]
    h5ad, _ = synthetic_screen(tmp_path / "screen.h5ad", names=names)
    cfg = load_config(EmbedBenchConfig, None, [
        "n_pairs=60", "n_lr_pairs=40", "test_frac=0.5", "n_bootstrap=10", "process_sets=2",
        "process_max_new_tokens=4", "tasks=[interaction,ligand_receptor,process,perturbation]",
        f"perturb_h5ad={h5ad}", "device=cpu"])
    out = tmp_path / "report"
    res = run_embed_bench(cfg, {"tiny": str(tiny_model_dir)}, out)
    assert sorted(p.name for p in out.iterdir()) == ["report.md", "results.json", "roc.png"]
    assert json.loads((out / "results.json").read_text())["models"] == {"tiny": str(tiny_model_dir)}
    got = {(r["embedder"], r["task"], r["split"]) for r in res["interaction"]}
    assert got == {(e, t, s) for e in ("random", "minilm", "tiny") for t in ("interaction", "ligand_receptor")
                   for s in ("gene", "pair")}
    assert all(0.0 <= r["auroc"] <= 1.0 for r in res["interaction"])
    assert [r["model"] for r in res["process"]] == ["tiny"] and res["process"][0]["n_sets"] == 2
    assert {r["embedder"] for r in res["perturbation"]} == {"random", "minilm", "tiny"}
    assert res["throughput"]["tiny"]["dim"] == 64
    md = (out / "report.md").read_text()
    assert md == render_markdown(res) and "| interaction | gene | tiny |" in md


def test_process_only_run(tiny_model_dir, tmp_path, fake_minilm):
    cfg = load_config(EmbedBenchConfig, None, ["tasks=[process]", "baselines=[]", "process_sets=2",
                                               "process_max_new_tokens=4", "device=cpu"])
    # as in the pipeline's embed stage: the runner's started.json is already in the directory
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "started.json").write_text("{}")
    res = run_embed_bench(cfg, {"tiny": str(tiny_model_dir)}, tmp_path / "p")
    assert res["interaction"] == [] and len(res["process"]) == 1
    md = (tmp_path / "p" / "report.md").read_text()
    assert "## Biological-process naming" in md and "## Gene-gene interaction" not in md
    assert not (tmp_path / "p" / "roc.png").exists()


def test_bad_runs_write_nothing(tiny_model_dir, tmp_path):
    from balancedbio.errors import ConfigError, DataError

    cfg = load_config(EmbedBenchConfig, None, ["tasks=[perturbation]"])
    with pytest.raises(ConfigError, match="needs perturb_h5ad"):
        run_embed_bench(cfg, {}, tmp_path / "a")
    (tmp_path / "no_col.h5ad").write_bytes(b"")
    cfg = load_config(EmbedBenchConfig, None, ["tasks=[perturbation]", f"perturb_h5ad={tmp_path / 'no_col.h5ad'}"])
    with pytest.raises(DataError, match="not a readable .h5ad"):
        run_embed_bench(cfg, {}, tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="not an embed-bench report"):
        run_embed_bench(load_config(EmbedBenchConfig, None, []), {}, tmp_path / "mine")


def test_cli_models_parsing_and_errors(capsys, tmp_path):
    from balancedbio.cli import main
    from balancedbio.cli.embed_bench import parse_models

    assert parse_models("base, bft=runs/bft ,x") == {"base": "default", "bft": "runs/bft", "x": "x"}
    assert main(["embed-bench", "--models", "base,base", "--output", str(tmp_path / "o")]) == 2
    assert "given twice" in capsys.readouterr().err
    assert main(["embed-bench", "--models", "m=/no/such/model", "--output", str(tmp_path / "o")]) == 2
    assert main(["embed-bench", "--output", str(tmp_path / "o"), "n_bootstrap=1"]) == 2
    assert "n_bootstrap" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
