"""``balancedbio kg``: build, query and verify the medical knowledge graph.

    balancedbio kg build                              # every installed source (--sources hpo,mondo,...)
    balancedbio kg build --toy --dest runs/toy-kg     # the small packaged toy graph
    balancedbio kg verify OMIM:219700 has_phenotype HP:0002110   # exit 0 supported, 1 not, 2 bad input
    balancedbio kg link "cystic fibrosis"             # JSON list of matching entities
    balancedbio kg stats                              # JSON counts, sources and versions
    balancedbio kg check "Cystic fibrosis is caused by variants in CFTR."   # JSON fact report

Sources: hpo, mondo, doid, go, mesh, hgnc, icd10cm, drugs, uberon, ansm (the default), drug2cell (opt-in:
non-commercial licence, built only when named), and imports appended to the list: primekg:PATH (PrimeKG's
kg.csv; plain primekg reads the release fetched with --allow-download) and kgx:DIR (a KGX *_nodes.tsv /
*_edges.tsv pair). kg build prints each source's licence on stderr and stores them in the graph's meta.

SUBJECT/OBJECT are CURIEs (OMIM:219700, HP:0002110, HGNC:1884, ICD10CM:E84) or names ("cystic fibrosis").
Relations: has_phenotype, has_inheritance, associated_with_gene, has_icd10cm, is_a, part_of, xref,
targets, has_role, in_class, interacts_with, gene_in_pathway, located_in, indicated_for,
contraindicated_for, off_label_for, has_side_effect, their inverses (phenotype_of, targeted_by, ...) and
any relation an imported graph stored under its own name.
verify exits 0 when the graph supports the triple, 1 when it does not (an entity that is not in the
graph included: the answer is still a JSON verdict), 2 on bad input (unknown relation, an empty
argument, no graph) with one line on stderr and no JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kg", help="build, query and verify the medical knowledge graph", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    kg = p.add_subparsers(dest="kg_command", metavar="COMMAND")
    kg.required = True
    b = kg.add_parser("build", help="build the graph from the installed sources (once, ~1 min)")
    b.add_argument("--sources", default=None,
                   help="comma-separated sources (default: every source except the opt-in drug2cell; 'default,drug2cell' adds it)")
    b.add_argument("--force", action="store_true", help="rebuild even if a graph exists")
    b.add_argument("--dest", default=None, help="graph directory (default: $BALANCEDBIO_HOME/kg)")
    b.add_argument("--toy", action="store_true", help="write the small packaged toy graph instead")
    b.add_argument("--dry-run", action="store_true", help="check the sources and destination, build nothing")
    b.add_argument("--allow-download", action="store_true",
                   help="fetch PrimeKG's release for --sources ...,primekg (offline by default)")
    b.set_defaults(func=_build)
    for name, fn, helptext in (("verify", _verify, "does the graph support SUBJECT RELATION OBJECT?"),
                               ("link", _link, "entities whose name or synonym is NAME"),
                               ("stats", _stats, "counts, sources and versions"),
                               ("check", _check, "fact-check a free-text passage")):
        q = kg.add_parser(name, help=helptext)
        if name == "verify":
            q.add_argument("subject")
            q.add_argument("relation")
            q.add_argument("object")
        elif name == "link":
            q.add_argument("name")
        elif name == "check":
            q.add_argument("text", help="the passage, or - to read stdin")
        q.add_argument("--graph", default=None, help="graph directory (default: the built graph)")
        q.set_defaults(func=fn)


def _print(obj) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def _open(args):
    from balancedbio.knowledge.graph import KnowledgeGraph

    return KnowledgeGraph.open(args.graph)


def _build(args: argparse.Namespace) -> int:
    from balancedbio.knowledge.build import build_graph, parse_sources
    from balancedbio.knowledge.graph import GRAPH_FILE, KnowledgeGraph, default_graph_dir
    from balancedbio.knowledge.toy import build_toy_graph

    t = time.perf_counter()
    from balancedbio.inputs import check_output_dir

    check_output_dir(args.dest or default_graph_dir(), flag="--dest" if args.dest else "the graph cache")
    if args.dry_run:
        from pathlib import Path

        from balancedbio.dryrun import DryRun

        names = None if args.toy else parse_sources(args.sources)
        dest = Path(args.dest) if args.dest else default_graph_dir()
        _check_import_paths(names or [], args.allow_download)
        plan = DryRun("kg build")
        plan.output_dir(dest)
        exists = (dest / GRAPH_FILE).exists()
        return plan.done("the toy graph" if args.toy else
                         f"{dest / GRAPH_FILE} exists: would skip (--force rebuilds)" if exists and not args.force
                         else f"would build from {', '.join(names) if names else 'every installed source'}")
    if args.toy:
        path = build_toy_graph(args.dest or default_graph_dir())
    else:
        names = parse_sources(args.sources)
        from pathlib import Path

        dest = Path(args.dest) if args.dest else default_graph_dir()
        if (dest / GRAPH_FILE).exists() and not args.force:
            from balancedbio.errors import DataError
            from balancedbio.knowledge.build import built_source_set

            built = built_source_set(dest / GRAPH_FILE)
            if built is not None and sorted(built) != sorted(names):
                raise DataError(f"{dest / GRAPH_FILE}: a graph built from {', '.join(built)} is there; --force "
                                f"rebuilds it from {', '.join(names)} (or --dest DIR builds it elsewhere)")
            print(f"balancedbio kg build: {dest / GRAPH_FILE} exists; use --force to rebuild", file=sys.stderr)
            _print(KnowledgeGraph.open(dest).stats())
            return 0
        path = build_graph(dest, sources=names, force=True, allow_download=args.allow_download)
    stats = KnowledgeGraph.open(path).stats()
    stats["wall_seconds"] = round(time.perf_counter() - t, 2)
    for name, licence in stats["licences"].items():
        print(f"balancedbio kg build: {name}: {licence}", file=sys.stderr)
    _print(stats)
    return 0


def _check_import_paths(names: list[str], allow_download: bool) -> None:
    """The files an import names exist (a dry run reads no rows)."""
    from pathlib import Path

    from balancedbio.errors import DataError
    from balancedbio.knowledge.fetch import cached_primekg

    for spec in names:
        kind, _, arg = spec.partition(":")
        if kind in ("primekg", "kgx") and arg and not Path(arg).expanduser().exists():
            raise DataError(f"{arg}: {kind} import not found")
        if kind == "primekg" and not arg and cached_primekg() is None and not allow_download:
            raise DataError("PrimeKG is not in the cache: name the file (primekg:PATH) or pass --allow-download")


def _verify(args: argparse.Namespace) -> int:
    from balancedbio.errors import ConfigError

    for what in ("subject", "relation", "object"):
        if not getattr(args, what).strip():
            raise ConfigError(f"kg verify: {what.upper()} is empty")
    verdict = _open(args).verify(args.subject, args.relation, args.object)
    _print({"subject": args.subject, "relation": args.relation, "object": args.object, **verdict.to_dict()})
    return 0 if verdict.supported else 1


def _link(args: argparse.Namespace) -> int:
    hits = _open(args).link(args.name)
    _print([e.to_dict() for e in hits])
    return 0 if hits else 1


def _stats(args: argparse.Namespace) -> int:
    _print(_open(args).stats())
    return 0


def _check(args: argparse.Namespace) -> int:
    from balancedbio.scoring.facts import check_claims

    text = sys.stdin.read() if args.text == "-" else args.text
    _print(check_claims(text, _open(args)).to_dict())
    return 0
