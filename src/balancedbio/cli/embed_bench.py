"""``balancedbio embed-bench``: downstream biology benchmarks of model embeddings (BFT paper, docs/embeddings.md).

    balancedbio embed-bench --models base --output runs/embed-bench
    balancedbio embed-bench --models base,bft=runs/bft/final,dft=runs/dft/final --config configs/embed.yaml
    balancedbio embed-bench --models base n_pairs=2000 n_lr_pairs=1000 process_sets=20     # quick run

``--models``: comma-separated ``label=spec`` entries; a bare entry is its own spec (``base`` means the
default model). Random-vector and MiniLM baselines are added (``baselines=[...]`` to change). Writes
``results.json``, ``report.md`` and ``roc.png`` to ``--output`` only once everything has run.
"""

from __future__ import annotations

import argparse

from balancedbio.cli.common import add_config_args, add_dry_run_arg


def parse_models(text: str) -> dict[str, str]:
    """``"base,bft=runs/bft"`` -> ``{"base": "default", "bft": "runs/bft"}``."""
    from balancedbio.errors import ConfigError

    out: dict[str, str] = {}
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        label, _, spec = item.partition("=")
        label, spec = label.strip(), (spec.strip() or label.strip())
        if not label or not spec:
            raise ConfigError(f"--models: cannot read entry {item!r}; use LABEL=MODEL or MODEL")
        if label in out:
            raise ConfigError(f"--models: label {label!r} given twice")
        out[label] = "default" if spec == "base" else spec
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed-bench", help="benchmark embeddings on gene-interaction, process-naming and "
                       "perturbation tasks", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="base", help="comma-separated LABEL=MODEL or MODEL (default: base)")
    p.add_argument("--output", "-o", default="runs/embed-bench", help="report directory (default: %(default)s)")
    add_dry_run_arg(p)
    add_config_args(p, example="n_pairs=2000 process_sets=20")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from balancedbio.config import load_config
    from balancedbio.embed.bench import EmbedBenchConfig, run_embed_bench
    from balancedbio.inputs import check_output_dir
    from balancedbio.models import resolve_model

    check_output_dir(args.output)
    cfg = load_config(EmbedBenchConfig, args.config, args.overrides)
    models = parse_models(args.models)
    if args.dry_run:
        from balancedbio.dryrun import DryRun

        plan = DryRun("embed-bench")
        for label, spec in models.items():
            plan.model(spec, label=label)
        plan.output_dir(args.output)
        return plan.done(f"tasks {', '.join(cfg.tasks)}")
    for spec in models.values():
        if spec.lower() != "minilm":
            resolve_model(spec)  # fail before any work on a bad model spec
    results = run_embed_bench(cfg, models, args.output)
    print(f"wrote {args.output}/report.md, results.json, roc.png ({results['seconds']} s)")
    return 0
