"""Worker for test_grpo_distributed: the recipe trainer's own ``training_step`` on a FSDP2 (``fully_shard``) model.

    python grpo_fsdp_step_worker.py MODEL_DIR OUT             # 1 process, plain model
    torchrun --nproc_per_node 2 grpo_fsdp_step_worker.py MODEL_DIR OUT   # 2 processes, fully_shard

accelerate shards with FSDP only on accelerators, so on a CPU the model is sharded here with ``fully_shard`` and
``training_step`` is called directly on each rank's slice of one fixed, already scored global batch (loss
``dapo`` with a vLLM importance-sampling ratio). Rank 0 writes the full gradient after surgery ``none`` and
``pcgrad`` and ``cagrad`` to OUT.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from balancedbio.config import load_config
from balancedbio.process_group import close_process_group
from balancedbio.train.grpo import GRPORecipeConfig, build_trainer

sys.path.insert(0, str(Path(__file__).parent))
from grpo_rows import contract_rows  # noqa: E402


def main(model_dir: str, out: str) -> None:
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    if world > 1:
        torch.distributed.init_process_group("gloo")
    data = Path(out).with_suffix(f".rank{rank}.jsonl")
    data.write_text("".join(json.dumps(r) + "\n" for r in contract_rows()))
    cfg = load_config(GRPORecipeConfig, None, [
        f"model.name_or_path={model_dir}", f"data={data}", f"output_dir={Path(out).parent / f'run{rank}'}",
        "steps=1", "prompts_per_step=4", "num_generations=2", "max_new_tokens=6", "loss_type=dapo",
        "rewards.model_reward=none", "report_to=[none]"])
    trainer = build_trainer(cfg, reward_funcs=[lambda p, c, **k: [0.0] * len(c)], rule_weights=[1.0],
                            model_weights=[0.0])
    model = trainer.model
    if world > 1:
        from torch.distributed.fsdp import fully_shard

        for layer in model.model.layers:
            fully_shard(layer)
        fully_shard(model)
    model.train()
    trainer._prepare_inputs = lambda batch: batch          # the batch below is already scored
    trainer.current_gradient_accumulation_steps = 1
    trainer.use_vllm, trainer.vllm_importance_sampling_correction = True, True
    gen = torch.Generator().manual_seed(11)
    n, p, c = 8, 5, 6
    batch = {"prompt_ids": torch.randint(10, 2000, (n, p), generator=gen),
             "prompt_mask": torch.ones(n, p, dtype=torch.long),
             "completion_ids": torch.randint(10, 2000, (n, c), generator=gen),
             "completion_mask": torch.ones(n, c, dtype=torch.long),
             "advantages": torch.randn(n, generator=gen),
             "importance_sampling_ratio": 0.5 + torch.rand(n, c, generator=gen),
             "capability_ids": torch.tensor([0, 1, 0, 2, 1, 3, 3, 1])}  # rank 0: no 3; rank 1: no 0, 2
    batch["completion_mask"][2, 3:] = 0
    batch["prompt_mask"][5, :2] = 0
    batch["num_items_in_batch"] = batch["completion_mask"].sum()       # the global count, as TRL passes it
    per = n // world
    local = {k: (v[rank * per:(rank + 1) * per] if k != "num_items_in_batch" else v) for k, v in batch.items()}
    names = [nm for nm, prm in model.named_parameters() if prm.requires_grad]
    results = {}
    for method in ("none", "pcgrad", "cagrad"):
        trainer.cap.surgery = method
        model.zero_grad(set_to_none=True)
        trainer.training_step(model, dict(local), None)
        for nm, prm in zip(names, [q for q in model.parameters() if q.requires_grad]):
            g = prm.grad.full_tensor() if hasattr(prm.grad, "full_tensor") else prm.grad
            results[f"{method}/{nm}"] = g.detach().clone()
    sharded = type(next(model.parameters())).__name__
    if rank == 0:
        save_file({k: v.contiguous() for k, v in results.items()}, out,
                  metadata={"param_type": sharded, "buffer_bytes": str(trainer.buffer_bytes),
                            "numel": str(sum(v.numel() for k, v in results.items() if k.startswith("none/")))})
    del trainer, model
    close_process_group()   # as the CLI does: the FSDP state goes before the group, not at interpreter exit


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
