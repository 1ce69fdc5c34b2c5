"""Capability-aware gradient step under 1 process, 2-process DDP and 2-process FSDP2 (LoRA and full), on the CPU.

Times the part of a GRPO step that the engine changes: per-capability forward + backward through the wrapped
model, the local gradients (shards) into the [K, D_local] buffer, Gram / surgery / write-back, and an SGD step,
on a fixed micro-batch (no generation, no rewards: those do not depend on the engine). Uses the trainer's
own functions (:mod:`balancedbio.train.capability_grads`, :mod:`balancedbio.train.grpo_loss`). Records per
configuration: step seconds, surgery seconds (Gram + all-reduce + coefficients + write-back), peak RSS of each
rank, the capability buffer's size on each rank and the formula K x D / N x 4 bytes (N = processes when
sharded, else 1); and the machine and its load average (the machine may be shared).

    python benchmarks/grpo_engines.py                          # default model, all six configurations
    python benchmarks/grpo_engines.py --model tiny --configs single-lora,fsdp-lora --output /tmp/x.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = ("single-lora", "ddp-lora", "fsdp-lora", "single-full", "fsdp-full", "ddp-full")


def worker(args: argparse.Namespace) -> None:
    import torch
    import torch.distributed as dist
    from transformers import AutoModelForCausalLM

    from balancedbio.train import capability_grads as cg
    from balancedbio.train.grpo_loss import LossSettings, aggregate_loss, policy_token_loss

    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group("gloo")
    engine, kind = args.config.split("-")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32)
    if kind == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                                 target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    model.train()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    wrapped = model
    if engine == "ddp":
        wrapped = torch.nn.parallel.DistributedDataParallel(model)
    elif engine == "fsdp":
        from torch.distributed.fsdp import fully_shard

        layers = model.base_model.model.model.layers if kind == "lora" else model.model.layers
        for layer in layers:
            fully_shard(layer)
        fully_shard(model)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-6)
    k, n, tp, tc = 4, args.rows, args.prompt_tokens, args.completion_tokens
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 40000, (n, tp + tc), generator=gen)
    adv = torch.randn(n, generator=gen)
    caps = torch.arange(n) % k
    per = n // world
    sl = slice(rank * per, (rank + 1) * per)
    ids, adv, caps = ids[sl], adv[sl], caps[sl]
    mask = torch.ones(per, tc)
    settings = LossSettings(loss_type="grpo")

    def loss_for(c: int):
        rows = (caps == c).nonzero(as_tuple=True)[0]
        weight = 1.0
        if rows.numel() == 0:
            rows, weight = torch.tensor([0]), 0.0
        logits = wrapped(input_ids=ids[rows]).logits[:, tp - 1:-1]
        logps = torch.log_softmax(logits.float(), -1).gather(-1, ids[rows, tp:, None]).squeeze(-1)
        tok = policy_token_loss(logps, logps.detach(), adv[rows], mask[rows], settings)
        return aggregate_loss(tok, mask[rows], settings, num_rows=per, max_completion_length=tc,
                              num_tokens=mask.sum()) * weight

    steps, surgery = [], []
    buffer_bytes = 0
    for i in range(args.warmup + args.steps):
        if world > 1:
            dist.barrier()
        t0 = time.perf_counter()
        grads = cg.collect(params, k, loss_for, lambda loss: loss.backward())
        t1 = time.perf_counter()
        combined, _, _ = cg.combine(grads, "pcgrad", seed=i)
        cg.apply(params, combined)
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        buffer_bytes = grads.buffer.numel() * grads.buffer.element_size()
        del grads, combined
        if i >= args.warmup:
            steps.append(t3 - t0)
            surgery.append(t2 - t1)
    n_shards = world if engine == "fsdp" else 1
    mine = {"rank": rank, "step_s": steps, "surgery_s": surgery, "buffer_bytes": buffer_bytes,
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
    gathered = [mine]
    if world > 1:
        gathered = [None] * world
        dist.all_gather_object(gathered, mine)
        dist.destroy_process_group()
    if rank == 0:
        step_mean = [sum(r["step_s"]) / len(r["step_s"]) for r in gathered]
        print("RESULT " + json.dumps({
            "config": args.config, "processes": world, "trainable_params": trainable, "capabilities": k,
            "step_s": max(step_mean), "surgery_s": max(sum(r["surgery_s"]) / len(r["surgery_s"]) for r in gathered),
            "per_rank": gathered,
            "buffer_bytes_formula": k * trainable * 4 // n_shards,
            "buffer_formula": f"K x D / N x 4 bytes = {k} x {trainable} / {n_shards} x 4"}), flush=True)


def _mem_available_gib() -> float:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    return float("inf")


def _memory_need_gib(config: str, model_dir: str) -> float:
    """Rough peak of a configuration: per process, weights + gradient + K buffers (+ the combined vector) of the
    trainable part, weights of the rest, 1.5 GiB of activations and runtime."""
    from safetensors import safe_open

    total = 0
    for f in Path(model_dir).glob("*.safetensors"):
        with safe_open(str(f), "pt") as fh:
            for key in fh.keys():
                total += math.prod(fh.get_slice(key).get_shape())
    engine, kind = config.split("-")
    procs = 1 if engine == "single" else 2
    trainable = total if kind == "full" else total // 50
    shards = 2 if engine == "fsdp" else 1
    per_proc = (total / shards + trainable / shards * (2 + 4)) * 4 / 2**30 + 1.5
    return procs * per_proc


def _model_dir(name: str, workdir: Path) -> str:
    from balancedbio.models import load_tokenizer, resolve_model

    if name == "tiny":
        from balancedbio.testing import make_random_model

        return str(make_random_model(workdir / "tiny", "tiny", tokenizer=load_tokenizer("default")))
    return str(resolve_model(name))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default", help="default (SmolLM2-135M-Instruct) | tiny | a directory")
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--rows", type=int, default=8, help="global micro-batch rows (4 capabilities)")
    p.add_argument("--prompt-tokens", type=int, default=32)
    p.add_argument("--completion-tokens", type=int, default=32)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--single-threads", type=int, default=2, help="threads of the 1-process runs (2 processes: 1 each)")
    p.add_argument("--output", default="benchmarks/results/grpo_engines_cpu.json")
    p.add_argument("--config", help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.config:
        worker(args)
        return

    from balancedbio.atomic import write_json

    results, load_before = [], os.getloadavg()
    common = ["--rows", str(args.rows), "--prompt-tokens", str(args.prompt_tokens), "--completion-tokens",
              str(args.completion_tokens), "--warmup", str(args.warmup), "--steps", str(args.steps)]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = _model_dir(args.model, Path(tmp))
        for config in args.configs.split(","):
            engine = config.split("-")[0]
            threads = str(args.single_threads) if engine == "single" else "1"
            env = dict(os.environ, OMP_NUM_THREADS=threads, MASTER_ADDR="127.0.0.1")
            launch = [sys.executable] if engine == "single" else [
                sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
            cmd = [*launch, __file__, "--config", config, "--model-dir", model_dir, *common]
            load = os.getloadavg()
            need, avail = _memory_need_gib(config, model_dir), _mem_available_gib()
            if need > avail:  # the machine is shared: do not push other jobs into the OOM killer
                result = {"config": config, "skipped": f"needs ~{need:.1f} GiB, {avail:.1f} GiB available",
                          "loadavg_at_start": load}
                results.append(result)
                print(json.dumps(result), flush=True)
                write_json(args.output, _report(args, results, load_before))
                continue
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            result = json.loads(line[-1][7:]) if (line and not proc.returncode) else {
                "config": config, "error": proc.stderr[-2000:]}
            result["loadavg_at_start"] = load
            results.append(result)
            print(json.dumps({k: v for k, v in result.items() if k != "per_rank"}), flush=True)
            write_json(args.output, _report(args, results, load_before))  # partial results survive a stop
    write_json(args.output, _report(args, results, load_before))


def _report(args: argparse.Namespace, results: list[dict], load_before: tuple) -> dict:
    import torch

    return {"benchmark": "grpo_engines", "model": args.model,
            "machine": f"{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}), shared with "
                       "other jobs (see the load averages)",
            "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
            "settings": {"rows": args.rows, "prompt_tokens": args.prompt_tokens,
                         "completion_tokens": args.completion_tokens, "warmup": args.warmup, "steps": args.steps,
                         "surgery": "pcgrad", "loss_type": "grpo", "threads": f"1 process: {args.single_threads}; 2 processes: 1 each",
                         "torch": torch.__version__},
            "results": results}


if __name__ == "__main__":
    main()
