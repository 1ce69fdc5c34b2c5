"""Throughput and peak memory of our BFT trainer vs TRL's SFTTrainer (loss_type nll / dft).

Every configuration trains the same model on the same random token batches (all positions labelled) for
``--warmup`` untimed and ``--steps`` timed optimizer steps, each in its own subprocess so peak memory is
its own (CUDA: ``torch.cuda.max_memory_allocated``; CPU: peak RSS of the process).

Configurations:
  trl-nll   TRL SFTTrainer, loss_type="nll" (fused LM head), TRL defaults (gradient checkpointing on)
  trl-dft   TRL SFTTrainer, loss_type="dft", same settings
  bft       balancedbio BalancedSFTTrainer, method="bft", same settings (fused LM head + BFT weights)
  bft-fast  BFT without activation recomputation (and torch.compile with --compile): the fast setting

CPU (default model, as measured for docs/bft.md)::

    OMP_NUM_THREADS=2 python benchmarks/bft_throughput.py --device cpu --batch 4 --seq-len 256

GPU (Qwen2.5-0.5B-shaped random model, bf16, 16 x 1024 tokens, as in the issue)::

    python benchmarks/bft_throughput.py --device cuda --model qwen2.5-0.5b --batch 16 --seq-len 1024 --compile
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = ("trl-nll", "trl-dft", "bft", "bft-fast")
H100_BF16_DENSE_FLOPS = 989e12


def _model_dir(name: str, workdir: Path) -> Path:
    from balancedbio.models import resolve_model
    from balancedbio.testing import PRESETS, make_random_model

    if name in PRESETS:
        dest = workdir / f"random-{name}"
        if not (dest / "config.json").is_file():
            make_random_model(dest, name)
        return dest
    return resolve_model(name)


def _flops_per_token(model) -> float:
    """Training FLOPs per token: 6 x non-embedding parameters + 6 x LM head (PaLM appendix B, no attention)."""
    cfg = model.config
    n = sum(p.numel() for p in model.parameters())
    emb = cfg.vocab_size * cfg.hidden_size
    lm_head = emb  # tied or not, the head matmul costs vocab x hidden per token
    return 6.0 * (n - emb * (1 if cfg.tie_word_embeddings else 2)) + 6.0 * lm_head


def run_one(args: argparse.Namespace) -> dict:
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from balancedbio.train.sft_trainer import BalancedSFTTrainer

    torch.manual_seed(0)
    cuda = args.device == "cuda"
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[args.dtype]
    model_dir = Path(args.model_dir)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype, use_safetensors=True)
    from balancedbio.models import load_tokenizer

    tok = load_tokenizer(str(model_dir))
    steps = args.warmup + args.steps
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(10, min(model.config.vocab_size, len(tok)), (args.batch * steps, args.seq_len), generator=g)
    data = datasets.Dataset.from_dict({"input_ids": ids.tolist(), "labels": ids.tolist()})
    fast = args.config == "bft-fast"
    sft_args = SFTConfig(
        output_dir=tempfile.mkdtemp(prefix="bench-"), per_device_train_batch_size=args.batch, max_steps=steps,
        max_length=args.seq_len, learning_rate=1e-5, report_to="none", save_strategy="no", logging_steps=10_000,
        bf16=(cuda and args.dtype == "fp32" and args.amp), activation_checkpointing=not fast,
        torch_compile=fast and args.compile, use_cpu=not cuda, disable_tqdm=True, dataloader_num_workers=0,
        loss_type="dft" if args.config == "trl-dft" else "nll", shuffle_dataset=False, seed=0,
    )

    class Timer(TrainerCallback):
        def __init__(self):
            self.start = None
            self.end = None

        def on_step_end(self, a, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            if state.global_step == args.warmup:
                self.start = time.perf_counter()
                if cuda:
                    torch.cuda.reset_peak_memory_stats()
            if state.global_step == steps:
                self.end = time.perf_counter()

    timer = Timer()
    if args.config.startswith("trl"):
        trainer = SFTTrainer(model=model, args=sft_args, train_dataset=data, processing_class=tok, callbacks=[timer])
    else:
        trainer = BalancedSFTTrainer(model=model, args=sft_args, train_dataset=data, processing_class=tok,
                                     callbacks=[timer], method="bft", group_size=args.group_size)
    trainer.train()
    elapsed = timer.end - timer.start
    tokens = args.batch * args.seq_len * args.steps
    out = {"config": args.config, "tokens_per_s": tokens / elapsed, "seconds_per_step": elapsed / args.steps,
           "activation_checkpointing": not fast, "torch_compile": bool(fast and args.compile),
           "train_loss": trainer.state.log_history[-1].get("train_loss")}
    if cuda:
        out["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        out["peak_memory_kind"] = "torch.cuda.max_memory_allocated over the timed steps"
        out["mfu"] = _flops_per_token(model) * out["tokens_per_s"] / H100_BF16_DENSE_FLOPS
    else:
        out["peak_memory_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        out["peak_memory_kind"] = "peak RSS of the whole process (model, optimizer, activations, libraries)"
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--model", default=None, help="packaged model / HF dir, or a random preset (qwen2.5-0.5b, tiny); "
                   "default: the default model on CPU, qwen2.5-0.5b on CUDA")
    p.add_argument("--batch", type=int, default=None, help="sequences per step (default 4 on CPU, 16 on CUDA)")
    p.add_argument("--seq-len", type=int, default=None, help="tokens per sequence (default 256 CPU, 1024 CUDA)")
    p.add_argument("--steps", type=int, default=3, help="timed optimizer steps")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--group-size", type=int, default=256)
    p.add_argument("--dtype", choices=("bf16", "fp32"), default=None, help="weights dtype (default bf16 CUDA, fp32 CPU)")
    p.add_argument("--amp", action="store_true", help="with fp32 weights on CUDA: bf16 autocast")
    p.add_argument("--compile", action="store_true", help="torch.compile in the bft-fast configuration")
    p.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated subset of {', '.join(CONFIGS)}")
    p.add_argument("--output", default=None, help="results JSON (default benchmarks/results/bft_<device>.json)")
    p.add_argument("--config", help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    cuda = args.device == "cuda"
    args.batch = args.batch or (16 if cuda else 4)
    args.seq_len = args.seq_len or (1024 if cuda else 256)
    args.dtype = args.dtype or ("bf16" if cuda else "fp32")
    if args.config:  # child process: one configuration, one JSON line
        print("RESULT " + json.dumps(run_one(args)), flush=True)
        return 0

    import torch
    import transformers
    import trl

    workdir = Path(tempfile.mkdtemp(prefix="bft-bench-"))
    model_dir = _model_dir(args.model or ("qwen2.5-0.5b" if cuda else "default"), workdir)
    results = []
    for name in args.configs.split(","):
        cmd = [sys.executable, __file__, "--config", name, "--model-dir", str(model_dir), "--device", args.device,
               "--batch", str(args.batch), "--seq-len", str(args.seq_len), "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--group-size", str(args.group_size), "--dtype", args.dtype]
        cmd += ["--amp"] * args.amp + ["--compile"] * args.compile
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            results.append({"config": name, "error": proc.stderr.strip().splitlines()[-1:]})
        else:
            results.append(json.loads(lines[-1][len("RESULT "):]))
        print(json.dumps(results[-1]), flush=True)
    by = {r["config"]: r for r in results if "tokens_per_s" in r}
    ratios = {}
    if "bft" in by and "trl-dft" in by:
        ratios["bft_vs_trl_dft_tokens_per_s"] = by["bft"]["tokens_per_s"] / by["trl-dft"]["tokens_per_s"]
        ratios["bft_vs_trl_dft_peak_memory"] = by["bft"]["peak_memory_gib"] / by["trl-dft"]["peak_memory_gib"]
    if "bft-fast" in by and "trl-nll" in by:
        ratios["bft_fast_vs_trl_nll_tokens_per_s"] = by["bft-fast"]["tokens_per_s"] / by["trl-nll"]["tokens_per_s"]
    report = {
        "benchmark": "bft_throughput", "device": args.device,
        "machine": (torch.cuda.get_device_name(0) if cuda else f"{platform.processor() or platform.machine()} CPU, "
                    f"{os.cpu_count()} cores visible"),
        "loadavg_after": os.getloadavg(),
        "model": args.model or ("qwen2.5-0.5b (random init)" if cuda else "smollm2-135m-instruct"),
        "batch": args.batch, "seq_len": args.seq_len, "timed_steps": args.steps, "warmup_steps": args.warmup,
        "dtype": args.dtype, "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
                     "python": platform.python_version()},
        "results": results, "ratios": ratios, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    dest = Path(args.output or Path(__file__).parent / "results" / f"bft_{args.device}.json")
    from balancedbio.atomic import write_json

    write_json(dest, report)
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
