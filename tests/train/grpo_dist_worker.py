"""Worker for test_grpo_distributed: one capability-aware update on a fixed global GRPO batch.

    python grpo_dist_worker.py MODEL_DIR OUT ENGINE LORA METHODS
    torchrun --nproc_per_node 2 grpo_dist_worker.py MODEL_DIR OUT ENGINE LORA METHODS

ENGINE: ``single`` (no wrapper), ``ddp`` (DistributedDataParallel) or ``fsdp`` (FSDP2 ``fully_shard`` on every
decoder layer and the root); LORA: ``lora`` or ``full``; METHODS: comma-separated surgery methods. Each rank
takes its slice of the same global batch and runs the trainer's gradient engine
(:func:`balancedbio.train.capability_grads.collect` with ``loss.backward()`` through the wrapped model, then
:func:`~balancedbio.train.capability_grads.combine` / ``apply``). Rank 0 writes, per method, every trainable
parameter's full combined gradient, plus the Gram matrix and the per-rank buffer size, to OUT (safetensors).
"""

from __future__ import annotations

import json
import os
import sys

import torch
import torch.distributed as dist
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

from balancedbio.process_group import close_process_group
from balancedbio.train import capability_grads as cg
from balancedbio.train.grpo_loss import LossSettings, aggregate_loss, policy_token_loss

N, TP, TC, K = 8, 6, 5, 4
CAPS = [0, 1, 0, 2, 1, 3, 3, 1]  # with 2 ranks: rank 0 holds no capability 3, rank 1 none of 0 and 2


def build(model_dir: str, lora: bool):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                                                 target_modules=["q_proj", "v_proj"]))
        gen = torch.Generator().manual_seed(7)
        for name, p in model.named_parameters():
            if "lora_B" in name:  # B starts at zero, which would leave A without gradient
                p.data.copy_(torch.randn(p.shape, generator=gen) * 0.05)
    model.train()
    return model


def batch():
    gen = torch.Generator().manual_seed(1234)
    ids = torch.randint(5, 1000, (N, TP + TC), generator=gen)
    comp_mask = torch.ones(N, TC)
    comp_mask[1, 3:] = 0
    comp_mask[6, 2:] = 0
    adv = torch.randn(N, generator=gen)
    old_shift = torch.randn(N, TC, generator=gen) * 0.3   # old log-probs off the current ones: clipping happens
    return ids, comp_mask, adv, old_shift, torch.tensor(CAPS)


def main(model_dir: str, out: str, engine: str, lora: str, methods: list[str]) -> None:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group("gloo")
    model = build(model_dir, lora == "lora")
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    wrapped = model
    if engine == "ddp":
        wrapped = torch.nn.parallel.DistributedDataParallel(model)
    elif engine == "fsdp":
        from torch.distributed.fsdp import fully_shard

        layers = model.base_model.model.model.layers if lora == "lora" else model.model.layers
        for layer in layers:
            fully_shard(layer)
        fully_shard(model)
    params = [p for p in model.parameters() if p.requires_grad]
    ids, comp_mask, adv, old_shift, caps = batch()
    per = N // world
    sl = slice(rank * per, (rank + 1) * per)
    ids, comp_mask, adv, old_shift, caps = ids[sl], comp_mask[sl], adv[sl], old_shift[sl], caps[sl]
    settings = LossSettings(loss_type="grpo", eps_low=0.2, eps_high=0.28)

    def loss_for(k: int) -> torch.Tensor:
        rows = (caps == k).nonzero(as_tuple=True)[0]
        weight = 1.0
        if rows.numel() == 0:          # this rank holds no row of capability k: zero-weighted pass on row 0
            rows, weight = torch.tensor([0]), 0.0
        logits = wrapped(input_ids=ids[rows], attention_mask=torch.ones_like(ids[rows])).logits[:, TP - 1:-1]
        logps = torch.log_softmax(logits.float(), -1).gather(-1, ids[rows, TP:, None]).squeeze(-1)
        tok = policy_token_loss(logps, logps.detach() + old_shift[rows], adv[rows], comp_mask[rows], settings)
        loss = aggregate_loss(tok, comp_mask[rows], settings, num_rows=per, max_completion_length=TC,
                              num_tokens=comp_mask.sum())
        return loss * weight

    grads = cg.collect(params, K, loss_for, lambda loss: loss.backward())
    results: dict[str, torch.Tensor] = {}
    for method in methods:
        combined, gram, _ = cg.combine(grads, method, seed=3)
        cg.apply(params, combined)
        for name, p in zip(names, params):
            g = p.grad.full_tensor() if hasattr(p.grad, "full_tensor") else p.grad
            results[f"{method}/{name}"] = g.detach().clone()
        results["gram"] = gram.float()
    sizes = [0] * world
    if world > 1:
        dist.all_gather_object(sizes, grads.buffer.numel())
    else:
        sizes = [grads.buffer.numel()]
    if rank == 0:
        save_file({k: v.contiguous() for k, v in results.items()}, out,
                  metadata={"buffer_numel_per_rank": json.dumps(sizes),
                            "trainable_numel": str(sum(p.numel() for p in params)), "sharded": str(grads.sharded)})
    wrapped = model = params = grads = None  # the DDP/FSDP state: freed by close_process_group's collection
    close_process_group()   # as the CLI does: the DDP/FSDP state goes before the group, not at interpreter exit


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].split(","))
