"""The shared recipe shell (balancedbio.train.recipe): warm-up length, resume guard, config written first,
finite checks, atomic final save with the training arguments; both SFT and GRPO go through it, and both
check their data before loading the model."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from grpo_rows import contract_rows

from balancedbio.config import load_config
from balancedbio.errors import BalancedBioError, DataError
from balancedbio.train.recipe import precision_flags, run_recipe, warmup_steps


@pytest.mark.parametrize(("ratio", "total", "expected"), [
    (0.03, 1, 0), (0.9, 1, 0), (0.03, 24, 0), (0.05, 100, 5), (0.5, 2, 1), (0.9, 10, 9), (0.25, 10, 2),
    (0.0, 50, 0), (0.3, 10, 3)])
def test_warmup_rounds_down_and_leaves_a_step(ratio, total, expected):
    assert warmup_steps(ratio, total) == expected


def test_precision_flags():
    assert precision_flags("fp32") == (False, False)
    assert precision_flags("bf16") == (True, False)
    assert precision_flags("fp16") == (False, True)
    assert precision_flags("auto") == (torch.cuda.is_available() and torch.cuda.is_bf16_supported(), False)
    with pytest.raises(BalancedBioError, match="precision"):
        precision_flags("int8")


# ------------------------------------------------------------------------------------------------
# the shell on a stand-in trainer (no model): what it writes, in which order, and what it refuses


class _FakeTrainer:
    def __init__(self, out: Path, *, loss: float = 1.0, weight: float = 1.0, events: list | None = None):
        self.out = out
        self.events = events if events is not None else []
        self.model = torch.nn.Linear(2, 2)
        with torch.no_grad():
            self.model.weight.fill_(weight)
        self.loss = loss
        self.state = SimpleNamespace(global_step=0, max_steps=3, log_history=[])
        self.args = SimpleNamespace(to_json_string=lambda: json.dumps({"learning_rate": 0.1, "warmup_steps": 0}))
        self.accelerator = SimpleNamespace(wait_for_everyone=lambda: self.events.append("barrier"))
        self.processing_class = SimpleNamespace(save_pretrained=lambda d: (Path(d) / "tokenizer.json").write_text("{}"))

    def is_world_process_zero(self):
        return True

    def train(self, resume_from_checkpoint=None):
        self.events.append(("train", resume_from_checkpoint, (self.out / "fake_config.json").is_file()))
        self.state.global_step = 3
        from transformers.trainer_utils import TrainOutput

        return TrainOutput(global_step=3, training_loss=self.loss, metrics={})   # what Trainer.train returns

    def save_model(self, path):
        Path(path).mkdir(parents=True)
        (Path(path) / "model.safetensors").write_bytes(b"weights")
        (Path(path) / "training_args.bin").write_bytes(b"pickle")


def _run(out, trainer, **kw):
    return run_recipe("fake", {"lr": 0.1}, out, seed=0, resume=kw.pop("resume", False), build=lambda: trainer,
                      metadata=lambda t, r: {"extra": 1}, **kw)


def test_shell_writes_config_first_then_final_atomically(tmp_path, monkeypatch):
    import balancedbio.config as config

    monkeypatch.setattr(config, "to_dict", lambda c: dict(c))
    monkeypatch.setattr(config, "config_hash", lambda c: "h")
    events: list = []
    out = tmp_path / "run"
    final = _run(out, _FakeTrainer(out, events=events), after_save=lambda t, r: events.append("after"))
    assert ("train", None, True) in events  # the config file existed when training started
    assert events[-2:] == ["after", "barrier"] and events.count("barrier") >= 3
    assert sorted(p.name for p in final.iterdir()) == ["balancedbio_fake.json", "model.safetensors",
                                                       "tokenizer.json", "training_args.json"]
    meta = json.loads((final / "balancedbio_fake.json").read_text())
    assert meta == {"config": {"lr": 0.1}, "config_hash": "h", "global_step": 3, "training_loss": 1.0, "extra": 1}
    assert json.loads((final / "training_args.json").read_text())["learning_rate"] == 0.1
    assert not (out / ".final.tmp").exists()


@pytest.mark.parametrize(("kw", "message"), [({"loss": float("nan")}, "training loss is nan"),
                                             ({"weight": float("inf")}, "parameter 'weight' is NaN/inf")])
def test_shell_refuses_to_save_nonfinite(tmp_path, monkeypatch, kw, message):
    import balancedbio.config as config

    monkeypatch.setattr(config, "to_dict", lambda c: dict(c))
    monkeypatch.setattr(config, "config_hash", lambda c: "h")
    out = tmp_path / "run"
    with pytest.raises(BalancedBioError, match=message):
        _run(out, _FakeTrainer(out, **kw))
    assert not (out / "final").exists()


def test_shell_resume_guard(tmp_path, monkeypatch):
    import balancedbio.config as config

    monkeypatch.setattr(config, "to_dict", lambda c: dict(c))
    monkeypatch.setattr(config, "config_hash", lambda c: "h")
    out = tmp_path / "run"
    for step in (1, 4):
        (out / f"checkpoint-{step}").mkdir(parents=True)
        (out / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    built = []
    with pytest.raises(BalancedBioError, match="already holds checkpoint-4; pass --resume"):
        run_recipe("fake", {}, out, seed=0, resume=False, build=lambda: built.append(1),
                   metadata=lambda t, r: {})
    assert not built  # refused before anything was built or loaded
    events: list = []
    _run(out, _FakeTrainer(out, events=events), resume=True)
    assert any(e[0] == "train" and e[1].endswith("checkpoint-4") for e in events if isinstance(e, tuple))


# ------------------------------------------------------------------------------------------------
# the real recipes


@pytest.fixture(scope="module")
def chat_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    path.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": f"Which gene is mutated in disease {i}?"},
        {"role": "assistant", "content": f"Disease {i} is caused by variants in GENE{i}."}]}) + "\n"
        for i in range(4)))
    return path


def _sft(tiny_model_dir, data, out, *extra):
    from balancedbio.train.sft import SFTRecipeConfig

    return load_config(SFTRecipeConfig, "configs/bft.yaml", [
        f"model.name_or_path={tiny_model_dir}", f"data.path={data}", f"output_dir={out}", "model.use_lora=false",
        "train.batch_size=4", "train.lr=1e-2", "train.max_length=128", "train.group_size=4",
        "train.logging_steps=1", "train.report_to=[none]", "train.gradient_checkpointing=false",
        "model.dtype=float32", *extra])


def test_sft_warmup_ratio_reaches_the_scheduler_as_a_ratio(tiny_model_dir, chat_file, tmp_path):
    from balancedbio.train.sft import build_trainer

    trainer = build_trainer(_sft(tiny_model_dir, chat_file, tmp_path / "w", "train.warmup_ratio=0.2",
                                 "train.lr_scheduler=constant_with_warmup"))
    trainer.create_optimizer_and_scheduler(num_training_steps=10)
    lrs = []
    for _ in range(4):
        lrs.append(trainer.lr_scheduler.get_last_lr()[0])
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
    assert lrs == pytest.approx([0.0, 5e-3, 1e-2, 1e-2])  # 2 warm-up steps of 10, then the peak
    assert trainer.args.warmup_steps == 2


def test_sft_one_step_run_trains_at_full_lr(tiny_model_dir, chat_file, tmp_path):
    from safetensors.torch import load_file

    from balancedbio.train.sft import train_sft

    final = train_sft(_sft(tiny_model_dir, chat_file, tmp_path / "one", "train.max_steps=1",
                           "train.warmup_ratio=0.5"))
    logged = [h for h in json.loads((final / "train_summary.json").read_text())["log_history"] if "loss" in h]
    assert logged[0]["learning_rate"] == pytest.approx(1e-2)
    before, after = load_file(str(tiny_model_dir / "model.safetensors")), load_file(str(final / "model.safetensors"))
    assert any(not torch.equal(before[k], after[k]) for k in before)
    args = json.loads((final / "training_args.json").read_text())
    assert args["warmup_steps"] == 0 and args["learning_rate"] == 1e-2
    assert not (final / "training_args.bin").exists()
    assert (tmp_path / "one" / "sft_config.json").is_file()


@pytest.mark.parametrize("bad", ['{"messages": "hi"}\n', "not json\n",
                                 '{"messages": [{"role": "user", "content": "q"}]}\n'])
def test_sft_checks_data_before_loading_the_model(tmp_path, monkeypatch, bad):
    import balancedbio.models as models
    from balancedbio.train.sft import train_sft

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("model loaded before the data check"))
    data = tmp_path / "bad.jsonl"
    data.write_text(bad)
    with pytest.raises(DataError, match=str(data)):
        train_sft(_sft(tmp_path / "no-such-model", data, tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_grpo_checks_data_before_loading_the_model(tmp_path, monkeypatch):
    import balancedbio.models as models
    from balancedbio.train.grpo import GRPORecipeConfig, train_grpo

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("model loaded before the data check"))
    data = tmp_path / "bad.jsonl"
    rows = contract_rows()
    rows[1]["capability"] = "surgery"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = load_config(GRPORecipeConfig, None, [f"data={data}", f"output_dir={tmp_path / 'out'}"])
    with pytest.raises(DataError, match=r"bad.jsonl:2: key 'capability'"):
        train_grpo(cfg)
    assert not (tmp_path / "out").exists()


def test_grpo_runs_in_the_shell(tmp_path, tiny_model_dir):
    from balancedbio.train.grpo import GRPORecipeConfig, train_grpo

    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in contract_rows()))
    cfg = load_config(GRPORecipeConfig, None, [
        f"model.name_or_path={tiny_model_dir}", f"data={data}", f"output_dir={tmp_path / 'out'}", "steps=1",
        "prompts_per_step=2", "num_generations=2", "max_new_tokens=4", "rewards.model_reward=none",
        "report_to=[none]", "weighting.mode=fixed"])
    final = train_grpo(cfg, reward_funcs=[lambda prompts, completions, **kw: [float(len(str(c))) for c in completions]],
                       rule_weights=[1.0], model_weights=[0.0])
    assert (tmp_path / "out" / "grpo_config.json").is_file()
    meta = json.loads((final / "balancedbio_grpo.json").read_text())
    assert meta["global_step"] == 1 and meta["config"]["steps"] == 1
    assert json.loads((final / "training_args.json").read_text())["num_generations"] == 2
    assert not (final / "training_args.bin").exists()


def test_last_checkpoint_skips_one_cut_short(tmp_path):
    from balancedbio.train.recipe import last_checkpoint

    for n, files in [(2, ["trainer_state.json", "extra.json"]), (4, ["trainer_state.json"]), (6, ["model.safetensors"])]:
        (tmp_path / f"checkpoint-{n}").mkdir()
        for f in files:
            (tmp_path / f"checkpoint-{n}" / f).write_text("{}")
    assert last_checkpoint(tmp_path).name == "checkpoint-4"                       # 6 has no trainer state
    assert last_checkpoint(tmp_path, ("trainer_state.json", "extra.json")).name == "checkpoint-2"
    assert last_checkpoint(tmp_path / "missing") is None


def test_run_training_loss_is_the_whole_runs_mean():
    from balancedbio.train.recipe import run_training_loss

    logs = [{"step": 2, "loss": 1.0}, {"step": 3, "loss": 4.0}, {"step": 3, "train_loss": 9.0}, {"step": 6, "loss": 0.5}]
    assert run_training_loss(logs, 6, this_call=0.5) == pytest.approx((2 * 1.0 + 4.0 + 3 * 0.5) / 6)
    assert run_training_loss(logs, 8, this_call=0.7) == 0.7          # steps 7-8 were never logged
    assert run_training_loss([], 0, this_call=0.0) == 0.0


def test_checkpointing_under_the_name_the_installed_arguments_know():
    """transformers 5.17 (the GPU image's) knows only gradient_checkpointing; newer ones activation_checkpointing."""
    import dataclasses

    from transformers import TrainingArguments

    from balancedbio.train.recipe import checkpointing_kwargs

    @dataclasses.dataclass
    class Old:
        gradient_checkpointing: bool = False

    @dataclasses.dataclass
    class New:
        activation_checkpointing: bool = False
        gradient_checkpointing: bool = False

    assert checkpointing_kwargs(Old, True) == {"gradient_checkpointing": True}
    assert checkpointing_kwargs(New, False) == {"activation_checkpointing": False}
    (name,) = checkpointing_kwargs(TrainingArguments, True)
    assert name in {f.name for f in dataclasses.fields(TrainingArguments)}
