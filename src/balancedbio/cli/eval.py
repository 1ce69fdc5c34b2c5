"""``balancedbio eval``: score a model on the four capabilities and safety, against an optional baseline.

    balancedbio eval --model runs/bft/final --baseline default --suite configs/eval.yaml --output runs/eval
    balancedbio eval --model default --suite configs/eval.yaml mcq.shots=[0] tasks=[expertise] --dry-run

Writes DIR/report.json, DIR/report.md, PNG plots and, per benchmark, the per-item predictions
DIR/predictions.<model>.<benchmark>.jsonl (finished benchmarks are kept in DIR/parts/ and reused if the
run is repeated after a crash). --benchmark runs a registered benchmark (pubmedqa, medqa, medmcqa,
medqa_cot, medmcqa_cot, ...) on a file in its released format, or on lm-eval's hub id with
``NAME=hub --allow-download``. Overrides use the keys of configs/eval.yaml, e.g.
``mcq.shots=[0] tasks=[expertise] mcq.limit=20 limit=50``.
"""

from __future__ import annotations

import argparse

from balancedbio.cli.common import add_dry_run_arg, add_model_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a model on the four capabilities and safety",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arg(p)
    p.add_argument("--baseline", default=None, metavar="MODEL", help="a second model to compare against")
    p.add_argument("--suite", "--config", "-c", dest="suite", default=None, metavar="FILE",
                   help="suite YAML (for example configs/eval.yaml); defaults apply without it")
    p.add_argument("--output", "-o", default="runs/eval", help="output directory (default: runs/eval)")
    p.add_argument("--strict", action="store_true", help="stop at the first malformed data row")
    p.add_argument("--synth-test", default=None, metavar="PATH", help="synthetic test split (test.jsonl or dir)")
    p.add_argument("--graph", default=None, metavar="DIR", help="knowledge graph for safety (default: built graph)")
    for kind, fmt in (("pubmedqa", "ori_pqal.json"), ("medmcqa", "JSONL"), ("medqa", "JSONL")):
        p.add_argument(f"--{kind}", default=None, metavar="FILE", help=f"also score {kind} ({fmt})")
    add_dry_run_arg(p)
    p.add_argument("--benchmark", action="append", default=[], metavar="NAME=SOURCE",
                   help="also run a registered benchmark on a file in its own format (or 'hub'); repeatable")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override suite values, e.g. mcq.shots=[0]")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from balancedbio.config import load_config
    from balancedbio.errors import DataError
    from balancedbio.eval.suite import EvalSuiteConfig, run_suite
    from balancedbio.inputs import check_output_dir, check_text_file
    from balancedbio.report import fmt

    check_output_dir(args.output)
    if args.synth_test:
        test = Path(args.synth_test)
        check_text_file(test / "test.jsonl" if test.is_dir() else test)
    overrides = list(args.overrides)
    if args.strict:
        overrides.append("strict=true")
    if args.graph:
        overrides.append(f"graph={args.graph}")
    for kind in ("pubmedqa", "medmcqa", "medqa"):
        if getattr(args, kind):
            overrides.append(f"benchmarks.{kind}={getattr(args, kind)}")
    for spec in args.benchmark:
        name, sep, source = spec.partition("=")
        if not sep or not name.strip():
            raise DataError(f"--benchmark {spec!r}: expected NAME=FILE or NAME=hub")
        overrides.append(f"benchmarks.{name.strip()}={source.strip()}")
    if args.allow_download:
        overrides.append("allow_download=true")
    cfg = load_config(EvalSuiteConfig, args.suite, overrides)
    model = args.model or "default"
    if args.dry_run:
        from balancedbio.dryrun import DryRun

        plan = DryRun("eval")
        plan.model(model, allow_download=args.allow_download)
        if args.baseline:
            plan.model(args.baseline, label="baseline", allow_download=args.allow_download)
        plan.data(args.synth_test, label="synth test", directory_ok=True)
        from balancedbio.eval import tasks as registry
        from balancedbio.eval.datasets import HUB_IDS, hub_source

        for name, source in cfg.benchmarks.items():
            registry.get(name)  # an unknown name is one line listing the known ones
            is_hub, hub_id = hub_source(source)
            if is_hub:
                kind = name.removesuffix("_cot")
                if not cfg.allow_download:
                    hub_id = hub_id or HUB_IDS.get(kind, ("hub",))[0]
                    raise DataError(f"{hub_id}: reading the hub dataset needs --allow-download (offline by default)")
            else:
                plan.data(source, label=name)
        plan.output_dir(args.output)
        return plan.done(f"tasks {', '.join(cfg.tasks)}" if hasattr(cfg, "tasks") else "")
    report = run_suite(cfg, model, args.output, baseline=args.baseline, synth_test=args.synth_test)
    for cap, h in report["headline"].items():
        line = f"{cap:12s} {fmt((h.get('model') or {}).get('value')):>6s}"
        if args.baseline:
            line += f"  baseline {fmt((h.get('baseline') or {}).get('value')):>6s}"
            line += f"  delta {fmt((h.get('delta') or {}).get('value')):>6s}"
        print(line + f"   ({h['metric']})")
    for cap, entries in report.get("benchmarks", {}).items():
        for e in entries:
            line = f"  {cap:10s} {e['benchmark']:32s} {fmt((e.get('model') or {}).get('value')):>6s}"
            if args.baseline:
                line += f"  baseline {fmt((e.get('baseline') or {}).get('value')):>6s}"
            print(line + f"   (n={(e.get('model') or {}).get('n', '-')}, {e['metric']})")
    for label, res in report["models"].items():
        s = res.get("safety") or {}
        if "skipped" in s:
            print(f"safety ({label}): skipped: {s['skipped']}")
        elif s:
            print(f"safety ({label}): hallucinated entities {fmt(s['hallucinated_entity_rate'])}%, "
                  f"contradictions {fmt(s['contradiction_rate'])}%")
    print(f"report: {args.output}/report.md")
    return 0
