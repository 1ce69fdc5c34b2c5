"""Rollout decoding speed: HF ``generate`` (dynamic cache), HF static cache, and our StaticRollout.

Measures new tokens/s and ms per decoding step at a fixed batch and completion length (EOS ignored, so
every engine decodes the same number of steps), after a warm-up call, in one process on one device. Also
checks that greedy decoding in fp32 gives the same tokens as HF ``generate`` on a few real prompts.

Engines:
  hf            model.generate, default dynamic cache
  hf-static     model.generate, cache_implementation="static" (transformers compiles the step itself)
  ours-eager    StaticRollout without a CUDA graph
  ours-graph    StaticRollout with the decoding step captured in a CUDA graph (CUDA only)

GPU (as in the issue: Qwen2.5-0.5B-shaped random model, bf16, batch 64, 256 new tokens)::

    python benchmarks/rollout_speed.py --model qwen2.5-0.5b --batch 64 --new-tokens 256 --dtype bfloat16

CPU smoke run::

    OMP_NUM_THREADS=2 python benchmarks/rollout_speed.py --model tiny --batch 8 --new-tokens 32 --device cpu
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    import torch

    from balancedbio.atomic import write_json
    from balancedbio.models import load_model, load_tokenizer, resolve_model
    from balancedbio.testing import make_random_model
    from balancedbio.train.rollout import Sampling, StaticRollout, hf_generate

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="qwen2.5-0.5b", help="qwen2.5-0.5b | tiny (random) | default | a directory")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--prompt-len", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=256)
    p.add_argument("--engines", default="hf,hf-static,ours-eager,ours-graph")
    p.add_argument("--sample", action="store_true", help="sample (temperature 1) instead of greedy")
    p.add_argument("--output", default="benchmarks/results/grpo_rollout_speed.json")
    args = p.parse_args()

    tmp = tempfile.TemporaryDirectory()
    if args.model in ("qwen2.5-0.5b", "tiny"):
        model_dir = make_random_model(Path(tmp.name) / args.model, args.model, tokenizer=load_tokenizer("default"))
    else:
        model_dir = resolve_model(args.model)
    dtype = getattr(torch, args.dtype) if args.device == "cuda" else torch.float32
    model, tok = load_model(str(model_dir), dtype="float32")
    model.to(args.device, dtype).eval()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    gen = torch.Generator(device="cpu").manual_seed(0)
    vocab = model.config.vocab_size
    ids = torch.randint(10, min(vocab, 30000), (args.batch, args.prompt_len), generator=gen).to(args.device)
    mask = torch.ones_like(ids)
    sampling = Sampling(do_sample=args.sample)
    n = args.new_tokens
    results: dict[str, dict] = {}

    def hf_call(static: bool):
        kw = {"cache_implementation": "static"} if static else {}
        return model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n,
                              do_sample=args.sample, pad_token_id=tok.pad_token_id, **kw)[:, ids.shape[1]:]

    engines = {"hf": lambda: hf_call(False), "hf-static": lambda: hf_call(True)}
    eager = StaticRollout(model, use_cuda_graph=False, buckets=None)  # the given shape, no bucket padding
    engines["ours-eager"] = lambda: eager.generate(ids, mask, max_new_tokens=n, sampling=sampling, eos_token_ids=[],
                                                   pad_token_id=tok.pad_token_id)
    if args.device == "cuda":
        graph = StaticRollout(model, use_cuda_graph=True, sync_every=64, buckets=None)
        engines["ours-graph"] = lambda: graph.generate(ids, mask, max_new_tokens=n, sampling=sampling,
                                                       eos_token_ids=[], pad_token_id=tok.pad_token_id)
    for name in args.engines.split(","):
        if name not in engines:
            continue
        try:
            engines[name]()  # warm-up (compilation, graph capture)
            _sync(args.device)
            t = time.perf_counter()
            out = engines[name]()
            _sync(args.device)
            dt = time.perf_counter() - t
            results[name] = {"seconds": dt, "new_tokens": int(out.numel()), "tokens_per_s": out.numel() / dt,
                             "ms_per_step": 1000 * dt / out.shape[1]}
        except Exception as exc:  # noqa: BLE001  report the failing engine, keep measuring the others
            results[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        print(name, json.dumps(results[name]), flush=True)
    if "ours-graph" in results and "error" not in results["ours-graph"]:
        results["ours-graph"]["graph_failures"] = graph.graph_failures

    # greedy parity in fp32 on real prompts
    model32 = model.float()
    tok.padding_side = "left"
    enc = tok(["Which gene is mutated in Marfan syndrome?", "Hi", "List three causes of anemia."],
              return_tensors="pt", padding=True).to(args.device)
    ref = hf_generate(model32, enc.input_ids, enc.attention_mask, max_new_tokens=24, sampling=Sampling(False),
                      eos_token_ids=[tok.eos_token_id], pad_token_id=tok.pad_token_id)
    parity = {}
    for name, use_graph in (("ours-eager", False), ("ours-graph", True)):
        if use_graph and args.device != "cuda":
            continue
        ours = StaticRollout(model32, use_cuda_graph=use_graph, buckets=None).generate(
            enc.input_ids, enc.attention_mask, max_new_tokens=24, sampling=Sampling(False),
            eos_token_ids=[tok.eos_token_id], pad_token_id=tok.pad_token_id)
        parity[name] = bool(ours.shape == ref.shape and torch.equal(ours.cpu(), ref.cpu()))
    base = results.get("hf", {}).get("tokens_per_s")
    speedups = {k: v["tokens_per_s"] / base for k, v in results.items() if base and "tokens_per_s" in v}
    report = {"benchmark": "rollout_speed", "model": args.model, "device": args.device,
              "machine": torch.cuda.get_device_name(0) if args.device == "cuda"
              else f"{os.cpu_count()}-core CPU ({platform.machine()}), shared with other jobs",
              "loadavg": os.getloadavg(), "dtype": str(dtype), "batch": args.batch, "prompt_len": args.prompt_len,
              "new_tokens": n, "sampled": args.sample, "results": results, "speedup_vs_hf": speedups,
              "greedy_fp32_matches_hf": parity, "torch": torch.__version__}
    write_json(args.output, report)
    print(json.dumps({"speedup_vs_hf": speedups, "parity": parity}))


if __name__ == "__main__":
    main()
