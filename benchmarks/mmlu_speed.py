"""Time MMLU-medical log-likelihood scoring (1,099 test questions) and record accuracy.

Usage (2 threads, the target machine of the issue: 2 CPU cores)::

    OMP_NUM_THREADS=2 python benchmarks/mmlu_speed.py --model default --shots 0 5 --dtype float32

Writes ``benchmarks/results/mmlu_<tag>.json`` with wall-clock and process CPU seconds, the load average
before and after (the machine may be shared), tokens scored, and micro/macro accuracy per setting.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[1] / "shared" / "data" / "mmlu_medical"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--shots", type=int, nargs="+", default=[0, 5])
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    ap.add_argument("--no-share-prefix", action="store_true")
    ap.add_argument("--limit", type=int, default=0, help="questions per subject (0 = all)")
    ap.add_argument("--tag", default=None)
    args = ap.parse_args()

    import torch

    from balancedbio.atomic import write_json
    from balancedbio.eval.datasets import load_mmlu
    from balancedbio.eval.mcq import accuracy_summary, format_question, score_mcq
    from balancedbio.models import load_model

    torch.set_num_threads(args.threads)
    model, tok = load_model(args.model, dtype=args.dtype)
    test = load_mmlu(args.data, "test")
    dev = load_mmlu(args.data, "dev").by_subject()
    items = test.items
    if args.limit:
        items = [it for s, v in test.by_subject().items() for it in v[:args.limit]]
    n_tokens = sum(len(tok(format_question(it), add_special_tokens=False)["input_ids"]) for it in items)
    tag = args.tag or f"{args.dtype}_t{args.threads}" + ("_noshare" if args.no_share_prefix else "")
    out = {"model": args.model, "dtype": args.dtype, "threads": args.threads, "n_questions": len(items),
           "question_tokens": n_tokens, "share_prefix": not args.no_share_prefix,
           "machine": f"{os.cpu_count()}-core {platform.machine()} CPU",
           "torch": torch.__version__, "runs": []}
    for k in args.shots:
        load_before = os.getloadavg()
        t0, c0 = time.perf_counter(), time.process_time()
        preds = score_mcq(model, tok, items, shots=dev, k=k, share_prefix=not args.no_share_prefix,
                          progress=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        acc = accuracy_summary(preds)
        run = {"shots": k, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load_before": load_before,
               "load_after": os.getloadavg(), "questions_per_s": round(len(items) / wall, 2),
               "micro": acc["micro"], "macro": acc["macro"],
               "subjects": {s: v["accuracy"] for s, v in acc["subjects"].items()}}
        out["runs"].append(run)
        print(run, flush=True)
        write_json(HERE / "results" / f"mmlu_{tag}.json", out)


if __name__ == "__main__":
    main()
