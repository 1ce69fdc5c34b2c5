"""Supervised post-training recipe: NLL, DFT or BFT (Balanced Fine-Tuning, Tang et al., arXiv 2511.21075)
on chat data, built on TRL's ``SFTTrainer``.

The model runs through TRL's fused, chunked LM head (``add_fused_lm_head``), which returns each target
token's log-probability without building the [B, T, V] logits; :func:`balancedbio.losses.sft_loss_from_logps`
turns those into the NLL, DFT or BFT loss. Everything else (LoRA via PEFT, gradient checkpointing, mixed
precision, checkpoints and resume, TensorBoard, DDP / FSDP / DeepSpeed) is the Trainer's.

1 process:   balancedbio train --method bft --config configs/bft.yaml data.path=data/train.jsonl
N processes: torchrun --nproc_per_node N -m balancedbio train --method bft --config configs/bft.yaml
             accelerate launch --config_file <accelerate.yaml> -m balancedbio train --method bft ...

Python::

    cfg = load_config(SFTRecipeConfig, "configs/bft.yaml", ["train.max_steps=50", "output_dir=runs/x"])
    final_dir = train_sft(cfg)          # <output_dir>/final, loadable by balancedbio.models.load_model
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from balancedbio.config import load_config, option
from balancedbio.models import ModelConfig
from balancedbio.train.data import SFTDataConfig
from balancedbio.train.recipe import (
    fresh_output_guard,
    last_checkpoint,  # noqa: F401  (re-exported: tests and the pipeline use it)
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SFTTrainConfig:
    """Optimisation settings of the supervised recipe."""

    method: str = option("bft", "Loss: nll (token mean), dft (probability-weighted tokens) or bft "
                         "(DFT tokens, per-sample mean, 1 - confidence**gamma sample weight).",
                         choices=("nll", "dft", "bft"))
    group_size: int = option(256, "BFT sliding-window length in tokens for the lowest group confidence.", min=1)
    gamma: float = option(1.0, "BFT sample-weight exponent: weight = 1 - confidence**gamma.", min=0.0)
    lr: float = option(2e-5, "Peak learning rate.", min=0.0, min_exclusive=True)
    lr_scheduler: str = option("cosine", "Learning-rate schedule.",
                               choices=("cosine", "linear", "constant", "constant_with_warmup"))
    warmup_ratio: float = option(0.03, "Fraction of the optimizer steps spent warming up the learning rate, "
                               "rounded down (a run shorter than 1/ratio steps has no warm-up).", min=0.0, max=0.9)
    weight_decay: float = option(0.0, "AdamW weight decay.", min=0.0)
    max_grad_norm: float = option(1.0, "Gradient clipping norm (0 disables).", min=0.0)
    epochs: float = option(1.0, "Passes over the data (ignored when max_steps > 0).", min=0.0, min_exclusive=True)
    max_steps: int = option(-1, "Optimizer steps to run; -1 means use epochs.", min=-1)
    batch_size: int = option(4, "Sequences per device per micro-batch.", min=1)
    grad_accum: int = option(1, "Micro-batches accumulated per optimizer step.", min=1)
    max_length: int = option(1024, "Longest tokenised conversation (see data.overlength for longer ones).", min=2)
    gradient_checkpointing: bool = option(True, "Recompute activations in backward (less memory, ~30% slower).")
    precision: str = option("auto", "Mixed precision: auto (bf16 on a GPU that supports it, else fp32), "
                            "fp32, bf16 or fp16.", choices=("auto", "fp32", "bf16", "fp16"))
    torch_compile: bool = option(False, "Compile the model with torch.compile (faster on GPU after warm-up).")
    save_steps: int = option(0, "Save a resumable checkpoint every N steps (0: only the final model).", min=0)
    save_total_limit: int | None = option(2, "Keep at most this many checkpoints (None keeps all).", min=1)
    logging_steps: int = option(10, "Log loss and diagnostics every N steps.", min=1)
    report_to: list[str] = option(["tensorboard"], "Trainer loggers (tensorboard, none, wandb, ...).")
    max_nonfinite: int = option(10, "Micro-batches with a NaN/inf loss that may be skipped (counted and "
                                "logged) before the run stops with an error.", min=0)
    stop_after_steps: int | None = option(None, "Stop (and checkpoint) after this many steps while keeping the "
                                          "schedule of max_steps: splits a run into resumable jobs.", min=1)


@dataclass(frozen=True)
class SFTRecipeConfig:
    """The whole supervised recipe: model, data, optimisation, output directory and seed."""

    model: ModelConfig = option(ModelConfig(), "Model to fine-tune (full weights or a LoRA adapter).")
    data: SFTDataConfig = option(SFTDataConfig(), "Chat training data.")
    train: SFTTrainConfig = option(SFTTrainConfig(), "Optimisation settings.")
    output_dir: str = option("runs/sft", "Checkpoints, logs and the final model (<output_dir>/final).")
    seed: int = option(0, "Seed for data order, initialisation of adapters and dropout.")


def sft_args(cfg: SFTRecipeConfig, *, extra: dict[str, Any] | None = None) -> Any:
    """TRL ``SFTConfig`` for ``cfg`` (the loss itself is ours; ``loss_type`` stays at TRL's default)."""
    import torch
    from trl import SFTConfig

    from balancedbio.train.recipe import checkpointing_kwargs, precision_flags

    t = cfg.train
    bf16, fp16 = precision_flags(t.precision)
    report = [r for r in t.report_to if r != "none"] or "none"
    kwargs: dict[str, Any] = dict(
        output_dir=cfg.output_dir, seed=cfg.seed, data_seed=cfg.seed,
        # warm-up: the trainer turns train.warmup_ratio into steps once it knows the total (recipe.warmup_steps)
        learning_rate=t.lr, lr_scheduler_type=t.lr_scheduler, warmup_steps=0,
        weight_decay=t.weight_decay, max_grad_norm=t.max_grad_norm,
        num_train_epochs=t.epochs, max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size, gradient_accumulation_steps=t.grad_accum,
        max_length=t.max_length, packing=False, padding_free=False,
        **checkpointing_kwargs(SFTConfig, t.gradient_checkpointing), bf16=bf16, fp16=fp16, torch_compile=t.torch_compile,
        save_strategy="steps" if t.save_steps else "no", save_steps=t.save_steps or 500,
        save_total_limit=t.save_total_limit, logging_steps=t.logging_steps, report_to=report,
        dataloader_num_workers=0, remove_unused_columns=True, disable_tqdm=False,
        # On a machine without a GPU, use_cpu makes torchrun/accelerate launches real multi-process DDP (gloo);
        # without it each process would silently train alone.
        use_cpu=not torch.cuda.is_available(),
    )
    kwargs.update(extra or {})
    return SFTConfig(**kwargs)


def build_trainer(cfg: SFTRecipeConfig, *, model: Any = None, tokenizer: Any = None, train_dataset: Any = None,
                  callbacks: list[Any] | None = None, args_extra: dict[str, Any] | None = None) -> Any:
    """A ready :class:`BalancedSFTTrainer` for ``cfg`` (loads model, tokenizer and data when not given)."""
    from balancedbio.models import load_model, lora_config
    from balancedbio.train.data import build_sft_dataset, check_rows
    from balancedbio.train.recipe import train_model_config
    from balancedbio.train.resume_callbacks import LogAtSaveCallback
    from balancedbio.train.sft_callbacks import (
        FiniteWeightsCallback,
        SampleDiagnosticsCallback,
        SampleStatsBuffer,
        StopAtStepCallback,
    )
    from balancedbio.train.sft_trainer import BalancedSFTTrainer

    if model is None:
        if train_dataset is None:
            check_rows(cfg.data.path, cfg.data)  # bad data fails before the model is loaded
        model, loaded_tok = load_model(train_model_config(cfg.model))
        tokenizer = tokenizer or loaded_tok
    stats = None
    if train_dataset is None:
        train_dataset, stats = build_sft_dataset(cfg.data.path, tokenizer, max_length=cfg.train.max_length,
                                                 cfg=cfg.data)
        log.info("data: %s", stats.summary())
    buffer = SampleStatsBuffer()
    cbs = [FiniteWeightsCallback(),
           SampleDiagnosticsCallback(buffer, cfg.output_dir, tensorboard="tensorboard" in cfg.train.report_to)]
    if cfg.train.stop_after_steps:
        cbs.append(StopAtStepCallback(cfg.train.stop_after_steps))
    cbs.append(LogAtSaveCallback())  # after StopAtStepCallback, which may ask for a save
    peft_config = lora_config(cfg.model.lora) if cfg.model.use_lora else None
    trainer = BalancedSFTTrainer(
        model=model, args=sft_args(cfg, extra=args_extra), train_dataset=train_dataset,
        processing_class=tokenizer, peft_config=peft_config, callbacks=cbs + list(callbacks or []),
        method=cfg.train.method, group_size=cfg.train.group_size, gamma=cfg.train.gamma,
        warmup_ratio=cfg.train.warmup_ratio,
        max_nonfinite=cfg.train.max_nonfinite, stats_buffer=buffer)
    trainer.data_stats = stats
    return trainer


def train_sft(cfg: SFTRecipeConfig, *, resume: bool = False, callbacks: list[Any] | None = None) -> Path:
    """Run the recipe and return ``<output_dir>/final`` (full model or PEFT adapter, plus tokenizer).

    ``resume=True`` continues from the last ``checkpoint-N`` under ``output_dir`` (model, optimizer,
    scheduler, RNG and data position), so an interrupted run ends with the same weights as an
    uninterrupted one. Without it, an ``output_dir`` that already holds checkpoints is refused. The
    resume guard, finite checks and atomic save are :func:`balancedbio.train.recipe.run_recipe`'s.
    """
    from balancedbio.train.recipe import run_recipe

    def metadata(trainer: Any, result: Any) -> dict[str, Any]:
        return {"method": cfg.train.method, "nonfinite_skipped": trainer.nonfinite_skipped,
                "data": asdict(trainer.data_stats) if trainer.data_stats is not None else None}

    def summary(trainer: Any, result: Any) -> dict[str, Any]:
        return {"train_summary.json": {"method": cfg.train.method, "global_step": trainer.state.global_step,
                                       "training_loss": result.training_loss,
                                       "log_history": trainer.state.log_history}}

    return run_recipe("sft", cfg, cfg.output_dir, seed=cfg.seed, resume=resume,
                      build=lambda: build_trainer(cfg, callbacks=callbacks), metadata=metadata,
                      extra_files=summary)


def cli_main(args: Any) -> int:
    """``balancedbio train --method nll|dft|bft``: load the config, apply flags and overrides, train."""
    overrides = list(getattr(args, "overrides", None) or [])
    for flag, key in (("method", "train.method"), ("model", "model.name_or_path"), ("data", "data.path"),
                      ("output", "output_dir")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides.append(f"{key}={value}")
    cfg = load_config(SFTRecipeConfig, getattr(args, "config", None), overrides)
    fresh_output_guard(cfg.output_dir, resume=bool(getattr(args, "resume", False)),
                       force=bool(getattr(args, "force", False)))
    if getattr(args, "dry_run", False):
        from balancedbio.dryrun import DryRun

        plan = DryRun("train")
        plan.model(cfg.model.name_or_path, allow_download=cfg.model.allow_download)
        plan.data(cfg.data.path, directory_ok=True)
        if Path(cfg.data.path).is_file():
            from balancedbio.train.data import check_rows

            check_rows(cfg.data.path, cfg.data)
        plan.output_dir(cfg.output_dir)
        return plan.done(f"{cfg.train.method}, " + (f"{cfg.train.max_steps} steps" if cfg.train.max_steps > 0
                                                    else f"{cfg.train.epochs:g} epochs"))
    final = train_sft(cfg, resume=bool(getattr(args, "resume", False)))
    print(final)
    return 0
