"""The answerability filter with the untuned model and with a model tuned on a slice, on the same rows.

Source2Synth's curation (Lupidi et al., arXiv 2409.08239) tunes the filter model on one slice of the
generated data and drops the examples of the rest that the tuned model cannot answer. This measures what
the tuning changes, on template rows from the toy graph (seed 0, ``--slots`` slots, no test split):

* slice: ``--slice`` of the rows (:func:`balancedbio.synth.answerability.slice_ids`, seed 0); the tuning
  is :func:`balancedbio.synth.answerability.tune_on_slice` (the SFT recipe, method nll, a LoRA adapter on
  the default model SmolLM2-135M-Instruct, ``--steps`` steps of ``--batch-size`` rows at learning rate ``--lr``), the
  code path of ``balancedbio synth answerability.finetune_slice=...``;
* the other rows are asked of the untuned and of the tuned model, each with the question alone and with
  the row's facts before it (``with_facts``; the tuning sees the same prompt format as the filter, so there
  is one tuning per format): :class:`balancedbio.synth.curate.AnswerabilityFilter`, 3 samples of
  ``--max-new-tokens`` tokens, judged by :func:`balancedbio.scoring.score`;
* the ceiling: how many of those rows their own reference answer, cut to ``--max-new-tokens`` tokens,
  still passes (no model keeps more); ``--ceiling-only`` reports it for several budgets and stops.

Reported per condition: rows asked, dropped, drop rate, per capability too, the dropped row ids and the
seconds; per tuning: slice rows, steps, the loss at its first and last step, seconds.

    nice -n 10 python benchmarks/synth_answerability.py --slots 40 --formats question \\
        --out benchmarks/results/synth_answerability_question_cpu.json
    nice -n 10 python benchmarks/synth_answerability.py --slots 40 --ceiling-only \\
        --out benchmarks/results/synth_answerability_ceiling.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def ask(filt, rows: list[dict]) -> dict:
    t0 = time.perf_counter()
    per: dict[str, dict] = {}
    dropped_ids = []
    for row, ok in filt.filter(rows):
        cap = per.setdefault(row["capability"], {"rows": 0, "dropped": 0})
        cap["rows"] += 1
        if not ok:
            cap["dropped"] += 1
            dropped_ids.append(row["id"])
    for cap in per.values():
        cap["drop_rate"] = round(cap["dropped"] / cap["rows"], 3)
    n, d = len(rows), len(dropped_ids)
    return {"rows": n, "dropped": d, "drop_rate": round(d / n, 3) if n else None,
            "by_capability": dict(sorted(per.items())), "dropped_ids": dropped_ids,
            "seconds": round(time.perf_counter() - t0, 1)}


def reference_ceiling(rows: list[dict], max_new_tokens: int) -> dict:
    """Rows whose own reference answer, cut to ``max_new_tokens`` tokens, still scores: no model can keep
    more (a budget too small for a capability's answers drops them whatever the model)."""
    from balancedbio.models import load_tokenizer
    from balancedbio.scoring import score

    tok = load_tokenizer("default")
    per: dict[str, dict] = {}
    for row in rows:
        ids = tok(row["messages"][1]["content"], add_special_tokens=False)["input_ids"]
        cap = per.setdefault(row["capability"], {"rows": 0, "pass": 0})
        cap["rows"] += 1
        cap["pass"] += bool(score(row, tok.decode(ids[:max_new_tokens])).correct)
    return dict(sorted(per.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--slots", type=int, default=40)
    ap.add_argument("--slice", type=float, default=0.25)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--tries", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--formats", default="question,facts", help="question, facts or both (comma-separated)")
    ap.add_argument("--ceiling-only", action="store_true",
                    help="only the reference ceiling at 48, 64, 96, 128 and 192 tokens (seconds, no model)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from balancedbio.config import load_config
    from balancedbio.knowledge.graph import KnowledgeGraph
    from balancedbio.knowledge.toy import build_toy_graph
    from balancedbio.synth import answerability as ans
    from balancedbio.synth import generate as gen
    from balancedbio.synth.curate import AnswerabilityFilter, read_jsonl

    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="answerability-"))
    graph = KnowledgeGraph.open(build_toy_graph(tmp / "kg"))
    cfg = load_config(gen.SynthConfig, None, [
        f"num_examples={args.slots}", "seed=0", "test_fraction=0.0", "answerability.model=default",
        f"answerability.finetune_steps={args.steps}", f"answerability.finetune_lr={args.lr}",
        f"answerability.finetune_batch_size={args.batch_size}",
        f"answerability.tries={args.tries}", f"answerability.max_new_tokens={args.max_new_tokens}"])
    gen.generate_dataset(cfg, tmp / "rows", graph=graph)
    rows = list(read_jsonl(tmp / "rows" / "train.jsonl"))
    chosen = ans.slice_ids((r["id"] for r in rows), args.slice, seed=0)
    tune_rows = [r for r in rows if r["id"] in chosen]
    rest = [r for r in rows if r["id"] not in chosen]
    print(f"{len(rows)} rows: {len(tune_rows)} to tune on, {len(rest)} to filter", flush=True)

    a = cfg.answerability
    if args.ceiling_only:
        result = {"benchmark": "synth_answerability --ceiling-only", "graph": "toy", "generator": "template",
                  "seed": 0, "slots": args.slots, "rows": len(rows), "asked_rows": len(rest),
                  "reference_ceiling_by_budget": {n: reference_ceiling(rest, n) for n in (48, 64, 96, 128, 192)}}
        print(json.dumps(result, indent=2))
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        return
    ceiling = reference_ceiling(rest, a.max_new_tokens)
    print(f"reference answers cut to {a.max_new_tokens} tokens that still score: {ceiling}", flush=True)
    conditions, tunings = {}, {}
    result_header = {
        "benchmark": "synth_answerability", "machine": f"{os.uname().machine} {os.cpu_count()} CPUs",
        "torch_threads": __import__("torch").get_num_threads(), "graph": "toy", "generator": "template",
        "seed": 0, "slots": args.slots, "rows": len(rows), "slice_share": args.slice, "slice_rows": len(tune_rows),
        "filtered_rows": len(rest), "filter_model": "SmolLM2-135M-Instruct (default)", "tries": a.tries,
        "max_new_tokens": a.max_new_tokens,
        "tuning_settings": {"method": "nll", "lora": "r 16, alpha 32, dropout 0.05, all projections",
                            "steps": args.steps, "batch_size": a.finetune_batch_size, "lr": args.lr,
                            "schedule": "constant"},
        "reference_ceiling": ceiling}
    for fmt in args.formats.split(","):
        context = ans.facts_context(graph) if fmt == "facts" else None
        print(f"{fmt}: untuned", flush=True)
        conditions[f"untuned_{fmt}"] = ask(AnswerabilityFilter("default", tries=a.tries,
                                                               max_new_tokens=a.max_new_tokens, seed=0,
                                                               context=context), rest)
        save(args, result_header, tunings, conditions, load_before)
        print(f"{fmt}: tuning", flush=True)
        t0 = time.perf_counter()
        final, info = ans.tune_on_slice(a, 0, tune_rows, tmp / f"tune-{fmt}", context)
        tunings[fmt] = {**info, "seconds": round(time.perf_counter() - t0, 1)}
        save(args, result_header, tunings, conditions, load_before)
        print(f"{fmt}: tuned ({tunings[fmt]})", flush=True)
        conditions[f"tuned_{fmt}"] = ask(AnswerabilityFilter(str(final), tries=a.tries,
                                                             max_new_tokens=a.max_new_tokens, seed=0,
                                                             context=context), rest)
        print(json.dumps({k: v["drop_rate"] for k, v in conditions.items()}), flush=True)

    save(args, result_header, tunings, conditions, load_before, final=True)


def save(args, header: dict, tunings: dict, conditions: dict, load_before, *, final: bool = False) -> None:
    """Write what is measured so far (after every condition, so a run cut short keeps its figures)."""
    result = {**header, "complete": final, "load_avg_before": [round(x, 2) for x in load_before],
              "tunings": tunings, "conditions": conditions,
              "load_avg_after": [round(x, 2) for x in os.getloadavg()]}
    text = json.dumps(result, indent=2)
    if final:
        print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
