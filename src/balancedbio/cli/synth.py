"""``balancedbio synth``: generate knowledge-grounded synthetic training data (MKGSG).

    balancedbio synth --num-examples 2000 --output data/synth --seed 0 --config configs/synth.yaml
    balancedbio synth --num-examples 2000 --output data/synth --resume       # after a kill
    balancedbio synth --num-examples 200 --output data/synth-small test_fraction=0.2 --dry-run

Writes DIR/train.jsonl, DIR/test.jsonl and DIR/manifest.json (see docs/data_format.md). Overrides use the
keys of configs/synth.yaml, e.g. ``backend=openai llm.url=http://localhost:8000/v1 test_fraction=0.2``.
"""

from __future__ import annotations

import argparse
import json

from balancedbio.cli.common import add_config_args, add_dry_run_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="generate knowledge-grounded synthetic training data",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-examples", "-n", type=int, default=None, help="rows to write (train + test)")
    p.add_argument("--output", "-o", required=True, help="output directory (must not exist)")
    p.add_argument("--seed", type=int, default=None, help="random seed (same seed, same bytes)")
    p.add_argument("--graph", default=None, help="knowledge graph directory (default: the built graph)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run into --output")
    add_dry_run_arg(p)
    add_config_args(p, example="test_fraction=0.2 mix.expertise=2")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from balancedbio.config import load_config
    from balancedbio.errors import ConfigError
    from balancedbio.inputs import check_output_dir
    from balancedbio.synth.generate import SynthConfig, generate_dataset

    check_output_dir(args.output)
    overrides = list(args.overrides)
    if args.num_examples is not None:
        if args.num_examples < 1:
            raise ConfigError(f"--num-examples must be at least 1, got {args.num_examples}")
        overrides.append(f"num_examples={args.num_examples}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.graph is not None:
        overrides.append(f"graph={args.graph}")
    cfg = load_config(SynthConfig, args.config, overrides)
    if args.dry_run:
        from pathlib import Path

        from balancedbio.dryrun import DryRun
        from balancedbio.errors import OutputError
        from balancedbio.knowledge.graph import KnowledgeGraph
        from balancedbio.synth.generate import _check_config

        _check_config(cfg)
        plan = DryRun("synth")
        plan.note(f"graph: {KnowledgeGraph.open(cfg.graph).path}")
        if Path(args.output).exists() and not args.resume:
            raise OutputError(f"output directory {args.output} already exists; choose another --output or remove it")
        plan.output_dir(args.output)
        return plan.done(f"{cfg.num_examples} rows, backend {cfg.backend}, seed {cfg.seed}")
    manifest = generate_dataset(cfg, args.output, resume=args.resume)
    print(json.dumps({k: manifest[k] for k in ("num_examples", "counts", "drops", "split_audit", "timing")},
                     indent=2))
    return 0
