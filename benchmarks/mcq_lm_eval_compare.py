"""MMLU-medical per question: our scorer beside lm-evaluation-harness 0.4 (its own task, its own HFLM).

Usage (default model, float32, zero-shot, the first 50 test questions of each of the six subjects)::

    OMP_NUM_THREADS=2 python benchmarks/mcq_lm_eval_compare.py --per-subject 50 --shots 0

Also scores the same questions with the header tokenized apart from the question (our scorer before it
followed lm-eval: one "\\n\\n" token where the whole string has two "\\n"), to show what that changed.
Writes ``benchmarks/results/mcq_lm_eval_compare_<k>shot.json``: letters that differ, the largest
log-probability difference, accuracy of each, seconds, and the load average before and after (the
machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "eval"))


def split_tokenization_preds(model, tok, items, shots, k):
    """Letters chosen when the header + shots and the question are tokenized separately (the old way)."""
    import torch

    from balancedbio.eval.mcq import format_question, subject_prefix

    out = {}
    letter_ids = {c: tok(f"Answer: {c}", add_special_tokens=False)["input_ids"][-1] for c in "ABCD"}
    with torch.inference_mode():
        for it in items:
            ids = (tok(subject_prefix(it.subject, shots.get(it.subject, [])[:k]))["input_ids"]
                   + tok(format_question(it), add_special_tokens=False)["input_ids"])
            logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0, -1].float(), -1)
            lps = {c: float(logp[letter_ids[c]]) for c in it.choices}
            out[it.id] = max(lps, key=lps.get)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--per-subject", type=int, default=50)
    ap.add_argument("--shots", type=int, default=0)
    ap.add_argument("--no-split", action="store_true", help="skip the separately-tokenized comparison (slow)")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    args = ap.parse_args()

    import lm_eval
    import torch
    from lm_eval_reference import lm_eval_loglikelihoods

    from balancedbio.atomic import write_json
    from balancedbio.eval.datasets import load_mmlu
    from balancedbio.eval.mcq import score_mcq
    from balancedbio.models import load_model
    from balancedbio.resources import mmlu_medical_dir

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    model, tok = load_model(args.model, dtype="float32")
    data = mmlu_medical_dir()
    test = load_mmlu(data, "test")
    items = [it for v in test.by_subject().values() for it in v[:args.per_subject]]
    shots = load_mmlu(data, "dev").by_subject()
    t0 = time.perf_counter()
    ours = score_mcq(model, tok, items, shots=shots, k=args.shots, progress=False)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        ref = lm_eval_loglikelihoods(model, tok, items, Path(tmp), k=args.shots, shots=shots, batch_size=16)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    old = {} if args.no_split else split_tokenization_preds(model, tok, items, shots, args.shots)
    t_old = time.perf_counter() - t0
    ref_pred = {i: max(v, key=v.get) for i, v in ref.items()}
    gold = {it.id: it.answer for it in items}
    differ = [p.id for p in ours if p.pred != ref_pred[p.id]]
    differ_old = [i for i in old if old[i] != ref_pred[i]]
    max_diff = max(abs(p.logprobs[c] - ref[p.id][c]) for p in ours for c in p.logprobs)
    acc = lambda preds: sum(preds[i] == gold[i] for i in gold) / len(gold)  # noqa: E731
    result = {
        "what": "MMLU-medical, default model, float32: our scorer vs lm-eval 0.4 (own task yaml and HFLM)",
        "model": args.model, "shots": args.shots, "n_questions": len(items), "per_subject": args.per_subject,
        "lm_eval_version": lm_eval.__version__ if hasattr(lm_eval, "__version__") else "0.4.13",
        "ours_vs_lm_eval": {"letters_differ": len(differ), "ids": differ, "max_abs_logprob_diff": max_diff,
                            "accuracy_ours": acc({p.id: p.pred for p in ours}), "accuracy_lm_eval": acc(ref_pred)},
        "split_tokenization_vs_lm_eval": ({"letters_differ": len(differ_old), "ids": differ_old,
                                           "accuracy": acc(old)} if old else "not run (--no-split)"),
        "seconds": {"ours": round(t_ours, 1), "lm_eval": round(t_ref, 1), "split_one_by_one": round(t_old, 1)},
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "threads": args.threads, "torch": torch.__version__},
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
    }
    dest = HERE / "results" / f"mcq_lm_eval_compare_{args.shots}shot.json"
    write_json(dest, result)
    print(f"{dest}: {len(differ)}/{len(items)} letters differ from lm-eval (max |d logp| {max_diff:.2e}); "
          + (f"split tokenization: {len(differ_old)}/{len(items)}" if old else "split tokenization not run"))


if __name__ == "__main__":
    main()
