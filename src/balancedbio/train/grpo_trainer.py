"""Capability-Aware GRPO on top of TRL's ``GRPOTrainer``.

Implements the RL stage of BalancedBio (Wu et al., arXiv 2508.04278; only the abstract is public, the design
is ours, see ``docs/grpo.md``) on TRL 1.16's GRPOTrainer, which keeps generation (HF generate, vLLM),
PEFT, logging and checkpoints. Engines: 1 process, DDP and FSDP2 (``balancedbio.train.engines`` refuses FSDP1
and DeepSpeed ZeRO at start). What this subclass changes:

1. Rewards: the trainer's reward functions are split into a rule-based part and a model-based part
   (weights per function); per capability they are mixed by :class:`~balancedbio.train.weighting.HybridWeighter`
   (``fixed`` / ``inverse_variance`` / ``gdpo``), alpha_c and w_c are logged every step.
2. Advantages: group-relative within each prompt's group (every group belongs to one capability), scaled
   by w_c; a group whose rewards are all equal gets advantage 0 and is counted (``skipped_groups``).
3. Loss: everything TRL's loss applies for the configured ``loss_type`` (importance-sampling ratio of vLLM
   rollouts, KL, entropy mask and bonus, off-policy mask, ...) as pure functions (``grpo_loss``), per
   capability with the whole micro-batch's denominators, so the K losses sum to TRL's loss.
4. Gradients: one backward pass per capability through the wrapped model (``accelerator.backward``: DDP
   all-reduces, FSDP2 reduce-scatters); each rank keeps its local gradient (shard) in a [K, D_local] buffer,
   the K x K Gram matrix (summed over shards: K*K numbers) gives the surgery coefficients
   (:func:`balancedbio.surgery.surgery_coefficients`), and each rank writes its combined shard to ``.grad``
   (:mod:`balancedbio.train.capability_grads`). The K x K cosine matrix is recorded every ``cosine_every``
   steps.

A reward function that raises or returns the wrong number of values fails with its name.

1 process:   balancedbio train --method grpo --config configs/grpo.yaml
N processes: torchrun --nproc_per_node N -m balancedbio train --method grpo --config configs/grpo.yaml
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback
from trl import GRPOTrainer

from balancedbio.errors import BalancedBioError
from balancedbio.model_card import ModelCardMixin
from balancedbio.progress import phase
from balancedbio.surgery import cosine_matrix
from balancedbio.train import capability_grads as cg
from balancedbio.train.engines import EngineError, check_options, check_trainer
from balancedbio.train.grpo_loss import (
    CLIPPED,
    WINDOW_NORMALISED,
    LossSettings,
    aggregate_loss,
    entropy_bonus,
    policy_token_loss,
)
from balancedbio.train.grpo_metrics import loss_metrics, loss_stat_sums, seq_clip_means
from balancedbio.train.weighting import CAPABILITIES, HybridWeighter, WeightingConfig, group_advantages


class RewardError(BalancedBioError):
    """A reward function failed or returned the wrong number of values."""


def named_reward(func: Callable[..., Any], name: str | None = None) -> Callable[..., list[float | None]]:
    """Wrap a reward so an exception or a wrong-length result fails with one line naming the reward."""
    name = name or getattr(func, "__name__", type(func).__name__)

    def wrapper(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        try:
            out = func(prompts, completions, **kwargs)
        except BalancedBioError as exc:
            raise RewardError(f"reward '{name}' failed: {exc}") from exc
        except Exception as exc:  # noqa: BLE001  any failure inside user reward code is reported by name
            raise RewardError(f"reward '{name}' raised {type(exc).__name__}: {exc}") from exc
        out = list(out) if out is not None else None
        if out is None or len(out) != len(completions):
            got = "None" if out is None else f"{len(out)} values"
            raise RewardError(f"reward '{name}' returned {got} for {len(completions)} completions")
        return out

    wrapper.__name__ = name
    return wrapper


@dataclass
class CapabilityOptions:
    """Capability-aware settings of :class:`CapabilityGRPOTrainer` (built by the recipe from its config)."""

    rule_weights: list[float]
    model_weights: list[float]
    weighting: WeightingConfig = field(default_factory=WeightingConfig)
    surgery: str = "pcgrad"
    surgery_c: float = 0.5
    surgery_seed: int = 0
    cosine_every: int = 1
    capabilities: tuple[str, ...] = CAPABILITIES
    rollout: str = "hf"                 # hf (TRL's generate) | static (balancedbio.train.rollout) | vllm (TRL's)
    rollout_buckets: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)  # static: prompt widths padded to
    rollout_cache_size: int = 4         # static: decoding shapes (KV cache + CUDA graph) kept, LRU


def _weighted_nansum(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Rows [N, F] x weights [F] -> [N]; NaN where every weighted function is NaN."""
    used = weights != 0
    if not bool(used.any()):
        return torch.full((values.shape[0],), float("nan"), device=values.device)
    sub = values[:, used] * weights[used]
    out = torch.nansum(sub, dim=1)
    return torch.where(torch.isnan(sub).all(dim=1), torch.full_like(out, float("nan")), out)


class CapabilityGRPOTrainer(ModelCardMixin, GRPOTrainer):
    """TRL GRPOTrainer with hybrid per-capability rewards and per-capability gradient surgery.

    ``capability``: the options above. Dataset rows need a ``capability`` column. ``loss_type`` of the
    GRPOConfig must be ``grpo``, ``dr_grpo`` or ``dapo``.
    """

    def __init__(self, *args: Any, capability: CapabilityOptions, **kwargs: Any):
        funcs = kwargs.get("reward_funcs")
        funcs = list(funcs) if isinstance(funcs, (list, tuple)) else [funcs]
        if len(capability.rule_weights) != len(funcs) or len(capability.model_weights) != len(funcs):
            raise ValueError("rule_weights and model_weights need one entry per reward function")
        kwargs["reward_funcs"] = [f if isinstance(f, torch.nn.Module) else named_reward(f) for f in funcs]
        if kwargs.get("args") is not None:
            check_options(kwargs["args"])             # before TRL loads a reference model or builds anything
        super().__init__(*args, **kwargs)
        check_options(self.args)
        if self.aux_loss_enabled:
            raise EngineError("a MoE router auxiliary loss (router_aux_loss_coef != 0) is not supported by "
                              "capability-aware GRPO; set router_aux_loss_coef=0")
        self.engine = check_trainer(self.accelerator, self.args)
        self.buffer_bytes = 0
        self.cap = capability
        self.capabilities = list(capability.capabilities)
        self.weighter = HybridWeighter(capability.weighting, self.capabilities)
        self.skipped_groups = 0
        self.total_groups = 0
        self.cosine_history: list[dict[str, Any]] = []
        self.time_split = {"train": 0.0, "surgery": 0.0}
        self._last_rewards_per_func: torch.Tensor | None = None
        self._rollout = None
        self.add_callback(_CapabilityStateCallback(self))

    # ---------------------------------------------------------------------------------------------
    # rollouts

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        if self.cap.rollout != "static" or self.use_vllm or images is not None or self.tools:
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                 has_tool_images)
        from trl.models.utils import disable_gradient_checkpointing

        from balancedbio.train.rollout import Sampling, StaticRollout

        device = self.accelerator.device
        width = max(len(p) for p in prompt_ids)
        ids = torch.full((len(prompt_ids), width), self._tokenizer.pad_token_id, dtype=torch.long, device=device)
        mask = torch.zeros_like(ids)
        for i, p in enumerate(prompt_ids):
            ids[i, width - len(p):] = torch.tensor(p, device=device)
            mask[i, width - len(p):] = 1
        model = self.accelerator.unwrap_model(self.model)
        if self._rollout is None or self._rollout.model is not model:
            self._rollout = StaticRollout(model, buckets=self.cap.rollout_buckets,
                                          max_cached=self.cap.rollout_cache_size)
        sampling = Sampling(do_sample=True, temperature=self.temperature, top_k=self.top_k or 0,
                            top_p=self.top_p if self.top_p is not None else 1.0)
        with torch.no_grad(), disable_gradient_checkpointing(self.model, self.args.gradient_checkpointing_kwargs):
            out = self._rollout.generate(ids, mask, max_new_tokens=self.max_completion_length, sampling=sampling,
                                         eos_token_ids=list(self.eos_token_ids), pad_token_id=self._tokenizer.pad_token_id)
        eos = torch.tensor(list(self.eos_token_ids), device=out.device)
        completions = []
        for row in out.tolist():
            hit = [j for j, t in enumerate(row) if t in set(eos.tolist())]
            completions.append(row[: hit[0] + 1] if hit else row)
        return completions, None

    # ---------------------------------------------------------------------------------------------
    # rewards and advantages

    def _phase(self, what: str) -> None:
        """Say which part of the step runs now (a generation or scoring pass takes minutes on a CPU)."""
        if self.accelerator.is_main_process:
            phase(f"grpo step {self.state.global_step + 1}/{self.state.max_steps}: {what}")

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        self._phase(f"scoring {len(completions)} completions")
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards_per_func = rewards_per_func
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        from accelerate.utils import gather_object

        local_caps = [str(x.get("capability", "")) for x in inputs]
        bad = sorted({c for c in local_caps if c not in self.capabilities})
        if bad:
            raise BalancedBioError(f"row capability {bad[0]!r} is not one of {', '.join(self.capabilities)}")
        self._phase(f"generating {len(inputs)} completions (at most {self.max_completion_length} tokens each)")
        output = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        caps = gather_object(local_caps)
        rpf = self._last_rewards_per_func                                         # [N, F] global
        device = rpf.device
        rule = _weighted_nansum(rpf, torch.tensor(self.cap.rule_weights, device=device, dtype=rpf.dtype))
        model = _weighted_nansum(rpf, torch.tensor(self.cap.model_weights, device=device, dtype=rpf.dtype))
        num_gen = self.num_generations if mode == "train" else self.num_generations_eval
        rewards, weight, metrics = self.weighter.combine(rule, model, caps, num_gen, update=mode == "train")
        scale = self.loss_type != "dr_grpo" and self.scale_rewards != "none"
        adv, zero_std = group_advantages(rewards, num_gen, scale=scale)
        adv = adv * weight
        n_groups = zero_std.numel()
        if mode == "train":
            self.skipped_groups += int(zero_std.sum())
            self.total_groups += n_groups
        m = self._metrics[mode]
        for k, v in metrics.items():
            m[f"capability/{k}"].append(v)
        group_caps = caps[::num_gen]
        for c in self.capabilities:
            sel = torch.tensor([gc == c for gc in group_caps], device=device)
            if bool(sel.any()):
                cap_rows = sel.repeat_interleave(num_gen)
                m[f"capability/reward/{c}"].append(torch.nanmean(rewards[cap_rows]).item())
                m[f"capability/skipped_frac/{c}"].append(zero_std[sel].float().mean().item())
        m["capability/skipped_groups_total"].append(float(self.skipped_groups))
        n_local = len(local_caps)
        sl = slice(self.accelerator.process_index * n_local, (self.accelerator.process_index + 1) * n_local)
        output["advantages"] = adv[sl].to(output["advantages"].dtype)
        output["capability_ids"] = torch.tensor([self.capabilities.index(c) for c in local_caps],
                                                device=output["advantages"].device)
        return output

    # ---------------------------------------------------------------------------------------------
    # per-capability policy gradients

    def _loss_settings(self) -> LossSettings:
        a = self.args
        return LossSettings(loss_type=self.loss_type, eps_low=self.epsilon_low, eps_high=self.epsilon_high,
                            delta=a.delta, beta=self.beta, use_bias_correction_kl=bool(a.use_bias_correction_kl),
                            importance_sampling_level=self.importance_sampling_level,
                            off_policy_mask_threshold=self.off_policy_mask_threshold,
                            sapo_temperature_pos=a.sapo_temperature_pos, sapo_temperature_neg=a.sapo_temperature_neg,
                            entropy_coef=self.entropy_coef)

    def _capability_loss(self, model, inputs: dict[str, Any], rows: torch.Tensor, num_rows: int,
                         entropy_mask: torch.Tensor | None = None, log_stats: list | None = None) -> torch.Tensor:
        """Loss of the given rows of a micro-batch, with the whole micro-batch's denominators.

        Applies what TRL's ``_compute_loss`` applies for the configured loss type (see
        :mod:`balancedbio.train.grpo_loss`); ``entropy_mask`` [B, T] is the micro-batch's high-entropy mask.
        """
        pick = {k: (v[rows] if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] == num_rows else v)
                for k, v in inputs.items()}
        full_mask = inputs["completion_mask"] if "tool_mask" not in inputs else \
            inputs["completion_mask"] * inputs["tool_mask"]
        completion_ids = pick["completion_ids"]
        mask = full_mask[rows]
        input_ids = torch.cat([pick["prompt_ids"], completion_ids], dim=1)
        attention_mask = torch.cat([pick["prompt_mask"], pick["completion_mask"]], dim=1)
        settings = self._loss_settings()
        bonus = settings.entropy_coef != 0.0
        logps, entropies, _ = self._get_per_token_logps_and_entropies(model, input_ids, attention_mask,
                                                                      completion_ids.size(1), compute_entropy=True)
        old = pick.get("old_per_token_logps")
        old = logps.detach() if old is None else old
        is_ratio = pick.get("importance_sampling_ratio") if (self.use_vllm and
                                                             self.vllm_importance_sampling_correction) else None
        ent_rows = entropy_mask[rows] if entropy_mask is not None else None
        stats: dict[str, torch.Tensor] = {}
        tok = policy_token_loss(logps, old, pick["advantages"], mask, settings,
                                ref_logps=pick.get("ref_per_token_logps"),
                                sampling_logps=pick.get("sampling_per_token_logps"), is_ratio=is_ratio,
                                entropy_mask=ent_rows, stats=stats)
        ga = self.current_gradient_accumulation_steps
        num_tokens = (inputs["num_items_in_batch"].clamp(min=1.0) / self.accelerator.num_processes
                      * ga / self.args.steps_per_generation)
        loss = aggregate_loss(tok, mask, settings, num_rows=num_rows, num_mask_tokens=full_mask.sum(),
                              max_completion_length=self.max_completion_length, num_tokens=num_tokens,
                              accumulation=ga)
        if log_stats is not None:
            # TRL's policy_loss log is the micro-batch's policy term before the accumulation divisor
            policy = loss.detach() * (1 if settings.loss_type in WINDOW_NORMALISED else ga)
            log_stats.append((loss_stat_sums(stats, mask, with_kl=settings.beta != 0.0, entropies=entropies),
                              seq_clip_means(stats, mask), policy))
        if bonus:
            eff = full_mask if entropy_mask is None else full_mask * entropy_mask
            loss = loss - settings.entropy_coef * entropy_bonus(entropies, eff[rows], num_mask_tokens=eff.sum(),
                                                                accumulation=ga)
        return loss

    def _entropy_mask(self, model, inputs: dict[str, Any]) -> torch.Tensor | None:
        """TRL's high-entropy token mask of the whole micro-batch (a no-grad forward pass first)."""
        if self.top_entropy_quantile >= 1.0:
            return None
        mask = inputs["completion_mask"] if "tool_mask" not in inputs else inputs["completion_mask"] * inputs["tool_mask"]
        ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
        attn = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
        with torch.no_grad():
            _, entropies, _ = self._get_per_token_logps_and_entropies(model, ids, attn, inputs["completion_ids"].size(1),
                                                                      compute_entropy=True)
        return self.get_high_entropy_mask(entropies, mask, 1 - self.top_entropy_quantile)

    def training_step(self, model, inputs, num_items_in_batch):
        """One backward pass per capability through the engine, surgery on each rank's local gradient."""
        t0 = time.perf_counter()
        model.train()
        inputs = dict(self._prepare_inputs(inputs))  # a copy: the buffered batch is reused when num_iterations > 1
        self._phase("policy gradients per capability")
        params = [p for p in model.parameters() if p.requires_grad]
        cap_ids = inputs.pop("capability_ids")
        num_rows = int(cap_ids.shape[0])
        k_all = len(self.capabilities)
        present = torch.zeros(k_all, device=cap_ids.device)
        present[cap_ids.unique()] = 1.0
        present = self.accelerator.reduce(present, reduction="sum") > 0           # same K on every rank
        caps = [i for i in range(k_all) if bool(present[i])]
        entropy_mask = self._entropy_mask(model, inputs)

        sums: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]] = []

        def loss_for(k: int) -> torch.Tensor:
            rows = (cap_ids == caps[k]).nonzero(as_tuple=True)[0]
            with self.compute_loss_context_manager():
                if rows.numel():
                    return self._capability_loss(model, inputs, rows, num_rows, entropy_mask, sums)
                # this rank holds no row of the capability, but the pass is a collective: a zero-weighted loss
                loss = self._capability_loss(model, inputs, rows.new_zeros(1), num_rows, entropy_mask)
                return torch.nan_to_num(loss) * 0.0

        step = self.state.global_step
        prev = cg.take_grads(params)                    # accumulated from earlier micro-batches (1 process)
        grads = cg.collect(params, len(caps), loss_for, self.accelerator.backward)
        t1 = time.perf_counter()
        combined, gram, coeffs = cg.combine(grads, self.cap.surgery, seed=self.cap.surgery_seed + step,
                                            c=self.cap.surgery_c)
        cg.apply(params, combined, prev if any(g is not None for g in prev) else None)
        t2 = time.perf_counter()
        self.time_split["train"] += t1 - t0
        self.time_split["surgery"] += t2 - t1
        self.buffer_bytes = grads.buffer.numel() * grads.buffer.element_size()
        self._record_cosines(step, caps, gram, coeffs)
        self._log_loss_stats(sums, params[0].device if params else cap_ids.device)
        self._step += 1
        self._current_train_step_time += time.perf_counter() - t0       # TRL's step_time log, as TRL keeps it
        if self._step % self.current_gradient_accumulation_steps == 0:
            self._metrics["train"]["step_time"].append(self._current_train_step_time)
            self._current_train_step_time = 0.0
        return grads.loss

    def _log_loss_stats(self, sums: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]],
                        device: torch.device) -> None:
        """TRL's loss logs (:func:`~balancedbio.train.grpo_metrics.loss_metrics`) from the per-capability passes;
        the same collectives on every rank."""
        settings = self._loss_settings()
        total = torch.stack([t for t, _, _ in sums]).sum(0) if sums else torch.zeros(8)
        total = self.accelerator.reduce(total.to(device), reduction="sum")
        every = policy = None
        if settings.loss_type in CLIPPED:
            seq = [q for _, q, _ in sums if q is not None]
            every = self.accelerator.gather(torch.cat(seq).to(device) if seq else
                                            torch.full((0, 2), float("nan"), device=device))
        if settings.entropy_coef != 0.0:
            local = sum((p for _, _, p in sums), torch.zeros((), device=device)).to(device)
            policy = float(self.accelerator.reduce(local, reduction="mean"))
        m = self._metrics["train"]
        for k, v in loss_metrics(total, every, policy, settings, sync_gradients=self.accelerator.sync_gradients).items():
            m[k].append(v)

    def _record_cosines(self, step: int, caps: list[int], gram: torch.Tensor, coeffs: torch.Tensor) -> None:
        names = [self.capabilities[i] for i in caps]
        cos = cosine_matrix(gram)
        off = [float(cos[i, j]) for i in range(len(caps)) for j in range(i + 1, len(caps))]
        m = self._metrics["train"]
        m["capability/conflict"].append(float(any(v < 0 for v in off)))
        if off:
            m["capability/min_cosine"].append(min(off))
        every = max(1, self.cap.cosine_every)
        if step % every == 0 and (not self.cosine_history or self.cosine_history[-1]["step"] != step):
            self.cosine_history.append({"step": step, "capabilities": names, "cosine": cos.tolist(),
                                        "coeffs": coeffs.tolist(),
                                        "grad_norms": gram.diagonal().clamp_min(0).sqrt().tolist()})

    # ---------------------------------------------------------------------------------------------
    # checkpoints: the online weighting state and the counters travel with the trainer state

    STATE_FILE = "capability_state.json"

    def _write_capability_state(self, folder: Path) -> None:
        from balancedbio.atomic import write_json

        write_json(folder / self.STATE_FILE, {
            "weighter": self.weighter.state_dict(), "skipped_groups": self.skipped_groups,
            "total_groups": self.total_groups, "cosine_history": self.cosine_history})

    def _read_capability_state(self, folder: Path) -> None:
        path = folder / self.STATE_FILE
        if not path.is_file():
            warnings.warn(f"{folder} has no {self.STATE_FILE}: the weighting state and the group counters start "
                          "afresh (train_grpo resumes only from checkpoints that have it)", stacklevel=3)
        else:
            state = json.loads(path.read_text())
            self.weighter.load_state_dict(state["weighter"])
            self.skipped_groups = int(state["skipped_groups"])
            self.total_groups = int(state["total_groups"])
            self.cosine_history = list(state["cosine_history"])

    def train(self, resume_from_checkpoint: str | bool | None = None, trial: Any = None,
              ignore_keys_for_eval: list[str] | None = None, **kwargs: Any):
        """Trainer.train, restoring the weighting state and counters saved with the checkpoint first."""
        ckpt = resume_from_checkpoint
        if ckpt is True:
            from transformers.trainer_utils import get_last_checkpoint

            ckpt = get_last_checkpoint(self.args.output_dir)
        if ckpt:
            self._read_capability_state(Path(ckpt))
        return super().train(resume_from_checkpoint=resume_from_checkpoint, trial=trial,
                             ignore_keys_for_eval=ignore_keys_for_eval, **kwargs)


class _CapabilityStateCallback(TrainerCallback):
    """Writes the trainer's weighting state and counters into every checkpoint (public ``on_save`` seam)."""

    def __init__(self, trainer: CapabilityGRPOTrainer):
        self.trainer = trainer

    def on_save(self, args, state, control, **kwargs):
        if args.should_save:
            from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

            folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
            if folder.is_dir():
                self.trainer._write_capability_state(folder)
        return control
