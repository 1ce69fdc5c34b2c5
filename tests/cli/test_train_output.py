"""Standalone ``train`` never silently overwrites an existing model: a non-empty --output needs --force
(fresh start, old checkpoints removed) or --resume."""

from __future__ import annotations

import json
from pathlib import Path

from balancedbio.cli import main

BFT = str(Path(__file__).resolve().parents[2] / "configs" / "bft.yaml")


def _data(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": f"Which gene is mutated in disease {i}?"},
        {"role": "assistant", "content": f"Disease {i} is caused by variants in GENE{i}."}]}) + "\n"
        for i in range(4)))
    return path


def test_train_into_non_empty_output_refuses_without_force(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "final").mkdir(parents=True)
    (out / "final" / "model.safetensors").write_bytes(b"an old model")
    (out / "checkpoint-7").mkdir()
    (out / "checkpoint-7" / "trainer_state.json").write_text("{}")
    args = ["train", "--method", "nll", "--config", BFT, "--model", str(tiny_model_dir), "--data",
            str(_data(tmp_path)), "--output", str(out), "model.use_lora=false", "train.max_steps=1",
            "train.batch_size=2", "train.report_to=[none]", "train.gradient_checkpointing=false",
            "train.save_steps=1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert (out / "final" / "model.safetensors").read_bytes() == b"an old model"
    assert (out / "checkpoint-7").is_dir()

    assert main(args + ["--force"]) == 0
    assert not (out / "checkpoint-7").exists()                  # the old run's checkpoints are gone
    assert (out / "final" / "model.safetensors").read_bytes() != b"an old model"
    meta = json.loads((out / "final" / "balancedbio_sft.json").read_text())
    assert meta["method"] == "nll" and meta["global_step"] == 1
    # the model cards name the base model (TRL's own card says "fine-tuned version of [None]")
    cards = [p for p in out.rglob("README.md")]
    assert cards
    for card in cards:
        text = card.read_text()
        assert "[None]" not in text and "None" not in text.split("---")[-1], card
    assert str(tiny_model_dir) in (out / "README.md").read_text()


def test_train_into_empty_or_new_output_needs_no_force(tmp_path):
    from balancedbio.train.recipe import fresh_output_guard

    fresh_output_guard(tmp_path / "new", resume=False, force=False)
    (tmp_path / "empty").mkdir()
    fresh_output_guard(tmp_path / "empty", resume=False, force=False)
    (tmp_path / "empty" / "x").write_text("x")
    fresh_output_guard(tmp_path / "empty", resume=True, force=False)       # --resume continues it


def test_grpo_into_non_empty_output_refuses_without_force(tmp_path, capsys):
    out = tmp_path / "grpo"
    (out / "final").mkdir(parents=True)
    (out / "final" / "adapter_model.safetensors").write_bytes(b"old")
    grpo = str(Path(BFT).with_name("grpo.yaml"))
    assert main(["train", "--method", "grpo", "--config", grpo, "--data", str(_data(tmp_path)),
                 "--output", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (out / "final" / "adapter_model.safetensors").read_bytes() == b"old"
