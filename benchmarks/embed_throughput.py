"""Embedding throughput (texts/s) of causal-LM pooled hidden states and the MiniLM baseline.

Texts are the fixed gene profiles of the first ``--n-texts`` CORUM genes (the real workload of
``embed-bench``, ~45 tokens each, up to ~150). Each configuration is warmed up on 16 texts, then timed
over all texts. Length-sorted buckets are compared with input-order batches. The 1-minute load average
is recorded because on a shared machine the wall-clock numbers depend on it; the process CPU time
(all threads) is recorded too, as a load-robust figure (texts per CPU-second; an idle machine with
``OMP_NUM_THREADS=2`` runs at most about twice that many texts per wall-clock second).

    OMP_NUM_THREADS=2 python benchmarks/embed_throughput.py --models default,minilm \
        --output benchmarks/results/embed_throughput_cpu.json
"""

from __future__ import annotations

import argparse
import os
import platform
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="default,minilm")
    ap.add_argument("--n-texts", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--device", default=None)
    ap.add_argument("--output", default="benchmarks/results/embed_throughput_cpu.json")
    args = ap.parse_args()

    import torch

    from balancedbio.atomic import write_json
    from balancedbio.embed.embed import embed_texts, load_for_embedding, pick_device_dtype
    from balancedbio.embed.genes import corum_pairs
    from balancedbio.embed.profiles import gene_profiles

    genes = sorted({g for p in corum_pairs() for g in p})
    profiles = gene_profiles(genes[: args.n_texts * 2], use_graph=False)
    texts = list(profiles.values())[: args.n_texts]
    device, dtype = pick_device_dtype(args.device)
    rows = []
    for spec in args.models.split(","):
        model = spec if spec == "minilm" else load_for_embedding(spec, device=args.device)
        tok = None if spec == "minilm" else model[1]
        n_tokens = sum(len(x) for x in tok(texts)["input_ids"]) if tok is not None else None
        for sort in ((True,) if spec == "minilm" else (True, False)):
            embed_texts(model, texts[:16], batch_size=args.batch_size, device=args.device)
            load_before = os.getloadavg()[0]
            start, cpu_start = time.perf_counter(), time.process_time()
            vecs = embed_texts(model, texts, batch_size=args.batch_size, device=args.device,
                               sort_by_length=sort)
            seconds = time.perf_counter() - start
            cpu_seconds = time.process_time() - cpu_start  # all threads of this process: load-robust
            rows.append({"model": spec, "length_sorted": sort, "texts": len(texts),
                         "tokens": n_tokens, "dim": int(vecs.shape[1]), "seconds": round(seconds, 2),
                         "texts_per_s": round(len(texts) / seconds, 2),
                         "cpu_seconds": round(cpu_seconds, 2),
                         "texts_per_cpu_s": round(len(texts) / cpu_seconds, 2),
                         "load_avg_1min_before": round(load_before, 2),
                         "load_avg_1min_after": round(os.getloadavg()[0], 2)})
            print(rows[-1], flush=True)
        del model
    write_json(args.output, {
        "benchmark": "embed_throughput", "device": device, "dtype": dtype,
        "machine": (torch.cuda.get_device_name() if device.startswith("cuda") else
                    f"CPU {platform.machine()}, {os.cpu_count()} cores, "
                    f"torch threads {torch.get_num_threads()}"),
        "batch_size": args.batch_size, "results": rows})


if __name__ == "__main__":
    main()
