"""``balancedbio export``: merge a LoRA adapter into a standalone Hugging Face checkpoint."""

from __future__ import annotations

import argparse

from balancedbio.cli.common import add_dry_run_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="merge a LoRA adapter into a standalone checkpoint",
                       description="Load MODEL (a PEFT adapter directory, or a full checkpoint), merge "
                                   "any adapter into the weights and write a standalone safetensors "
                                   "checkpoint with its tokenizer to --output.")
    p.add_argument("--model", required=True, help="adapter or checkpoint directory, e.g. runs/<name>/final")
    p.add_argument("--output", "-o", required=True, help="destination directory (must not exist)")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    p.add_argument("--force", action="store_true", help="replace an existing --output")
    add_dry_run_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from balancedbio.export import export_merged
    from balancedbio.inputs import check_output_dir

    check_output_dir(args.output, force=args.force, must_be_new=True)  # before loading the model
    if args.dry_run:
        from balancedbio.dryrun import DryRun

        plan = DryRun("export")
        plan.model(args.model)
        plan.note(f"output: {args.output}")
        return plan.done(f"merge into a {args.dtype} checkpoint")
    path = export_merged(args.model, args.output, dtype=args.dtype, overwrite=args.force)
    print(path)
    return 0
