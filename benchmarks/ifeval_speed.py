"""IFEval's 541 prompts generated and scored with the default model on this CPU.

Usage::

    OMP_NUM_THREADS=2 python benchmarks/ifeval_speed.py --input ../shared/data/ifeval/input_data.jsonl \
        --max-new-tokens 256 --batch-size 16 [--limit N]

Generation is :func:`balancedbio.eval.generate.generate_batch` (greedy, prompts sorted by length and
batched, left-padded); scoring is the registry's ``ifeval`` entry (the IFEval verifiers), and the
responses are also written in IFEval's response format and scored again with
:func:`balancedbio.eval.ifeval.score_responses` as a cross-check. Results go to
``benchmarks/results/ifeval_speed_<tag>.json`` after every chunk of prompts (``complete`` false until
the last), with wall-clock seconds, generated tokens, the four accuracies and the load average before
and after (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--input", default=str(HERE.parents[1] / "shared" / "data" / "ifeval" / "input_data.jsonl"))
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--chunk", type=int, default=64, help="prompts per progress save")
    ap.add_argument("--limit", type=int, default=0, help="first N prompts (0 = all 541)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    ap.add_argument("--tag", default=None)
    args = ap.parse_args()

    import torch

    from balancedbio.atomic import write_json
    from balancedbio.eval import tasks
    from balancedbio.eval.generate import GenerationConfig, generate_batch
    from balancedbio.eval.ifeval import score_responses
    from balancedbio.eval.tasks import Source
    from balancedbio.models import load_model

    torch.set_num_threads(args.threads)
    task = tasks.get("ifeval")
    items = list(task.load(Source(args.input, limit=args.limit)))
    tag = args.tag or f"{args.dtype}_{len(items)}"
    dest = HERE / "results" / f"ifeval_speed_{tag}.json"
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    model, tok = load_model(args.model, dtype=args.dtype)
    t_load = time.perf_counter() - t0
    cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    # length-sorted over the whole set, then chunked, so each chunk's batches hold similar lengths
    order = sorted(range(len(items)), key=lambda i: len(tok(items[i].prompt)["input_ids"]))
    responses: dict[int, str] = {}
    t_gen = 0.0
    gen_tokens = 0
    for start in range(0, len(order), args.chunk):
        idx = order[start:start + args.chunk]
        t0 = time.perf_counter()
        outs = generate_batch(model, tok, [task.prompt(items[i]) for i in idx], cfg, progress=False)
        t_gen += time.perf_counter() - t0
        for i, text in zip(idx, outs):
            responses[i] = text
            gen_tokens += len(tok(text, add_special_tokens=False)["input_ids"])
        done = sorted(responses)
        t0 = time.perf_counter()
        judged = [task.judge(items[i], responses[i]) for i in done]
        metric = task.metric(judged)
        t_score = time.perf_counter() - t0
        result = {
            "what": "IFEval prompts generated (greedy, length-sorted batches) and scored by the IFEval verifiers",
            "model": args.model, "dtype": args.dtype, "max_new_tokens": args.max_new_tokens,
            "batch_size": args.batch_size, "n_prompts": len(done), "n_total": len(items),
            "complete": len(done) == len(items),
            "seconds": {"model_load": round(t_load, 1), "generate": round(t_gen, 1), "score": round(t_score, 2)},
            "generated_tokens": gen_tokens, "tokens_per_second": round(gen_tokens / t_gen, 2) if t_gen else None,
            "prompts_per_second": round(len(done) / t_gen, 3) if t_gen else None,
            "metrics": metric,
            "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                        "threads": args.threads, "torch": torch.__version__},
            "loadavg_before": load_before, "loadavg_now": os.getloadavg(),
        }
        if result["complete"]:
            with tempfile.TemporaryDirectory() as tmp:
                resp = Path(tmp) / "responses.jsonl"
                resp.write_text("".join(json.dumps({"prompt": items[i].prompt, "response": responses[i]}) + "\n"
                                        for i in range(len(items))))
                sub = Path(tmp) / "input.jsonl"
                src_lines = [x for x in Path(args.input).read_text(encoding="utf-8").splitlines() if x.strip()]
                sub.write_text("\n".join(src_lines[:len(items)]) + "\n")
                result["score_responses_crosscheck"] = score_responses(sub, resp)
            result["responses_sample"] = [{"key": items[i].key, "response": responses[i][:300]} for i in order[:3]]
        write_json(dest, result)
        print(f"{len(done)}/{len(items)} prompts, {t_gen:.0f} s generating, "
              f"prompt-level strict {metric.get('prompt_level_strict_acc')}", flush=True)
    print(dest)


if __name__ == "__main__":
    main()
