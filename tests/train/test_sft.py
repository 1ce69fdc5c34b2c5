"""The supervised recipe on a tiny random Llama: every method trains, the fused-head loss equals the
plain fp32 loss, resume is exact, bad runs stop with one clear error."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from balancedbio.config import load_config
from balancedbio.errors import BalancedBioError
from balancedbio.train.sft import SFTRecipeConfig, build_trainer, last_checkpoint, train_sft

FACTS = [("cystic fibrosis", "CFTR"), ("Huntington disease", "HTT"), ("Marfan syndrome", "FBN1"),
         ("phenylketonuria", "PAH"), ("sickle cell anemia", "HBB"), ("Tay-Sachs disease", "HEXA"),
         ("Rett syndrome", "MECP2"), ("hemophilia A", "F8")]


@pytest.fixture(scope="module")
def chat_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    with path.open("w") as fh:
        for disease, gene in FACTS:
            fh.write(json.dumps({"messages": [
                {"role": "user", "content": f"Which gene is mutated in {disease}?"},
                {"role": "assistant", "content": f"{disease} is caused by variants in {gene}."}]}) + "\n")
    return path


def recipe(tiny_model_dir, chat_file, out, *overrides):
    base = [f"model.name_or_path={tiny_model_dir}", f"data.path={chat_file}", f"output_dir={out}",
            "train.max_steps=2", "train.batch_size=4", "train.grad_accum=1", "train.lr=1e-2", "train.warmup_ratio=0",
            "train.max_length=128", "train.group_size=4", "train.logging_steps=1", "train.report_to=[none]",
            "train.gradient_checkpointing=false", "model.dtype=float32"]
    return load_config(SFTRecipeConfig, "configs/bft.yaml", base + ["model.use_lora=false", *overrides])


def weights(final_dir):
    return load_file(str(final_dir / "model.safetensors"))


@pytest.mark.parametrize("method", ["nll", "dft", "bft"])
def test_two_steps_change_weights_and_save_loadable_model(method, tiny_model_dir, chat_file, tmp_path):
    from balancedbio.models import load_model

    cfg = recipe(tiny_model_dir, chat_file, tmp_path / method, f"train.method={method}")
    final = train_sft(cfg)
    before, after = load_file(str(tiny_model_dir / "model.safetensors")), weights(final)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "no weight changed"
    assert all(torch.isfinite(v).all() for v in after.values())
    meta = json.loads((final / "balancedbio_sft.json").read_text())
    assert meta["method"] == method and meta["global_step"] == 2
    assert meta["data"]["rows_used"] == len(FACTS) and meta["data"]["loss_tokens"] > 0
    summary = json.loads((final / "train_summary.json").read_text())
    losses = [h["loss"] for h in summary["log_history"] if "loss" in h]
    assert len(losses) == 2 and all(map(math.isfinite, losses)) and summary["global_step"] == 2
    log_rows = [json.loads(line) for line in (tmp_path / method / "sft_log.jsonl").read_text().splitlines()]
    assert {"mean_token_prob", "sample_confidence", "sample_weight", "confidence_hist"} <= set(log_rows[0])
    assert sum(log_rows[0]["confidence_hist"]) == 4
    model, tok = load_model(str(final))
    assert model.config.num_hidden_layers == 2 and tok.eos_token == "<|im_end|>"


def test_lora_adapter_loads_onto_its_base(tiny_model_dir, chat_file, tmp_path):
    from balancedbio.models import load_model

    cfg = recipe(tiny_model_dir, chat_file, tmp_path / "lora", "model.use_lora=true", "model.lora.r=4",
                 "model.lora.alpha=8", "train.save_steps=1")
    final = train_sft(cfg)
    assert (final / "adapter_config.json").is_file() and not (final / "model.safetensors").exists()
    model, _ = load_model(str(final))
    assert type(model).__name__.startswith("Peft")


def test_fused_head_loss_and_gradient_equal_plain_fp32(tiny_model_dir, chat_file, tmp_path):
    """TRL's chunked per-token log-probs through our loss vs sft_loss on full fp32 logits."""
    from balancedbio.losses import sft_loss

    cfg = recipe(tiny_model_dir, chat_file, tmp_path / "cmp", "train.group_size=3", "train.precision=fp32")
    trainer = build_trainer(cfg)
    model = trainer.model
    batch = {k: v.to(model.device) for k, v in
             trainer.data_collator([trainer.train_dataset[i] for i in range(4)]).items()}  # a GPU holds the model
    model.train()
    trainer.current_gradient_accumulation_steps = 1
    loss = trainer.compute_loss(model, dict(batch))
    loss.backward()
    fused_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    ref, metrics = sft_loss(logits, batch["labels"], method="bft", group_size=3)
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    assert metrics["num_samples"] == 4
    for name, p in model.named_parameters():
        if p.grad is not None:
            torch.testing.assert_close(fused_grads[name], p.grad, rtol=1e-4, atol=1e-7)


def test_bft_gradient_accumulation_matches_one_big_batch(tiny_model_dir, chat_file, tmp_path):
    # fp32 also on a GPU (precision auto would train in bf16 there, and the two runs differ by its rounding)
    one = train_sft(recipe(tiny_model_dir, chat_file, tmp_path / "b4", "train.max_steps=1", "train.precision=fp32"))
    two = train_sft(recipe(tiny_model_dir, chat_file, tmp_path / "b2x2", "train.max_steps=1",
                           "train.batch_size=2", "train.grad_accum=2", "train.precision=fp32"))
    a, b = weights(one), weights(two)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6)


def test_interrupted_then_resumed_run_equals_uninterrupted(tiny_model_dir, chat_file, tmp_path):
    common = ("train.max_steps=4", "train.batch_size=2", "train.save_steps=1", "train.save_total_limit=null",
              "seed=3")
    full = train_sft(recipe(tiny_model_dir, chat_file, tmp_path / "full", *common))
    out = tmp_path / "killed"
    train_sft(recipe(tiny_model_dir, chat_file, out, *common, "train.stop_after_steps=2"))
    assert last_checkpoint(out).name == "checkpoint-2"
    with pytest.raises(BalancedBioError, match="pass --resume"):
        train_sft(recipe(tiny_model_dir, chat_file, out, *common))
    resumed = train_sft(recipe(tiny_model_dir, chat_file, out, *common), resume=True)
    a, b = weights(full), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed run differs from the uninterrupted one"
    assert json.loads((resumed / "balancedbio_sft.json").read_text())["global_step"] == 4


def test_resumed_run_logs_what_the_uninterrupted_run_logs(tiny_model_dir, chat_file, tmp_path):
    # the logged loss is a mean over the steps since the last log: a resume must not cut that window short
    common = ("train.max_steps=5", "train.batch_size=2", "train.save_steps=2", "train.logging_steps=3",
              "train.save_total_limit=null", "seed=3")
    train_sft(recipe(tiny_model_dir, chat_file, tmp_path / "full", *common))
    out = tmp_path / "killed"
    train_sft(recipe(tiny_model_dir, chat_file, out, *common, "train.stop_after_steps=2"))
    train_sft(recipe(tiny_model_dir, chat_file, out, *common), resume=True)

    def logged(run):
        rows = [json.loads(line) for line in (run / "sft_log.jsonl").read_text().splitlines()]
        return [(r["step"], r["loss"]) for r in rows if "loss" in r]

    assert logged(out) == logged(tmp_path / "full")
    assert [step for step, _ in logged(out)] == [2, 3, 4, 5]


def test_nonfinite_loss_is_skipped_then_stops(tiny_model_dir, chat_file, tmp_path, monkeypatch):
    import balancedbio.train.sft_trainer as st

    real = st.sft_loss_from_logps
    calls = {"n": 0}

    def first_nan(*args, **kwargs):
        loss, metrics = real(*args, **kwargs)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] == 1 else loss), metrics

    monkeypatch.setattr(st, "sft_loss_from_logps", first_nan)
    final = train_sft(recipe(tiny_model_dir, chat_file, tmp_path / "skip"))
    assert json.loads((final / "balancedbio_sft.json").read_text())["nonfinite_skipped"] == 1
    assert all(torch.isfinite(v).all() for v in weights(final).values())

    calls["n"] = 0
    with pytest.raises(BalancedBioError, match="NaN/inf loss"):
        train_sft(recipe(tiny_model_dir, chat_file, tmp_path / "stop", "train.max_nonfinite=0"))
    assert not (tmp_path / "stop" / "final").exists()


def test_cli_trains_and_reports_bad_input(tiny_model_dir, chat_file, tmp_path, capsys):
    from balancedbio.cli import main

    out = tmp_path / "cli"
    args = ["train", "--method", "dft", "--config", "configs/bft.yaml", "--model", str(tiny_model_dir),
            "--data", str(chat_file), "--output", str(out), "model.use_lora=false", "train.max_steps=1",
            "train.batch_size=2", "train.report_to=[none]", "train.gradient_checkpointing=false"]
    assert main(args) == 0
    assert json.loads((out / "final" / "balancedbio_sft.json").read_text())["method"] == "dft"
    assert main(args[:-4] + ["train.lerning_rate=1"]) == 2
    assert "unknown key" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["train", "--model", str(tiny_model_dir), "--data", str(empty), "--output", str(tmp_path / "e")]) == 2
    assert "no trainable rows" in capsys.readouterr().err
