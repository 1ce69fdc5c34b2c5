"""Plain GRPO (summed rewards) vs Capability-Aware GRPO (hybrid weighting + gradient surgery), same budget.

Both runs start from the same model (the BFT checkpoint when given, else the default model), see the same
synth-contract training rows in the same order, and take the same number of optimizer steps with the same
rollout settings. Before and after, every capability is scored on the synthetic test split with greedy
decoding and :func:`balancedbio.scoring.score` (the metric the evaluation suite reports for the generative
capabilities and the GRPO rewards optimise). Reported: per-capability scores, the share of steps with a
conflicting (negative-cosine) capability pair, and a Pareto plot.

    OMP_NUM_THREADS=2 python experiments/grpo_capability.py --train DIR/train.jsonl --test DIR/test.jsonl \
        --steps 12 --output experiments/results/grpo_capability.json

Without ``--train``/``--test`` a toy knowledge graph and a small synth set are built first (seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path

CAPS = ("expertise", "reasoning", "instruction", "integration")


def make_data(workdir: Path, n: int, seed: int) -> tuple[Path, Path]:
    import subprocess
    import sys

    from balancedbio.knowledge.toy import build_toy_graph

    kg = workdir / "kg"
    build_toy_graph(kg)
    out = workdir / "synth"
    subprocess.run([sys.executable, "-m", "balancedbio", "synth", "-n", str(n), "--output", str(out),
                    "--graph", str(kg), "--seed", str(seed)], check=True, capture_output=True)
    return out / "train.jsonl", out / "test.jsonl"


def evaluate(model_spec: str, rows: list[dict], max_new_tokens: int) -> dict:
    """Mean scorer value (and correctness where defined) per capability on ``rows``, greedy decoding."""
    from balancedbio.eval.generate import GenerationConfig, generate_batch, prompt_messages
    from balancedbio.models import load_model
    from balancedbio.scoring import score

    model, tok = load_model(model_spec, dtype="float32")
    texts = generate_batch(model, tok, [prompt_messages(r) for r in rows],
                           GenerationConfig(max_new_tokens=max_new_tokens, batch_size=16), progress=False)
    per: dict[str, list[float]] = defaultdict(list)
    for r, t in zip(rows, texts):
        per[r["capability"]].append(score(r, t).value)
    return {c: {"score": sum(v) / len(v), "n": len(v)} for c, v in per.items()}


def pareto_plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from balancedbio.atomic import atomic_path

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    labels = list(results)
    width = 0.8 / len(labels)
    for i, name in enumerate(labels):
        vals = [results[name]["eval"].get(c, {}).get("score", 0.0) for c in CAPS]
        ax1.bar([k + i * width for k in range(len(CAPS))], vals, width, label=name)
    ax1.set_xticks([k + 0.4 - width / 2 for k in range(len(CAPS))], CAPS)
    ax1.set_ylabel("score on synth test split")
    ax1.legend()
    for name in labels:
        ev = results[name]["eval"]
        knowledge = (ev.get("expertise", {}).get("score", 0) + ev.get("reasoning", {}).get("score", 0)) / 2
        behaviour = (ev.get("instruction", {}).get("score", 0) + ev.get("integration", {}).get("score", 0)) / 2
        ax2.scatter([knowledge], [behaviour], s=60)
        ax2.annotate(name, (knowledge, behaviour))
    ax2.set_xlabel("expertise + reasoning (mean)")
    ax2.set_ylabel("instruction + integration (mean)")
    ax2.set_title("trade-off (up-right dominates)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default", help="start model (a BFT checkpoint if there is one)")
    p.add_argument("--train")
    p.add_argument("--test")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--prompts", type=int, default=4)
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--eval-per-cap", type=int, default=12, help="test rows per capability")
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default="experiments/results/grpo_capability.json")
    args = p.parse_args()

    from balancedbio.atomic import write_json
    from balancedbio.config import load_config
    from balancedbio.train.grpo import GRPORecipeConfig, load_rows, train_grpo

    work = Path(tempfile.mkdtemp(prefix="grpo_exp_"))
    train, test = (Path(args.train), Path(args.test)) if args.train else make_data(work, 600, args.seed)
    rng = random.Random(args.seed)
    test_rows = load_rows(test)
    by_cap: dict[str, list] = defaultdict(list)
    for r in test_rows:
        by_cap[r["capability"]].append(r)
    eval_rows = [r for c in CAPS for r in rng.sample(by_cap[c], min(args.eval_per_cap, len(by_cap[c])))]

    t0 = time.time()
    results: dict[str, dict] = {"start": {"eval": evaluate(args.model, eval_rows, args.new_tokens)}}
    common = [f"model.name_or_path={args.model}", f"data={train}", f"steps={args.steps}",
              f"prompts_per_step={args.prompts}", f"num_generations={args.generations}",
              f"max_new_tokens={args.new_tokens}", f"lr={args.lr}", f"seed={args.seed}", "model.use_lora=true",
              "report_to=[none]", "rewards.model_reward=similarity"]
    runs = {"plain_grpo": ["capability_aware=false"],
            "capability_aware": ["capability_aware=true", "weighting.mode=inverse_variance", "surgery=pcgrad"]}
    for name, extra in runs.items():
        cfg = load_config(GRPORecipeConfig, None, common + extra + [f"output_dir={work / name}"])
        t = time.time()
        final = train_grpo(cfg)
        summary = json.loads((work / name / "grpo_summary.json").read_text())
        results[name] = {"train_s": time.time() - t, "summary": summary,
                         "eval": evaluate(str(final), eval_rows, args.new_tokens)}
        cos = work / name / "capability_cosines.json"
        if cos.is_file():
            results[name]["cosine_history"] = json.loads(cos.read_text())
    for name in ("plain_grpo", "capability_aware"):
        results[name]["delta_vs_start"] = {
            c: results[name]["eval"][c]["score"] - results["start"]["eval"][c]["score"]
            for c in CAPS if c in results[name]["eval"] and c in results["start"]["eval"]}
    out = Path(args.output)
    pareto_plot(results, out.with_suffix(".png"))
    write_json(out, {"experiment": "grpo_capability", "start_model": args.model,
                     "machine": f"{os.cpu_count()}-core CPU", "loadavg": os.getloadavg(),
                     "settings": vars(args), "train_data": str(train), "test_rows_per_capability":
                     {c: sum(r["capability"] == c for r in eval_rows) for c in CAPS},
                     "wall_s": time.time() - t0, "results": results})
    print(json.dumps({k: v.get("eval") for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
