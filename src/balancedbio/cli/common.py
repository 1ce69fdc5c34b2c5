"""Argument helpers shared by every verb, so all verbs parse the same way."""

from __future__ import annotations

import argparse

from balancedbio.errors import NotBuiltError


def add_config_args(parser: argparse.ArgumentParser, *, example: str, default_config: str | None = None) -> None:
    """``--config FILE`` plus ``KEY=VALUE`` overrides (dotted keys, YAML values) anywhere after the verb;
    ``example`` shows overrides of this verb's own config (tests check they are valid keys)."""
    parser.add_argument("--config", "-c", default=default_config, metavar="FILE",
                        help="YAML recipe" + (f" (default: {default_config})" if default_config else ""))
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help=f"override config values, e.g. {example}")


def add_dry_run_arg(parser: argparse.ArgumentParser) -> None:
    """``--dry-run`` (see :mod:`balancedbio.dryrun`)."""
    parser.add_argument("--dry-run", action="store_true",
                        help="check the config, inputs and output, print the plan, run nothing")


def add_model_arg(parser: argparse.ArgumentParser, *, flag: str = "--model",
                  help_text: str = "packaged model name, HF directory, .gguf file or hub id "
                                   "(default: the packaged SmolLM2-135M-Instruct)") -> None:
    parser.add_argument(flag, default=None, metavar="MODEL", help=help_text)
    parser.add_argument("--allow-download", action="store_true",
                        help="allow fetching a hub id from the network (offline by default)")


def not_built(verb: str, issue: str) -> None:
    raise NotBuiltError(f"'{verb}' is not built yet ({issue}); nothing was done")


def register_stub(sub: argparse._SubParsersAction, verb: str, help_text: str, issue: str) -> argparse.ArgumentParser:
    """A verb that is planned but not implemented: it says so and exits non-zero."""
    p = sub.add_parser(verb, help=f"{help_text} [not built yet]", description=f"{help_text} (not built yet)")
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=lambda args: not_built(verb, issue))
    return p
