"""Where the inverse-variance hybrid weighting goes on a real run: alpha_c, w_c and the noise estimates per step.

Runs a few capability-aware GRPO steps (default model, LoRA, the BFT checkpoint as the start when given)
on synth-contract rows with the default rewards (the shared scorer as the rule score, MiniLM similarity to
the gold answer as the model score) and records, per optimizer step and capability, alpha_c (the rule
score's share), w_c, the model score's scale b_c and both noise estimates (docs/methods.md). Reports
whether any capability sits on a bound of ``alpha_clip`` / ``w_clip`` at the end. CPU only, a few steps:

    OMP_NUM_THREADS=2 python experiments/grpo_weighting.py --model RUN/stages/bft/final \\
        --train RUN/stages/synth/data/train.jsonl --steps 5 --output experiments/results/grpo_weighting.json

``--from-log FILE`` rebuilds the per-step records from the Trainer's printed log lines of a run that was
stopped before it could write its JSON (the records then say so).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

CAPS = ("expertise", "reasoning", "instruction", "integration")
KEYS = ("alpha", "w", "scale", "noise_rule", "noise_model", "signal_within")


def per_step(log_history: list[dict]) -> list[dict]:
    """One record per logged training step: {step, <key>/<cap>: value} for the capability metrics."""
    rows = []
    for h in log_history:
        if "loss" not in h:
            continue
        row = {"step": h["step"]}
        for k in KEYS:
            for c in CAPS:
                v = h.get(f"capability/{k}/{c}")
                if v is not None:
                    row[f"{k}/{c}"] = v
        rows.append(row)
    return rows


def history_from_log(path: str) -> list[dict]:
    """The Trainer's printed per-step log dicts (``{'loss': ...}`` lines) of a run's console output."""
    import ast
    import re

    history = []
    for m in re.finditer(r"\{'loss'[^{}]*\}", Path(path).read_text(errors="replace")):
        h = {k: float(v) for k, v in ast.literal_eval(m.group(0)).items()}
        h["step"] = len(history) + 1  # logging_steps = 1
        history.append(h)
    return history


def clip_bounds(last: dict, alpha_clip, w_clip) -> dict[str, list[str]]:
    """Per capability, which clips hold it at the last step: ``alpha`` when the rule score's share of the hybrid's
    noise sits on an ``alpha_clip`` bound (the clip is on that share, docs/methods.md), ``w`` when w_c sits on a
    ``w_clip`` bound."""
    from balancedbio.train.weighting import rule_noise_share

    out = {}
    for c in CAPS:
        hits = []
        if f"noise_rule/{c}" in last and f"alpha/{c}" in last:
            share = rule_noise_share(last[f"alpha/{c}"], last[f"noise_rule/{c}"], last[f"noise_model/{c}"])
            if any(abs(share - b) < 1e-6 for b in alpha_clip):
                hits.append("alpha")
        if f"w/{c}" in last and any(abs(last[f"w/{c}"] - b) < 1e-9 for b in w_clip):
            hits.append("w")
        out[c] = hits
    return out


def record_pairs(trainer) -> list:
    """Keep every training batch's (rule, model, capability) scores as the weighter sees them."""
    seen: list = []
    combine = trainer.weighter.combine

    def recording(rule, model, capabilities, num_generations, *, update=True):
        if update:
            seen.append({"rule": rule.tolist(), "model": model.tolist(), "capability": list(capabilities),
                         "num_generations": num_generations})
        return combine(rule, model, capabilities, num_generations, update=update)

    trainer.weighter.combine = recording
    return seen


def pooled_analysis(pairs: list) -> dict:
    """Per capability over all recorded pairs: the two-level estimate (None: not identified), the alpha it
    gives, and the alpha of the pooled one-level estimate the first version used."""
    import torch

    from balancedbio.train.weighting import min_variance_alpha, noise_variances, two_level_noise

    out = {}
    for c in CAPS:
        rule, model = [], []
        for b in pairs:
            g = b["num_generations"]
            for i in range(0, len(b["capability"]), g):
                if b["capability"][i] == c:
                    rule += b["rule"][i:i + g]
                    model += b["model"][i:i + g]
        if not rule:
            continue
        r, m = torch.tensor(rule, dtype=torch.float64), torch.tensor(model, dtype=torch.float64)
        g = pairs[0]["num_generations"]
        both = ~(torch.isnan(r) | torch.isnan(m))
        est = two_level_noise(r, m, g) if bool(both.any()) else None
        s_r, s_m, _ = noise_variances(r, m) if int(both.sum()) >= 2 else (float("nan"),) * 3
        groups = r.view(-1, g)
        out[c] = {"pairs": int(both.sum()), "groups": groups.shape[0],
                  "rule_mean": float(torch.nanmean(r)), "model_mean": float(torch.nanmean(m)) if bool(both.any()) else None,
                  "groups_with_rule_variation": int((groups.nan_to_num(-1).std(1) > 0).sum()),
                  "two_level": None if est is None else {**est.__dict__,
                                                         "alpha": min_variance_alpha(est.s_rule, est.s_model)},
                  "pooled_alpha": None if s_r != s_r else min_variance_alpha(s_r, s_m)}
    return out


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key, title, bounds in ((axes[0], "alpha", "alpha_c (rule score's share)", (0.05, 0.95)),
                                   (axes[1], "w", "w_c (capability weight)", (0.5, 2.0))):
        for c in CAPS:
            pts = [(r["step"], r[f"{key}/{c}"]) for r in rows if f"{key}/{c}" in r]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=c)
        for b in bounds:
            ax.axhline(b, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("optimizer step")
        ax.set_title(title)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default", help="start model (e.g. the BFT stage's final adapter)")
    ap.add_argument("--train", required=True, help="synth-contract train.jsonl")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--prompts-per-step", type=int, default=8)
    ap.add_argument("--num-generations", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--min-groups", type=int, default=None, help="weighting.min_groups (default: the config's)")
    ap.add_argument("--min-samples", type=int, default=None, help="weighting.min_samples (default: the config's)")
    ap.add_argument("--output", default="experiments/results/grpo_weighting.json")
    ap.add_argument("--from-log", default=None, help="rebuild the records from a stopped run's console log")
    args = ap.parse_args()

    from balancedbio.config import load_config
    from balancedbio.train.grpo import GRPORecipeConfig, build_trainer

    load_before = os.getloadavg()
    wall = None
    pairs: list = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(GRPORecipeConfig, "configs/grpo.yaml", [
            f"model.name_or_path={args.model}", f"data={args.train}", f"output_dir={tmp}/out",
            f"steps={args.steps}", f"prompts_per_step={args.prompts_per_step}",
            f"num_generations={args.num_generations}", f"max_new_tokens={args.max_new_tokens}", "lr=2e-5",
            "model.use_lora=true", "weighting.mode=inverse_variance", "surgery=pcgrad", "report_to=[none]",
            "save_steps=0", *([f"weighting.min_groups={args.min_groups}"] if args.min_groups else []),
            *([f"weighting.min_samples={args.min_samples}"] if args.min_samples else [])])
        if args.from_log:
            history = history_from_log(args.from_log)
        else:
            t0 = time.perf_counter()
            trainer = build_trainer(cfg)
            pairs = record_pairs(trainer)
            trainer.train()
            wall = round(time.perf_counter() - t0, 1)
            history = trainer.state.log_history
    rows = per_step(history)
    last = rows[-1] if rows else {}
    lo_a, hi_a = cfg.weighting.alpha_clip
    lo_w, hi_w = cfg.weighting.w_clip
    at_bound = clip_bounds(last, (lo_a, hi_a), (lo_w, hi_w))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"model": args.model, "train": args.train, "steps": args.steps,
              "prompts_per_step": args.prompts_per_step, "num_generations": args.num_generations,
              "max_new_tokens": args.max_new_tokens, "weighting": {"ema": cfg.weighting.ema,
                                                                   "min_samples": cfg.weighting.min_samples,
                                                                   "min_groups": cfg.weighting.min_groups,
                                                                   "alpha_clip": [lo_a, hi_a], "w_clip": [lo_w, hi_w]},
              "per_step": rows, "at_clip_bound_last_step": at_bound,
              "all_pairs_analysis": pooled_analysis(pairs) if pairs else None, "pairs": pairs, "wall_s": wall,
              "source": f"console log {args.from_log} of a run stopped early" if args.from_log else "trainer",
              "machine": f"{os.cpu_count()}-core {platform.machine()} CPU", "loadavg_before": load_before,
              "loadavg_after": os.getloadavg()}
    out.write_text(json.dumps(result, indent=2) + "\n")
    plot(rows, out.with_suffix(".png"))
    print(json.dumps({"at_clip_bound_last_step": at_bound, "last": last, "wall_s": wall}, indent=2))


if __name__ == "__main__":
    main()
