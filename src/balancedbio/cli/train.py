"""``balancedbio train``: supervised post-training (nll / dft / bft) or capability-aware GRPO.

1 process:   balancedbio train --method bft --config configs/bft.yaml --data runs/synth/train.jsonl train.max_steps=50
N processes: torchrun --nproc_per_node 2 -m balancedbio train --method bft --config configs/bft.yaml --data runs/synth/train.jsonl
             accelerate launch --config_file configs/accelerate/fsdp.yaml -m balancedbio train --method bft --config configs/bft.yaml --data runs/synth/train.jsonl
GRPO:        balancedbio train --method grpo --config configs/grpo.yaml --data runs/synth/train.jsonl steps=20
Check first: balancedbio train --method bft --config configs/bft.yaml --data runs/synth/train.jsonl --dry-run

A non-empty --output is refused unless --resume (continue its checkpoints) or --force (start over).
"""

from __future__ import annotations

import argparse

from balancedbio.cli.common import add_config_args, add_dry_run_arg

METHODS = ("nll", "dft", "bft", "grpo")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="fine-tune a model (nll, dft, bft) or run capability-aware GRPO",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", choices=METHODS, default=None,
                   help="training objective (default: the config's, else bft)")
    p.add_argument("--model", default=None, help="override model.name_or_path")
    p.add_argument("--data", default=None, help="override the training data (JSONL file or directory)")
    p.add_argument("--output", "-o", default=None, help="override the output directory")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --output")
    p.add_argument("--force", action="store_true",
                   help="train from scratch into a non-empty --output (its old checkpoints are removed)")
    p.add_argument("--allow-download", action="store_true",
                   help="allow fetching a hub model or dataset id (offline by default)")
    add_dry_run_arg(p)
    add_config_args(p, example="train.lr=1e-4 model.use_lora=true (nll, dft, bft) or lr=1e-6 steps=20 (grpo)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from balancedbio.inputs import check_output_dir, looks_like_local_path
    from balancedbio.jsonl import check_jsonl

    if args.output:
        check_output_dir(args.output)
    if args.data and (Path(args.data).is_file() or (looks_like_local_path(args.data) and not Path(args.data).is_dir())):
        check_jsonl(args.data)  # missing, binary or malformed data fails here, before the model loads
    if args.allow_download:
        from balancedbio.offline import enable_downloads

        enable_downloads()
        args.overrides = [*args.overrides, "model.allow_download=true"]
    if args.method == "grpo":
        from balancedbio.train import grpo

        return grpo.cli_main(args)
    from balancedbio.train import sft

    return sft.cli_main(args)
