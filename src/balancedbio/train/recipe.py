"""The shell every training recipe (supervised and GRPO) runs in: the parts that must not drift apart.

:func:`run_recipe` takes a recipe's config and a function that builds its (TRL) trainer and does, in order:

1. seed everything, and the **resume guard**: an output directory that already holds a ``checkpoint-N``
   is refused unless ``resume`` (then training continues from the last one);
2. build the trainer (the recipe validates its data before it loads the model);
3. write ``<output_dir>/<name>_config.json`` (config and its hash) **before** training starts;
4. train, then the **finite checks**: a NaN/inf training loss or a NaN/inf trainable weight stops with one
   line and no final model;
5. **save the final model atomically**: every rank takes part in ``save_model`` (FSDP / ZeRO-3 gather the
   full weights), rank 0 moves the files into ``<output_dir>/final`` in one rename, with the tokenizer,
   ``training_args.json`` (the Trainer's arguments as JSON; the pickled ``training_args.bin`` is dropped)
   and the recipe's metadata file; a crash leaves either the old ``final/`` or the new one;
6. **barriers** (``accelerator.wait_for_everyone``) around the save, so no rank returns before the model
   is on disk.

The **precision choice** (:func:`precision_flags`), the model's load dtype (:func:`train_model_config`)
and the **warm-up length** (:func:`warmup_steps`) are decided here too, once for every recipe.

Example::

    final = run_recipe("sft", cfg, cfg.output_dir, seed=cfg.seed, resume=False,
                       build=lambda: build_trainer(cfg),
                       metadata=lambda trainer, result: {"method": cfg.train.method})
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from balancedbio.errors import BalancedBioError

log = logging.getLogger(__name__)


def precision_flags(precision: str) -> tuple[bool, bool]:
    """``(bf16, fp16)`` Trainer flags for a recipe's ``precision``: ``auto`` is bf16 on a GPU that supports
    it and fp32 otherwise (the CPU, older GPUs); ``fp32``, ``bf16`` and ``fp16`` are taken as given."""
    import torch

    if precision == "auto":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported()), False
    if precision not in ("fp32", "bf16", "fp16"):
        raise BalancedBioError(f"precision must be auto, fp32, bf16 or fp16, got {precision!r}")
    return precision == "bf16", precision == "fp16"


def checkpointing_kwargs(args_cls: type, on: bool) -> dict[str, Any]:
    """Activation checkpointing under the name ``args_cls`` (a TrainingArguments subclass) knows: older
    transformers releases (5.17, the GPU image's) call it ``gradient_checkpointing``; newer ones
    ``activation_checkpointing``, keeping the old name as a deprecated alias."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(args_cls)}
    return {"activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing": on}


def train_model_config(model_cfg: Any) -> Any:
    """The model config to load for training: ``dtype: auto`` loads fp32 master weights (mixed precision
    is the Trainer's ``bf16`` / ``fp16`` autocast), any explicit dtype is kept."""
    return replace(model_cfg, dtype="float32") if model_cfg.dtype == "auto" else model_cfg


def warmup_steps(ratio: float, total_steps: int) -> int:
    """Warm-up steps for a warm-up ``ratio`` of ``total_steps``, rounded *down* and always leaving at least
    one step after it.

    A linear warm-up trains step 0 at learning rate 0 (``lr * step / warmup``), so rounding up, as
    transformers does for a fractional ``warmup_steps``, makes a 1-step run (or any run shorter than
    1 / ratio steps) train only at lr 0. Rounding down gives such runs no warm-up instead.
    """
    if ratio <= 0 or total_steps <= 1:
        return 0
    return min(int(math.floor(ratio * total_steps + 1e-9)), total_steps - 1)


def last_checkpoint(output_dir: str | Path, required: tuple[str, ...] = ("trainer_state.json",)) -> Path | None:
    """The highest complete ``checkpoint-N`` directory under ``output_dir``, or None.

    Complete: it holds every file of ``required``. The Trainer writes ``trainer_state.json`` after the weights,
    optimizer and RNG state, and a recipe's own state (``on_save`` callbacks) comes after that, so a checkpoint
    cut short by a kill lacks one of them and the one before it is used instead."""
    best, best_step = None, -1
    root = Path(output_dir)
    if not root.is_dir():
        return None
    for child in root.iterdir():
        m = re.fullmatch(r"checkpoint-(\d+)", child.name)
        if m and child.is_dir() and all((child / f).is_file() for f in required) and int(m.group(1)) > best_step:
            best, best_step = child, int(m.group(1))
    return best


def resume_guard(output_dir: str | Path, resume: bool,
                 required: tuple[str, ...] = ("trainer_state.json",)) -> Path | None:
    """The checkpoint to resume from (None: start fresh). Refuses an output directory that already holds a
    checkpoint unless ``resume``, so a new run never mixes with (or silently continues) an old one."""
    out = Path(output_dir)
    ckpt = last_checkpoint(out, required)
    if ckpt is not None and not resume:
        raise BalancedBioError(f"{out}: already holds {ckpt.name}; pass --resume to continue it or choose "
                               "another output directory")
    if resume and ckpt is None:
        log.info("%s: no checkpoint to resume from; starting from the beginning", out)
    return ckpt if resume else None


def fresh_output_guard(output_dir: str | Path, *, resume: bool, force: bool) -> None:
    """Standalone ``train``: an output directory that is not empty is refused unless ``--resume`` (continue
    its checkpoints) or ``--force`` (train from scratch: its old checkpoints are removed first, and its
    ``final/`` is replaced when the new model is saved), so an old model is never silently overwritten."""
    import shutil

    out = Path(output_dir)
    if resume or not out.is_dir():
        return
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    if not force:
        shown = ", ".join(entries[:4]) + (", ..." if len(entries) > 4 else "")
        raise BalancedBioError(f"{out}: output directory is not empty ({shown}); pass --force to train "
                               "into it from scratch, --resume to continue it, or choose another --output")
    for child in out.iterdir():
        if re.fullmatch(r"checkpoint-\d+", child.name) and child.is_dir():
            shutil.rmtree(child)


def check_finite_weights(model: Any) -> str | None:
    """Name of the first trainable parameter holding NaN/inf, or None."""
    import torch

    for name, p in model.named_parameters():
        if p.requires_grad and not torch.isfinite(p.detach()).all():
            return name
    return None


def training_args_json(args: Any) -> dict[str, Any]:
    """The Trainer's arguments as a JSON-ready dict (tokens masked, as transformers' ``to_dict`` does)."""
    import json

    return json.loads(args.to_json_string())


def save_final(trainer: Any, out: Path, *, meta_name: str, meta: dict[str, Any],
               extra_files: dict[str, Any] | None = None) -> Path:
    """Save ``trainer``'s model into ``<out>/final`` atomically (see the module docstring); every rank calls
    it. ``meta`` goes to ``final/<meta_name>``, ``extra_files`` (name -> JSON object) next to it."""
    from balancedbio.atomic import atomic_dir, write_json

    final = out / "final"
    tmp = out / ".final.tmp"
    trainer.save_model(str(tmp))
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero():
        with atomic_dir(final, overwrite=True) as dest:
            for f in tmp.iterdir():
                if f.name == "training_args.bin":  # a pickle; training_args.json holds the same as JSON
                    f.unlink()
                else:
                    f.replace(dest / f.name)
            trainer.processing_class.save_pretrained(str(dest))
            write_json(dest / "training_args.json", training_args_json(trainer.args))
            write_json(dest / meta_name, meta)
            for name, obj in (extra_files or {}).items():
                write_json(dest / name, obj)
        tmp.rmdir()
    trainer.accelerator.wait_for_everyone()
    return final


def run_training_loss(log_history: list[dict[str, Any]], global_step: int, this_call: float) -> float:
    """The mean training loss over the whole run, the same for a resumed run as for an uninterrupted one.

    ``Trainer.train`` returns the mean over the steps it ran itself, so a run resumed from checkpoint-N reports
    the mean of the steps after N only. The log history (carried in the checkpoint, with a window ending at
    every checkpoint and at the last step, see ``LogAtSaveCallback``) covers every step: the window means
    weighted by their lengths give the whole run's mean. Without a log at the last step (a run that saves no
    checkpoints, so cannot be resumed) ``this_call`` is the whole run's mean already."""
    total, last = 0.0, 0
    for h in log_history:
        if "loss" in h and h.get("step", 0) > last:
            total += float(h["loss"]) * (h["step"] - last)
            last = h["step"]
    return total / global_step if global_step > 0 and last == global_step else this_call


def run_recipe(name: str, cfg: Any, output_dir: str | Path, *, seed: int, resume: bool,
               build: Callable[[], Any], metadata: Callable[[Any, Any], dict[str, Any]],
               extra_files: Callable[[Any, Any], dict[str, Any]] | None = None,
               after_save: Callable[[Any, Any], None] | None = None,
               checkpoint_files: tuple[str, ...] = ("trainer_state.json",)) -> Path:
    """Run one training recipe in the shell (module docstring) and return ``<output_dir>/final``.

    ``build()`` returns the ready trainer; ``metadata(trainer, result)`` the dict written to
    ``final/balancedbio_<name>.json`` (the config and its hash are added); ``extra_files`` more JSON files
    for ``final/``; ``after_save(trainer, result)`` runs on rank 0 after the model is saved (summaries,
    plots); ``checkpoint_files``: the files a checkpoint must hold to be resumed from.
    """
    from balancedbio.atomic import write_json
    from balancedbio.config import config_hash, to_dict
    from balancedbio.seed import seed_everything

    seed_everything(seed)
    out = Path(output_dir)
    ckpt = resume_guard(out, resume, checkpoint_files)
    trainer = build()
    header = {"config": to_dict(cfg), "config_hash": config_hash(cfg)}
    if trainer.is_world_process_zero():
        write_json(out / f"{name}_config.json", header)
    trainer.accelerator.wait_for_everyone()
    result = trainer.train(resume_from_checkpoint=str(ckpt) if ckpt is not None else None)
    loss = run_training_loss(trainer.state.log_history, trainer.state.global_step, result.training_loss)
    result = result._replace(training_loss=loss)    # what the whole run trained at, resumed or not
    if not math.isfinite(result.training_loss):
        raise BalancedBioError(f"{out}: training loss is {result.training_loss}; the final model was not saved")
    bad = check_finite_weights(trainer.model)
    if bad is not None:
        raise BalancedBioError(f"{out}: parameter '{bad}' is NaN/inf; the final model was not saved")
    if trainer.state.global_step < trainer.state.max_steps:
        log.warning("stopped at step %d of %d; resume with --resume", trainer.state.global_step,
                    trainer.state.max_steps)
    meta = {**header, "global_step": trainer.state.global_step, "training_loss": result.training_loss,
            **metadata(trainer, result)}
    final = save_final(trainer, out, meta_name=f"balancedbio_{name}.json", meta=meta,
                       extra_files=extra_files(trainer, result) if extra_files else None)
    if after_save is not None and trainer.is_world_process_zero():
        after_save(trainer, result)
    trainer.accelerator.wait_for_everyone()
    return final
