"""Capability-Aware GRPO on top of TRL's ``GRPOTrainer``.

Implements the RL stage of BalancedBio (Wu et al., arXiv 2508.04278; only the abstract is public, the design
is ours, see ``docs/grpo.md``) on TRL 1.16's GRPOTrainer, which keeps generation (HF generate, vLLM),
PEFT, DeepSpeed/FSDP, logging and checkpoints. What this subclass changes:

1. Rewards: the trainer's reward functions are split into a rule-based part and a model-based part
   (weights per function); per capability they are mixed by :class:`~balancedbio.train.weighting.HybridWeighter`
   (``fixed`` / ``inverse_variance`` / ``gdpo``), alpha_c and w_c are logged every step.
2. Advantages: group-relative within each prompt's group (every group belongs to one capability), scaled
   by w_c; a group whose rewards are all equal gets advantage 0 and is counted (``skipped_groups``).
3. Gradients: the policy loss of each capability's rows is differentiated separately (the rows are
   partitioned, so the K forward/backward passes together cost about one pass over the batch), the K
   gradients are averaged over processes (one all-reduce of a [K, D] buffer), combined by
   :func:`balancedbio.surgery.surgery_coefficients` on their Gram matrix, and written to ``.grad``.
   The K x K cosine matrix is recorded every ``cosine_every`` steps.

A reward function that raises or returns the wrong number of values fails with its name.

1 process:   balancedbio train --method grpo --config configs/grpo.yaml
N processes: torchrun --nproc_per_node N -m balancedbio train --method grpo --config configs/grpo.yaml
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from trl import GRPOTrainer

from balancedbio.errors import BalancedBioError
from balancedbio.model_card import ModelCardMixin
from balancedbio.surgery import cosine_matrix, surgery_coefficients
from balancedbio.train.grpo_loss import aggregate_loss, clipped_token_loss
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


def combine_capability_grads(grads: torch.Tensor, method: str, *, seed: int | None = None, c: float = 0.5,
                             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Average per-capability gradients [K, D] over processes, then combine them by gradient surgery.

    Returns (combined [D], gram [K, K] float64, coeffs [K] float64). In a process group the [K, D] buffer is
    all-reduced (mean over ranks, as DDP averages gradients), so every rank applies the same update.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        world = torch.distributed.get_world_size()
        if world > 1:
            torch.distributed.all_reduce(grads, op=torch.distributed.ReduceOp.SUM)
            grads.div_(world)
    gram = grads.double() @ grads.double().T                                   # [K, K]
    coeffs = surgery_coefficients(gram, method, seed=seed, c=c)                # [K]
    combined = coeffs.to(grads.device, grads.dtype) @ grads                    # [D]
    return combined, gram, coeffs


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
    rollout: str = "hf"                 # hf (TRL's generate / vLLM) | static (balancedbio.train.rollout)


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
        super().__init__(*args, **kwargs)
        if self.loss_type not in ("grpo", "dr_grpo", "dapo"):
            raise ValueError(f"capability-aware GRPO supports loss_type grpo, dr_grpo, dapo; got {self.loss_type!r}")
        self.cap = capability
        self.capabilities = list(capability.capabilities)
        self.weighter = HybridWeighter(capability.weighting, self.capabilities)
        self.skipped_groups = 0
        self.total_groups = 0
        self.cosine_history: list[dict[str, Any]] = []
        self.time_split = {"train": 0.0, "surgery": 0.0}
        self._last_rewards_per_func: torch.Tensor | None = None
        self._rollout = None

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
            self._rollout = StaticRollout(model)
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

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards_per_func = rewards_per_func
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        from accelerate.utils import gather_object

        local_caps = [str(x.get("capability", "")) for x in inputs]
        bad = sorted({c for c in local_caps if c not in self.capabilities})
        if bad:
            raise BalancedBioError(f"row capability {bad[0]!r} is not one of {', '.join(self.capabilities)}")
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

    def _capability_loss(self, model, inputs: dict[str, Any], rows: torch.Tensor, num_rows: int) -> torch.Tensor:
        """Loss of the given rows of a micro-batch, with the whole micro-batch's denominators."""
        pick = {k: (v[rows] if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] == num_rows else v)
                for k, v in inputs.items()}
        completion_ids, completion_mask = pick["completion_ids"], pick["completion_mask"]
        input_ids = torch.cat([pick["prompt_ids"], completion_ids], dim=1)
        attention_mask = torch.cat([pick["prompt_mask"], completion_mask], dim=1)
        logps, _, _ = self._get_per_token_logps_and_entropies(model, input_ids, attention_mask,
                                                              completion_ids.size(1))
        old = pick.get("old_per_token_logps")
        old = logps.detach() if old is None else old
        mask = completion_mask if "tool_mask" not in pick else completion_mask * pick["tool_mask"]
        tok = clipped_token_loss(logps, old, pick["advantages"], mask, eps_low=self.epsilon_low,
                                 eps_high=self.epsilon_high, beta=self.beta, ref_logps=pick.get("ref_per_token_logps"))
        ga = self.current_gradient_accumulation_steps
        num_tokens = inputs["num_items_in_batch"] / self.accelerator.num_processes * ga / self.args.steps_per_generation
        loss = aggregate_loss(tok, mask, self.loss_type, num_rows=num_rows,
                              max_completion_length=self.max_completion_length, num_tokens=num_tokens)
        return loss if self.loss_type == "dapo" else loss / ga

    def training_step(self, model, inputs, num_items_in_batch):
        t0 = time.perf_counter()
        model.train()
        inputs = dict(self._prepare_inputs(inputs))  # a copy: the buffered batch is reused when num_iterations > 1
        core = self.accelerator.unwrap_model(model)
        params = [p for p in core.parameters() if p.requires_grad]
        cap_ids = inputs.pop("capability_ids")
        num_rows = int(cap_ids.shape[0])
        k_all = len(self.capabilities)
        present = torch.zeros(k_all, device=cap_ids.device)
        present[cap_ids.unique()] = 1.0
        present = self.accelerator.reduce(present, reduction="sum") > 0           # same K on every rank
        caps = [i for i in range(k_all) if bool(present[i])]
        numel = sum(p.numel() for p in params)
        grads = torch.zeros(len(caps), numel, device=params[0].device, dtype=torch.float32)  # [K, D]
        total = torch.zeros((), device=params[0].device)
        with self.compute_loss_context_manager():
            for k, cap in enumerate(caps):
                rows = (cap_ids == cap).nonzero(as_tuple=True)[0]
                if rows.numel() == 0:
                    continue  # this rank holds no row of the capability: its share is a zero gradient
                loss = self._capability_loss(core, inputs, rows, num_rows)
                parts = torch.autograd.grad(loss, params, allow_unused=True)
                grads[k] = torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).float()
                                      for g, p in zip(parts, params)])
                total = total + loss.detach()
        t1 = time.perf_counter()
        step = self.state.global_step
        combined, gram, coeffs = combine_capability_grads(grads, self.cap.surgery, seed=self.cap.surgery_seed + step,
                                                          c=self.cap.surgery_c)
        offset = 0
        for p in params:
            g = combined[offset: offset + p.numel()].view_as(p).to(p.dtype)
            offset += p.numel()
            p.grad = g.clone() if p.grad is None else p.grad + g
        t2 = time.perf_counter()
        self.time_split["train"] += t1 - t0
        self.time_split["surgery"] += t2 - t1
        self._record_cosines(step, caps, gram, coeffs)
        self._step += 1
        return total

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

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        if self.args.should_save:
            from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

            from balancedbio.atomic import write_json

            folder = Path(self._get_output_dir(trial=trial)) / f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
            write_json(folder / self.STATE_FILE, {
                "weighter": self.weighter.state_dict(), "skipped_groups": self.skipped_groups,
                "total_groups": self.total_groups, "cosine_history": self.cosine_history})

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        path = Path(checkpoint) / self.STATE_FILE if checkpoint is not None else None
        if path is not None and path.is_file():
            state = json.loads(path.read_text())
            self.weighter.load_state_dict(state["weighter"])
            self.skipped_groups = int(state["skipped_groups"])
            self.total_groups = int(state["total_groups"])
            self.cosine_history = list(state["cosine_history"])
