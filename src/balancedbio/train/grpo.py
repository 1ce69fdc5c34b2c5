"""Capability-Aware GRPO recipe (BalancedBio, Wu et al., arXiv 2508.04278) on TRL's ``GRPOTrainer``.

Reads the synthetic data contract's ``train.jsonl`` (prompt = the messages without the last assistant
turn), scores completions with :mod:`balancedbio.rewards` (rule part: the shared scorer's per-capability
value plus optional fact-check / hallucination terms; model part: MiniLM similarity, a reward model or an
LLM judge), mixes them per capability (:mod:`balancedbio.train.weighting`) and combines the capability
gradients by surgery (:mod:`balancedbio.surgery`). ``capability_aware=false`` runs TRL's plain GRPO with the
summed rewards instead (the experiment's baseline).

1 process:   balancedbio train --method grpo --config configs/grpo.yaml data=runs/synth/train.jsonl
N processes: torchrun --nproc_per_node N -m balancedbio train --method grpo --config configs/grpo.yaml

Python::

    cfg = load_config(GRPORecipeConfig, "configs/grpo.yaml", ["steps=20", "output_dir=runs/grpo"])
    final_dir = train_grpo(cfg)        # <output_dir>/final, loadable by balancedbio.models.load_model
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from balancedbio.config import load_config, option
from balancedbio.errors import BalancedBioError, DataError
from balancedbio.jsonl import iter_jsonl
from balancedbio.models import ModelConfig
from balancedbio.rows import Row
from balancedbio.train.recipe import fresh_output_guard
from balancedbio.train.weighting import WeightingConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RewardConfig:
    """Which rewards make up the rule-based and model-based parts of the hybrid reward."""

    model_reward: str = option("similarity", "Model-based score: similarity (MiniLM to the gold answer), "
                               "reward_model, judge (OpenAI-compatible endpoint) or none.",
                               choices=("similarity", "reward_model", "judge", "none"))
    reward_model_path: str | None = option(None, "AutoModelForSequenceClassification directory (reward_model).")
    judge_url: str | None = option(None, "Base URL of the OpenAI-compatible endpoint (judge).")
    judge_model: str = option("gpt-4o-mini", "Model name sent to the judge endpoint.")
    judge_api_key_env: str = option("OPENAI_API_KEY", "Environment variable holding the judge API key.")
    judge_timeout: float = option(30.0, "Seconds to wait for the judge before failing.", min=0.0, min_exclusive=True)
    fact_check_weight: float = option(0.0, "Weight of the knowledge-graph fact-check reward in the rule part "
                                      "(needs a built graph; 0 disables).", min=0.0)
    hallucination_weight: float = option(0.0, "Weight of the hallucinated-entity penalty in the rule part.", min=0.0)
    plain_model_weight: float = option(0.5, "Weight of the model-based score in plain GRPO (summed rewards).",
                                       min=0.0)


ROLLOUTS = ("hf", "static", "vllm")


@dataclass(frozen=True)
class GRPORecipeConfig:
    """The whole GRPO recipe: model, data, rollouts, loss, weighting, surgery, output."""

    model: ModelConfig = option(ModelConfig(), "Policy model (full weights or a LoRA adapter).")
    data: str = option("runs/synth/train.jsonl", "Synth-contract train.jsonl (or a directory holding it).")
    output_dir: str = option("runs/grpo", "Checkpoints, logs, cosine history and <output_dir>/final.")
    seed: int = option(0, "Seed for data order, sampling, LoRA initialisation and PCGrad order.")
    steps: int = option(100, "Optimizer steps.", min=1)
    prompts_per_step: int = option(4, "Prompts per optimizer step (over all processes).", min=1)
    num_generations: int = option(4, "Completions sampled per prompt (the GRPO group size G).", min=2)
    max_new_tokens: int = option(128, "Longest completion in tokens.", min=1)
    temperature: float = option(1.0, "Sampling temperature of the rollouts.", min=0.0, min_exclusive=True)
    lr: float = option(1e-6, "Peak learning rate.", min=0.0, min_exclusive=True)
    lr_scheduler: str = option("constant", "Learning-rate schedule.", choices=("constant", "cosine", "linear"))
    max_grad_norm: float = option(1.0, "Gradient clipping norm (0 disables).", min=0.0)
    loss_type: str = option("grpo", "grpo (sequence mean), dr_grpo (no length / std normalisation) or dapo "
                            "(token-level, clip-higher).", choices=("grpo", "dr_grpo", "dapo"))
    beta: float = option(0.0, "KL coefficient to the initial policy (0: no reference model).", min=0.0)
    epsilon: float = option(0.2, "Lower clipping range of the ratio.", min=0.0)
    epsilon_high: float | None = option(None, "Upper clipping range (None: epsilon; dapo default 0.28).")
    capability_aware: bool = option(True, "Per-capability hybrid weighting and gradient surgery; false runs "
                                    "TRL's plain GRPO on the summed rewards.")
    weighting: WeightingConfig = option(WeightingConfig(), "Hybrid reward weighting.")
    surgery: str = option("pcgrad", "Combination of the capability gradients: none (sum), pcgrad, cagrad.",
                          choices=("none", "pcgrad", "cagrad"))
    surgery_c: float = option(0.5, "CAGrad conflict-aversion radius c.", min=0.0)
    cosine_every: int = option(1, "Record the K x K capability-gradient cosine matrix every N steps.", min=1)
    rewards: RewardConfig = option(RewardConfig(), "Reward functions.")
    rollout: str = option("hf", "Rollout engine: hf (transformers generate, through TRL), static (static KV "
                          "cache + CUDA-graph decoding step, balancedbio.train.rollout; capability-aware only) "
                          "or vllm (TRL's vLLM integration; needs `pip install vllm` and a GPU).",
                          choices=ROLLOUTS)
    rollout_buckets: list[int] = option([64, 128, 256, 512, 1024, 2048], "rollout=static: prompt widths the "
                                        "prompts are left-padded to (the smallest that fits; past the largest, "
                                        "a multiple of it), so a few decoding shapes are captured.")
    rollout_cache_size: int = option(4, "rollout=static: decoding shapes whose KV cache and CUDA graph are kept "
                                     "(least recently used released first).", min=1)
    use_vllm: bool | None = option(None, "Deprecated: use rollout=vllm. Accepted only when it agrees with "
                                   "rollout (true with vllm, false with hf or static).")
    vllm_mode: str = option("colocate", "colocate: vLLM inside the training processes; server: a separate "
                            "`trl vllm-serve` process.", choices=("colocate", "server"))
    vllm_server_base_url: str | None = option(None, "URL of the vLLM server (vllm_mode=server), e.g. "
                                              "http://10.0.0.7:8000.")
    vllm_gpu_memory_utilization: float = option(0.3, "GPU memory share vLLM may take when colocated.",
                                                min=0.0, max=1.0, min_exclusive=True)
    gradient_checkpointing: bool = option(False, "Recompute activations in backward (non-reentrant).")
    precision: str = option("auto", "auto (bf16 on a capable GPU, else fp32), fp32, bf16.",
                            choices=("auto", "fp32", "bf16"))
    save_steps: int = option(0, "Save a resumable checkpoint every N steps (0: only the final model).", min=0)
    logging_steps: int = option(1, "Log every N steps.", min=1)
    report_to: list[str] = option(["none"], "Trainer loggers (tensorboard, none, wandb, ...).")


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a synth-contract JSONL file (a directory means its ``train.jsonl``), each validated by :meth:`Row.parse`."""
    path = Path(path)
    if path.is_dir():
        path = path / "train.jsonl"
    if not path.is_file():
        raise DataError(f"{path}: training data not found (run 'balancedbio synth' or pass --data)")
    rows = [Row.parse(obj, f"{path}:{n}").to_dict() for n, obj in iter_jsonl(path)]
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def build_dataset(rows: list[dict[str, Any]]) -> Any:
    """HF dataset with ``prompt`` (messages before the last assistant turn), ``capability`` and ``row`` (JSON)."""
    from datasets import Dataset

    records = []
    for row in rows:
        msgs = row["messages"]
        prompt = msgs[:-1] if msgs[-1].get("role") == "assistant" else msgs
        if not prompt:
            raise DataError(f"row {row.get('id')!r}: no prompt before the assistant turn")
        records.append({"prompt": [{"role": m["role"], "content": str(m.get("content", ""))} for m in prompt],
                        "capability": row["capability"], "row": json.dumps(row, ensure_ascii=False)})
    return Dataset.from_list(records)


def build_rewards(cfg: GRPORecipeConfig) -> tuple[list[Any], list[float], list[float]]:
    """Reward callables with their rule-part and model-part weights (one entry per callable)."""
    from balancedbio import rewards as R

    r = cfg.rewards
    funcs: list[Any] = [R.capability_score_reward]
    rule_w, model_w = [1.0], [0.0]
    if r.fact_check_weight > 0:
        funcs.append(R.FactCheckReward())
        rule_w.append(r.fact_check_weight)
        model_w.append(0.0)
    if r.hallucination_weight > 0:
        funcs.append(R.HallucinationPenalty())
        rule_w.append(r.hallucination_weight)
        model_w.append(0.0)
    if r.model_reward == "similarity":
        funcs.append(R.SemanticSimilarityReward())
    elif r.model_reward == "reward_model":
        if not r.reward_model_path:
            raise BalancedBioError("rewards.reward_model_path is required when rewards.model_reward=reward_model")
        funcs.append(R.RewardModelReward(r.reward_model_path))
    elif r.model_reward == "judge":
        if not r.judge_url:
            raise BalancedBioError("rewards.judge_url is required when rewards.model_reward=judge")
        funcs.append(R.LLMJudgeReward(r.judge_url, r.judge_model, api_key_env=r.judge_api_key_env,
                                      timeout=r.judge_timeout))
    if r.model_reward != "none":
        rule_w.append(0.0)
        model_w.append(1.0)
    return funcs, rule_w, model_w


def grpo_args(cfg: GRPORecipeConfig, *, world_size: int = 1, extra: dict[str, Any] | None = None) -> Any:
    """TRL ``GRPOConfig`` for the recipe."""
    import torch
    from trl import GRPOConfig

    from balancedbio.train.recipe import precision_flags

    completions = cfg.prompts_per_step * cfg.num_generations
    if completions % world_size:
        raise BalancedBioError(f"prompts_per_step x num_generations = {completions} is not divisible by the "
                               f"{world_size} processes")
    bf16, _ = precision_flags(cfg.precision)
    eps_high = cfg.epsilon_high if cfg.epsilon_high is not None else (0.28 if cfg.loss_type == "dapo" else None)
    report = [r for r in cfg.report_to if r != "none"] or "none"
    kwargs: dict[str, Any] = dict(
        output_dir=cfg.output_dir, seed=cfg.seed, data_seed=cfg.seed, max_steps=cfg.steps,
        learning_rate=cfg.lr, lr_scheduler_type=cfg.lr_scheduler, max_grad_norm=cfg.max_grad_norm,
        per_device_train_batch_size=completions // world_size, gradient_accumulation_steps=1,
        num_generations=cfg.num_generations, max_completion_length=cfg.max_new_tokens,
        temperature=cfg.temperature, loss_type=cfg.loss_type, beta=cfg.beta, epsilon=cfg.epsilon,
        epsilon_high=eps_high, scale_rewards="none" if cfg.loss_type == "dr_grpo" else "group",
        gradient_checkpointing=cfg.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        bf16=bf16, save_strategy="steps" if cfg.save_steps else "no", save_steps=cfg.save_steps or 500,
        logging_steps=cfg.logging_steps, report_to=report, disable_tqdm=False, dataloader_num_workers=0,
        remove_unused_columns=False, log_completions=False, dataloader_pin_memory=torch.cuda.is_available(),
        # Without a GPU, a torchrun launch only becomes one gloo process group when told to use the CPU;
        # otherwise every process would train alone.
        use_cpu=not torch.cuda.is_available(),
    )
    check_rollout(cfg)
    if cfg.rollout == "vllm":
        kwargs.update(use_vllm=True, vllm_mode=cfg.vllm_mode,
                      vllm_gpu_memory_utilization=cfg.vllm_gpu_memory_utilization)
        if cfg.vllm_server_base_url:
            kwargs["vllm_server_base_url"] = cfg.vllm_server_base_url
    kwargs.update(extra or {})
    return GRPOConfig(**kwargs)


def check_rollout(cfg: GRPORecipeConfig) -> None:
    """Refuse contradictory or unavailable rollout settings with one line (run before anything is loaded
    or written): ``rollout`` alone picks the engine."""
    import importlib.util

    from balancedbio.errors import ConfigError

    if cfg.use_vllm is not None and cfg.use_vllm != (cfg.rollout == "vllm"):
        raise ConfigError(f"use_vllm={str(cfg.use_vllm).lower()} contradicts rollout={cfg.rollout}: rollout alone "
                          "picks the engine (hf, static or vllm); drop use_vllm")
    if cfg.vllm_server_base_url and cfg.rollout != "vllm":
        raise ConfigError(f"vllm_server_base_url is set but rollout={cfg.rollout}; set rollout=vllm "
                          "vllm_mode=server to use the server, or drop vllm_server_base_url")
    if not cfg.rollout_buckets or any(not isinstance(b, int) or b < 1 for b in cfg.rollout_buckets):
        raise ConfigError(f"rollout_buckets must be a non-empty list of positive token counts, got "
                          f"{list(cfg.rollout_buckets)}")
    if cfg.rollout == "static" and not cfg.capability_aware:
        raise ConfigError("rollout=static needs capability_aware=true (plain GRPO generates through TRL); "
                          "use rollout=hf or rollout=vllm")
    if cfg.rollout == "vllm" and importlib.util.find_spec("vllm") is None:
        raise ConfigError("rollout=vllm needs the vllm package (pip install vllm) and a GPU; use rollout=hf "
                          "or rollout=static to generate with transformers")


def build_trainer(cfg: GRPORecipeConfig, *, model: Any = None, tokenizer: Any = None, rows: list | None = None,
                  reward_funcs: list[Any] | None = None, rule_weights: list[float] | None = None,
                  model_weights: list[float] | None = None, args_extra: dict[str, Any] | None = None) -> Any:
    """A ready trainer for ``cfg``: :class:`CapabilityGRPOTrainer`, or TRL's ``GRPOTrainer`` when not
    capability-aware. Model, tokenizer, rows and rewards are loaded / built when not given."""
    from trl import GRPOTrainer

    from balancedbio.models import load_model, lora_config
    from balancedbio.train.grpo_trainer import CapabilityGRPOTrainer, CapabilityOptions
    from balancedbio.train.recipe import train_model_config

    check_rollout(cfg)
    dataset = build_dataset(rows if rows is not None else load_rows(cfg.data))  # bad data fails before loading
    if cfg.capability_aware:
        from balancedbio.train.engines import check_start

        check_start()  # FSDP1, DeepSpeed ZeRO, a TRL outside the tested range: one line, before loading the model
    if model is None:
        model, loaded_tok = load_model(train_model_config(cfg.model))
        tokenizer = tokenizer or loaded_tok
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if reward_funcs is None:
        reward_funcs, rule_weights, model_weights = build_rewards(cfg)
    import torch.distributed as dist

    world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    import os

    world = int(os.environ.get("WORLD_SIZE", world))
    peft_config = lora_config(cfg.model.lora) if cfg.model.use_lora else None
    if hasattr(model, "peft_config") and hasattr(model, "merge_and_unload"):
        # Starting from an adapter (e.g. the BFT stage's LoRA): keep training that adapter, so the result
        # stays an adapter over the same base model and loads with balancedbio.models.load_model.
        for name, param in model.named_parameters():
            param.requires_grad_("lora_" in name)
        peft_config = None
    from balancedbio.train.resume_callbacks import EpochSeedCallback, LogAtSaveCallback

    # a run resumed from checkpoint-N draws the prompt orders and logs the windows of an uninterrupted run
    common = dict(model=model, train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config,
                  callbacks=[EpochSeedCallback(), LogAtSaveCallback()])
    if not cfg.capability_aware:
        weights = [rw + cfg.rewards.plain_model_weight * mw for rw, mw in zip(rule_weights, model_weights)]
        args = grpo_args(cfg, world_size=world, extra={"reward_weights": weights, **(args_extra or {})})
        return GRPOTrainer(reward_funcs=reward_funcs, args=args, **common)
    options = CapabilityOptions(rule_weights=list(rule_weights), model_weights=list(model_weights),
                                weighting=cfg.weighting, surgery=cfg.surgery, surgery_c=cfg.surgery_c,
                                surgery_seed=cfg.seed, cosine_every=cfg.cosine_every, rollout=cfg.rollout,
                                rollout_buckets=tuple(cfg.rollout_buckets), rollout_cache_size=cfg.rollout_cache_size)
    args = grpo_args(cfg, world_size=world, extra=args_extra)
    return CapabilityGRPOTrainer(reward_funcs=reward_funcs, args=args, capability=options, **common)


def plot_interference(history: list[dict[str, Any]], path: str | Path) -> Path | None:
    """Heat-map of the capability-gradient cosines over training: one row per capability pair."""
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from balancedbio.atomic import atomic_path

    pairs = sorted({(a, b) for h in history for i, a in enumerate(h["capabilities"])
                    for b in h["capabilities"][i + 1:]})
    if not pairs:
        return None
    grid = np.full((len(pairs), len(history)), np.nan)
    for t, h in enumerate(history):
        idx = {c: i for i, c in enumerate(h["capabilities"])}
        for p, (a, b) in enumerate(pairs):
            if a in idx and b in idx:
                grid[p, t] = h["cosine"][idx[a]][idx[b]]
    fig, ax = plt.subplots(figsize=(max(4, len(history) * 0.15 + 2), 0.4 * len(pairs) + 1.5))
    im = ax.imshow(grid, aspect="auto", cmap="RdBu", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_yticks(range(len(pairs)), [f"{a} / {b}" for a, b in pairs])
    ax.set_xlabel("recorded step index")
    ax.set_title("capability-gradient cosine (red: conflict)")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return Path(path)


def train_grpo(cfg: GRPORecipeConfig, *, resume: bool = False, **build_kwargs: Any) -> Path:
    """Run the recipe and return ``<output_dir>/final`` (full model or PEFT adapter, plus tokenizer).

    ``build_kwargs`` go to :func:`build_trainer` (e.g. custom ``reward_funcs`` with their weights).

    Also writes ``grpo_summary.json`` (time split, skipped groups, conflict share), ``capability_cosines.json``
    and ``interference.png`` under ``output_dir``. ``resume=True`` continues from the last checkpoint. The
    resume guard, finite checks and atomic save are :func:`balancedbio.train.recipe.run_recipe`'s.
    """
    from balancedbio.atomic import write_json
    from balancedbio.train.recipe import run_recipe

    check_rollout(cfg)
    out = Path(cfg.output_dir)

    def after_save(trainer: Any, result: Any) -> None:
        write_json(out / "grpo_summary.json", summarize(trainer, result))
        history = getattr(trainer, "cosine_history", [])
        if history:
            write_json(out / "capability_cosines.json", history)
            plot_interference(history, out / "interference.png")

    # a capability-aware checkpoint is complete once its weighting state is written (after the Trainer's)
    from balancedbio.train.grpo_trainer import CapabilityGRPOTrainer

    required = ("trainer_state.json",) + ((CapabilityGRPOTrainer.STATE_FILE,) if cfg.capability_aware else ())
    return run_recipe("grpo", cfg, out, seed=cfg.seed, resume=resume,
                      build=lambda: build_trainer(cfg, **build_kwargs), metadata=lambda trainer, result: {},
                      after_save=after_save, checkpoint_files=required)


def summarize(trainer: Any, result: Any) -> dict[str, Any]:
    """Run summary: loss, steps, skipped groups, conflict share, last alpha/w values."""
    logs = [h for h in trainer.state.log_history if "loss" in h]
    last = logs[-1] if logs else {}
    history = getattr(trainer, "cosine_history", [])
    conflicts = [any(h["cosine"][i][j] < 0 for i in range(len(h["cosine"])) for j in range(i + 1, len(h["cosine"])))
                 for h in history]
    return {"global_step": trainer.state.global_step, "training_loss": result.training_loss,
            "skipped_groups": getattr(trainer, "skipped_groups", None),
            "total_groups": getattr(trainer, "total_groups", None),
            "conflict_step_share": (sum(conflicts) / len(conflicts)) if conflicts else None,
            "time_split_s": getattr(trainer, "time_split", None),
            "last_log": {k: v for k, v in last.items() if isinstance(v, (int, float))}}


def cli_main(args: Any) -> int:
    """``balancedbio train --method grpo``: load the config, apply flags and overrides, train."""
    overrides = list(getattr(args, "overrides", None) or [])
    for flag, key in (("model", "model.name_or_path"), ("data", "data"), ("output", "output_dir")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides.append(f"{key}={value}")
    cfg = load_config(GRPORecipeConfig, getattr(args, "config", None), overrides)
    fresh_output_guard(cfg.output_dir, resume=bool(getattr(args, "resume", False)),
                       force=bool(getattr(args, "force", False)))
    if getattr(args, "dry_run", False):
        from balancedbio.dryrun import DryRun

        plan = DryRun("train")
        plan.model(cfg.model.name_or_path, allow_download=cfg.model.allow_download)
        plan.data(cfg.data, directory_ok=True)
        plan.output_dir(cfg.output_dir)
        return plan.done(f"grpo, {cfg.steps} steps of {cfg.prompts_per_step} prompts")
    final = train_grpo(cfg, resume=bool(getattr(args, "resume", False)))
    print(final)
    return 0
