"""The ``balancedbio`` command line: argument parsing only; each verb calls one recipe.

Each verb lives in its own module under ``balancedbio.cli`` exposing ``register(subparsers)``, which
adds a sub-parser whose ``func(args) -> int`` runs the verb. Heavy imports happen inside ``func`` so
``balancedbio --help`` stays fast. A :class:`~balancedbio.errors.BalancedBioError` is printed as one
line and turned into a non-zero exit code; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from balancedbio import __version__
from balancedbio.errors import BalancedBioError

# verb module names, in the order they appear in --help
VERB_MODULES = ["models", "chat", "kg", "synth", "train", "eval", "ifeval", "embed", "embed_bench", "run", "export"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="balancedbio",
        description="Post-train biomedical language models: knowledge graph -> synthetic data -> "
                    "BFT -> capability-aware GRPO -> evaluation -> embeddings.")
    parser.add_argument("--version", action="version", version=f"balancedbio {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for name in VERB_MODULES:
        importlib.import_module(f"balancedbio.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # KEY=VALUE overrides may come anywhere after the verb's positional arguments (argparse only
        # collects them before the first option); anything else stays an error.
        bad = [a for a in extra if a.startswith("-") or "=" not in a]
        if bad or not hasattr(args, "overrides"):
            parser.error(f"unrecognized arguments: {' '.join(bad or extra)}")
        args.overrides = list(args.overrides or []) + extra
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.verb == "chat":  # interactive: waiting for the user is not a silence
            return int(args.func(args) or 0)
        from balancedbio.progress import heartbeat

        with heartbeat(args.verb):
            code = int(args.func(args) or 0)
        if code == 0:
            from balancedbio.process_group import close_process_group

            close_process_group()   # under torchrun: every rank done, the group closed before the interpreter exits
        return code
    except BalancedBioError as exc:
        print(f"balancedbio {args.verb}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"balancedbio {args.verb}: interrupted; finished outputs are kept and no half-written file "
              "took their place; rerun to continue (--resume for synth and train)", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
