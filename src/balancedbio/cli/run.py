"""``balancedbio run``: the whole pipeline from one recipe, resumable.

1 process:   balancedbio run configs/quickstart.yaml --output runs/mine seed=1
N processes: torchrun --nproc_per_node 2 -m balancedbio run configs/quickstart.yaml --output runs/mine
Check first: balancedbio run configs/quickstart.yaml --output runs/mine seed=1 --dry-run

Rerunning skips finished stages and resumes an interrupted one from its checkpoints. A stage whose
settings or inputs changed (accepted with --force) starts from nothing, and so do the stages --from
names; --resume keeps their checkpoints instead. KEY=VALUE overrides may come anywhere after the recipe.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the whole pipeline from a recipe (resumable)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe", metavar="RECIPE.yaml", help="pipeline recipe, e.g. configs/quickstart.yaml")
    p.add_argument("--output", "-o", default=None, help="run directory (default: <output_root>/<name>)")
    p.add_argument("--from", dest="from_stage", default=None, metavar="STAGE",
                   help="rerun STAGE and the stages after it from scratch (kg, synth, bft, grpo, eval, embed, report)")
    p.add_argument("--force", action="store_true",
                   help="reuse a run directory whose config differs (changed stages rerun from scratch)")
    p.add_argument("--resume", action="store_true",
                   help="a stage whose settings changed continues from its checkpoints instead of starting over")
    p.add_argument("--dry-run", action="store_true",
                   help="validate the recipe, inputs and output directory, print the plan, run nothing")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override recipe values, e.g. seed=1")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from balancedbio.pipeline import load_pipeline_config, run_pipeline

    overrides = list(args.overrides)
    if args.output:
        out = Path(args.output)
        overrides += [f"output_root={out.parent}", f"name={out.name}"]
    cfg, lines = load_pipeline_config(args.recipe, overrides)
    from balancedbio.inputs import check_output_dir

    check_output_dir(cfg.run_dir)  # a file in the way or an unwritable place fails before any stage
    source = args.recipe + (" + command-line overrides" if args.overrides else "")
    manifests = run_pipeline(cfg, lines=lines, source=source, force=args.force, from_stage=args.from_stage,
                             resume=args.resume, dry_run=args.dry_run, echo=lambda msg: print(msg, flush=True))
    if args.dry_run:
        return 0
    report = cfg.run_dir / "report.md"
    if "report" in manifests and report.is_file():
        print(f"report: {report}")
    return 0
