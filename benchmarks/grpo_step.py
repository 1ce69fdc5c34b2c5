"""Time split of one GRPO optimizer step (generate / score / train): capability-aware vs TRL's GRPOTrainer.

Every configuration runs ``--warmup`` untimed and ``--steps`` timed optimizer steps on the same synth-contract
rows, in its own subprocess. Time is attributed by wrapping the trainer's ``_generate`` (rollouts) and
``_calculate_rewards`` (all reward functions) methods; ``train`` is the rest of the step (log-probs,
loss, backward, per-capability gradients, surgery, optimizer). Completion tokens/s = generated tokens /
step time.

Configurations:
  trl            TRL GRPOTrainer, summed rewards (capability_aware=false)
  cap-none       CapabilityGRPOTrainer, hybrid weighting, surgery none (per-capability gradients summed)
  cap-pcgrad     CapabilityGRPOTrainer, surgery pcgrad
  cap-cagrad     CapabilityGRPOTrainer, surgery cagrad

CPU (default model, as in docs/grpo.md)::

    OMP_NUM_THREADS=2 python benchmarks/grpo_step.py --data DIR/train.jsonl --device cpu

GPU (Qwen2.5-0.5B-shaped random model, 8 prompts x 8 generations, 256 new tokens, as in the issue)::

    python benchmarks/grpo_step.py --data DIR/train.jsonl --model qwen2.5-0.5b --prompts 8 --generations 8 \
        --new-tokens 256 --full
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

CONFIGS = ("trl", "cap-none", "cap-pcgrad", "cap-cagrad")


def _model_dir(name: str, workdir: Path) -> str:
    if name in ("qwen2.5-0.5b", "tiny"):
        from balancedbio.models import load_tokenizer
        from balancedbio.testing import make_random_model

        dest = workdir / f"random-{name}"
        if not dest.exists():
            make_random_model(dest, name, tokenizer=load_tokenizer("default"))
        return str(dest)
    return name


def run_one(args: argparse.Namespace) -> dict:
    """One configuration, in this process: returns its timings."""
    import torch
    from transformers import TrainerCallback

    from balancedbio.config import load_config
    from balancedbio.train.grpo import GRPORecipeConfig, build_trainer

    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    surgery = args.config.split("-", 1)[1] if args.config.startswith("cap-") else "none"
    overrides = [f"model.name_or_path={args.model_dir}", f"data={args.data}", f"output_dir={args.out}",
                 f"steps={args.warmup + args.steps}", f"prompts_per_step={args.prompts}",
                 f"num_generations={args.generations}", f"max_new_tokens={args.new_tokens}",
                 f"capability_aware={'false' if args.config == 'trl' else 'true'}", f"surgery={surgery}",
                 f"model.use_lora={'false' if args.full else 'true'}", "report_to=[none]", "lr=1e-5",
                 f"rewards.model_reward={args.model_reward}", f"gradient_checkpointing={str(args.gc).lower()}"]
    cfg = load_config(GRPORecipeConfig, None, overrides)
    trainer = build_trainer(cfg)
    split = {"generate": [], "score": [], "step": [], "tokens": []}
    cur = {"generate": 0.0, "score": 0.0}

    def timed(name, fn):
        def wrapper(*a, **kw):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            t = time.perf_counter()
            out = fn(*a, **kw)
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            cur[name] += time.perf_counter() - t
            if name == "generate":
                ids = out[1] if isinstance(out, tuple) and len(out) > 1 else None
                if isinstance(ids, list):
                    cur["tokens"] = cur.get("tokens", 0) + sum(len(x) for x in ids)
            return out
        return wrapper

    trainer._generate = timed("generate", trainer._generate)
    trainer._calculate_rewards = timed("score", trainer._calculate_rewards)

    class Clock(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            cur.update(generate=0.0, score=0.0, tokens=0, t0=time.perf_counter())

        def on_step_end(self, a, state, control, **kw):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            split["step"].append(time.perf_counter() - cur["t0"])
            split["generate"].append(cur["generate"])
            split["score"].append(cur["score"])
            split["tokens"].append(cur.get("tokens", 0))

    trainer.add_callback(Clock())
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    w = args.warmup
    steps = {k: v[w:] for k, v in split.items()}
    n = len(steps["step"])
    mean = {k: sum(v) / n for k, v in steps.items()}
    out = {"config": args.config, "timed_steps": n,
           "step_s": mean["step"], "generate_s": mean["generate"], "score_s": mean["score"],
           "train_s": mean["step"] - mean["generate"] - mean["score"],
           "completion_tokens_per_step": mean["tokens"],
           "completion_tokens_per_s": mean["tokens"] / mean["step"] if mean["step"] else None,
           "per_step_s": steps["step"]}
    ts = getattr(trainer, "time_split", None)
    if ts:
        out["surgery_s_per_step"] = ts["surgery"] / (w + n)
    if torch.cuda.is_available():
        out["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    else:
        out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="synth-contract train.jsonl")
    p.add_argument("--model", default="default", help="default | qwen2.5-0.5b (random) | tiny | a directory")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--prompts", type=int, default=4)
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    p.add_argument("--gc", action="store_true", help="gradient checkpointing")
    p.add_argument("--model-reward", default="similarity", choices=("similarity", "none"))
    p.add_argument("--output", default="benchmarks/results/grpo_step_cpu.json")
    p.add_argument("--config", help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.config:  # child process
        print("RESULT " + json.dumps(run_one(args)), flush=True)
        return

    from balancedbio.atomic import write_json

    results = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = _model_dir(args.model, Path(tmp))
        for config in args.configs.split(","):
            cmd = [sys.executable, __file__, "--data", args.data, "--config", config, "--model-dir", model_dir,
                   "--out", str(Path(tmp) / config), "--device", args.device, "--prompts", str(args.prompts),
                   "--generations", str(args.generations), "--new-tokens", str(args.new_tokens),
                   "--warmup", str(args.warmup), "--steps", str(args.steps), "--model-reward", args.model_reward]
            cmd += ["--full"] if args.full else []
            cmd += ["--gc"] if args.gc else []
            proc = subprocess.run(cmd, capture_output=True, text=True)
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode or not line:
                results.append({"config": config, "error": proc.stderr[-2000:]})
            else:
                results.append(json.loads(line[-1][7:]))
            print(json.dumps(results[-1]), flush=True)
            write_json(args.output, _report(args, results, load_before))  # partial results survive a stop
    write_json(args.output, _report(args, results, load_before))
    print(json.dumps(_report(args, results, load_before)["derived"]))


def _report(args: argparse.Namespace, results: list[dict], load_before: tuple) -> dict:
    import torch

    base = {r["config"]: r for r in results if "error" not in r}
    derived = {}
    if "trl" in base and "cap-pcgrad" in base:
        derived["cap_pcgrad_vs_trl_tokens_per_s"] = (base["cap-pcgrad"]["completion_tokens_per_s"]
                                                     / base["trl"]["completion_tokens_per_s"])
    if "cap-none" in base and "cap-pcgrad" in base:
        derived["pcgrad_overhead_vs_none"] = base["cap-pcgrad"]["step_s"] / base["cap-none"]["step_s"] - 1
    report = {"benchmark": "grpo_step", "model": args.model, "device": args.device,
              "machine": (torch.cuda.get_device_name(0) if torch.cuda.is_available() and args.device != "cpu"
                          else f"{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()})"),
              "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
              "settings": {"prompts": args.prompts, "generations": args.generations, "new_tokens": args.new_tokens,
                           "warmup": args.warmup, "steps": args.steps, "lora": not args.full,
                           "gradient_checkpointing": args.gc, "model_reward": args.model_reward,
                           "torch": torch.__version__},
              "results": results, "derived": derived}
    return report


if __name__ == "__main__":
    main()
