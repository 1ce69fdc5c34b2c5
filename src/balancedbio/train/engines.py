"""Which distributed engine a capability-aware GRPO run is under, and the ones it refuses.

Capability-aware GRPO takes one backward pass per capability through the engine and works on each rank's
local gradient (:mod:`balancedbio.train.capability_grads`). That is tested for one process, DDP and FSDP2
(``fully_shard``); the other engines are refused at start with one line naming what to use instead, *before*
the model is loaded or anything is written:

- FSDP1 (``fsdp_version: 1``, accelerate's default for ``distributed_type: FSDP``): its flat parameters hide the
  per-parameter gradient layout; use FSDP2.
- DeepSpeed ZeRO-1/2/3: the engine owns the gradient buffers (partitioned, bucketed, reduced in its own
  ``backward``), and accelerate's DeepSpeed ``backward`` also takes the optimizer step at the end of every
  accumulation window, so K backward passes per step would take K optimizer steps. (DeepSpeed 0.19.8 itself
  runs a plain ZeRO-3 step on 2 CPU processes here with ``DS_ACCELERATOR=cpu`` and gloo; the capability-aware
  path on it is not built.) Refused; use FSDP2 for sharded training.
- A TRL version outside the tested range (:data:`TRL_RANGE`): the trainer overrides a few private TRL methods
  (listed in docs/grpo.md and checked by tests/train/test_grpo_contract.py).
- Gradient accumulation over several processes: the per-capability gradients must be reduced every
  micro-batch, which accumulation's ``no_sync`` skips.

The engine is read from accelerate's launch environment (``ACCELERATE_USE_FSDP``, ``FSDP_VERSION``,
``ACCELERATE_USE_DEEPSPEED``, ``ACCELERATE_DEEPSPEED_ZERO_STAGE``) before the model loads, and again from the
trainer's ``Accelerator`` once it exists.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from balancedbio.errors import BalancedBioError
from balancedbio.train.grpo_loss import LOSS_TYPES

log = logging.getLogger(__name__)

TRL_RANGE = (">=1.16", "<1.17")          # keep equal to the trl pin in pyproject.toml
SHARDED_HINT = ("use FSDP2 for sharded training (configs/accelerate/fsdp.yaml, fsdp_version: 2), DDP "
                "(configs/accelerate/ddp.yaml), or capability_aware=false for TRL's plain GRPO")


class EngineError(BalancedBioError):
    """The distributed engine, an option or the installed TRL is one capability-aware GRPO does not support."""


def _flag(env: Mapping[str, str], key: str) -> bool:
    return env.get(key, "false").strip().lower() in ("1", "true", "yes")


def engine_from_env(env: Mapping[str, str] | None = None) -> str:
    """``single`` / ``ddp`` / ``fsdp2`` / ``fsdp1`` / ``deepspeed-zero<N>`` from accelerate's launch variables."""
    env = os.environ if env is None else env
    if _flag(env, "ACCELERATE_USE_DEEPSPEED"):
        return f"deepspeed-zero{env.get('ACCELERATE_DEEPSPEED_ZERO_STAGE', '2')}"
    if _flag(env, "ACCELERATE_USE_FSDP"):
        return "fsdp2" if str(env.get("FSDP_VERSION", "1")).strip() == "2" else "fsdp1"
    return "ddp" if int(env.get("WORLD_SIZE", "1") or 1) > 1 else "single"


def engine_from_accelerator(accelerator: Any) -> str:
    """The same names, from a live ``accelerate.Accelerator``."""
    kind = str(getattr(accelerator.distributed_type, "value", accelerator.distributed_type)).upper()
    if kind == "DEEPSPEED":
        plugin = getattr(accelerator.state, "deepspeed_plugin", None)
        return f"deepspeed-zero{getattr(plugin, 'zero_stage', '?')}"
    if kind == "FSDP":
        return "fsdp2" if getattr(accelerator, "is_fsdp2", False) else "fsdp1"
    return "ddp" if accelerator.num_processes > 1 else "single"


def _trl_version() -> str:
    import trl

    return trl.__version__


def check_trl(version: str | None = None) -> None:
    """Refuse a TRL outside :data:`TRL_RANGE` (the range the private overrides were checked against)."""
    from packaging.specifiers import SpecifierSet

    version = version or _trl_version()
    spec = SpecifierSet(",".join(TRL_RANGE))
    if version not in spec:
        raise EngineError(f"trl {version} is outside the tested range {spec} for capability-aware GRPO; "
                          f"install it with: pip install 'trl{spec}'")


def check_engine(engine: str) -> None:
    """Refuse FSDP1 and DeepSpeed ZeRO with one line naming the setting and what to use instead."""
    if engine == "fsdp1":
        raise EngineError("FSDP1 (accelerate fsdp_version: 1) is not supported by capability-aware GRPO; set "
                          f"fsdp_version: 2 in the accelerate config, or {SHARDED_HINT}")
    if engine.startswith("deepspeed"):
        stage = engine.rsplit("zero", 1)[-1]
        raise EngineError(f"DeepSpeed ZeRO-{stage} (accelerate distributed_type: DEEPSPEED) is not supported by "
                          f"capability-aware GRPO; {SHARDED_HINT}")


def check_start(env: Mapping[str, str] | None = None) -> str:
    """Everything that can be checked before the model is loaded; returns the engine name."""
    check_trl()
    engine = engine_from_env(env)
    check_engine(engine)
    return engine


def check_trainer(accelerator: Any, args: Any) -> str:
    """The checks on a built trainer: its accelerator's engine and accumulation over several processes."""
    engine = engine_from_accelerator(accelerator)
    check_engine(engine)
    asked = engine_from_env()
    if asked != engine and asked.startswith("fsdp"):
        log.warning("the launch asked for %s but accelerate runs %s (accelerate shards with FSDP only on "
                    "accelerators, not on a CPU)", asked, engine)
    if accelerator.num_processes > 1 and int(getattr(args, "gradient_accumulation_steps", 1)) > 1:
        raise EngineError(f"gradient_accumulation_steps={args.gradient_accumulation_steps} with "
                          f"{accelerator.num_processes} processes is not supported by capability-aware GRPO "
                          "(each micro-batch's capability gradients must be reduced); raise prompts_per_step "
                          "instead")
    return engine


def check_options(args: Any) -> None:
    """Refuse, with one line, a GRPOConfig option the capability-aware loss does not reproduce."""
    if args.loss_type not in LOSS_TYPES:
        raise EngineError(f"loss_type={args.loss_type!r} is not supported by capability-aware GRPO; choose one of "
                          f"{', '.join(LOSS_TYPES)} or set capability_aware=false")
    if getattr(args, "use_adaptive_entropy", False):
        raise EngineError("use_adaptive_entropy=true is not supported by capability-aware GRPO; set a fixed "
                          "entropy_coef instead")
