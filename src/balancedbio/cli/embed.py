"""``balancedbio embed``: embed texts with a causal LM's pooled hidden states, or the MiniLM baseline.

    balancedbio embed --input texts.jsonl --output emb.parquet                  # default model, mean pooling
    balancedbio embed --model runs/bft/final --input t.jsonl --output e.parquet --pooling last --layer -2
    balancedbio embed --model minilm --input t.jsonl --output e.parquet         # sentence-embedding baseline

Input rows ``{"id", "text"}``; output columns ``id`` and ``embedding`` (list of floats, L2-normalised).
"""

from __future__ import annotations

import argparse
import time

from balancedbio.cli.common import add_dry_run_arg, add_model_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="text embeddings (pooled hidden states of a causal LM, or MiniLM)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arg(p, help_text="packaged model name, HF dir, LoRA adapter dir, .gguf, or 'minilm' "
                               "(default: the packaged SmolLM2-135M-Instruct)")
    p.add_argument("--input", "-i", required=True, metavar="JSONL", help='rows {"id": ..., "text": ...}')
    p.add_argument("--output", "-o", required=True, metavar="PARQUET", help="columns id, embedding")
    p.add_argument("--pooling", choices=("mean", "last"), default="mean",
                   help="mean over tokens (default) or the last token")
    p.add_argument("--layer", type=int, default=-1,
                   help="hidden-state index: 0 = embeddings, -1 = last layer (default)")
    p.add_argument("--batch-size", type=int, default=16, help="texts per batch (default 16)")
    p.add_argument("--max-length", type=int, default=256, help="truncate texts to this many tokens")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if present)")
    p.add_argument("--force", action="store_true", help="replace an existing --output file")
    add_dry_run_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from balancedbio.embed.embed import (
        MINILM,
        embed_texts,
        read_texts_jsonl,
        write_embeddings_parquet,
    )
    from balancedbio.errors import ConfigError
    from balancedbio.inputs import check_output_file, check_text_file

    if args.batch_size < 1 or args.max_length < 1:
        raise ConfigError("--batch-size and --max-length must be at least 1")
    check_text_file(args.input)
    check_output_file(args.output, force=args.force)  # before any work
    ids, texts = read_texts_jsonl(args.input)
    spec = args.model or "default"
    if args.dry_run:
        from balancedbio.dryrun import DryRun

        plan = DryRun("embed")
        plan.model(spec, allow_download=args.allow_download)
        plan.note(f"input: {args.input} ({len(ids)} texts)")
        plan.output_file(args.output, force=args.force)
        return plan.done(f"{args.pooling} pooling of layer {args.layer}")
    if spec.lower() != MINILM:
        from balancedbio.embed.embed import load_for_embedding

        spec = load_for_embedding(spec, device=args.device, allow_download=args.allow_download)
    start = time.perf_counter()
    vecs = embed_texts(spec, texts, pooling=args.pooling, layer=args.layer, batch_size=args.batch_size,
                       max_length=args.max_length, device=args.device, progress=True)
    seconds = time.perf_counter() - start
    write_embeddings_parquet(args.output, ids, vecs,
                             metadata={"model": args.model or "default", "pooling": args.pooling,
                                       "layer": str(args.layer)})
    print(f"wrote {len(ids)} embeddings of dimension {vecs.shape[1]} to {args.output} "
          f"({len(ids) / max(seconds, 1e-9):.1f} texts/s)")
    return 0
