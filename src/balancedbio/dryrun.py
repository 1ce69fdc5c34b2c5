"""``--dry-run``: a verb checks its config, inputs and outputs as it would before the expensive work,
prints what it would do and exits 0, loading no model and writing nothing.

Every verb that trains, generates, evaluates or embeds takes ``--dry-run``; the checks are the ones the
real run makes first (config validation, input files exist and are UTF-8 text, the model resolves to a
packaged name, a local checkpoint directory or a cached hub id, the output place is writable), so a
dry run that passes means the real run gets past its first second. The documentation's examples are run
with it in tests (``tests/test_docs_examples.py``).

Example::

    from balancedbio.dryrun import DryRun
    plan = DryRun("train")
    plan.model("default"); plan.data("data/train.jsonl"); plan.output_dir("runs/x")
    return plan.done("bft, 50 steps")       # prints the plan, returns 0
"""

from __future__ import annotations

import os
from pathlib import Path

from balancedbio.errors import ConfigError


class DryRun:
    """Collects the checks of one verb's dry run and prints its plan."""

    def __init__(self, verb: str):
        self.verb = verb
        self.lines: list[str] = []

    def model(self, spec: str | os.PathLike | None, *, label: str = "model", allow_download: bool = False) -> None:
        """The model resolves without being loaded (a packaged one is not converted)."""
        from balancedbio.models import _ALIASES, PACKAGED_MODELS, resolve_model

        name = str(spec) if spec is not None else "default"
        if name.lower() == "minilm":
            self.lines.append(f"{label}: MiniLM baseline")
            return
        if _ALIASES.get(name, name) in PACKAGED_MODELS:
            self.lines.append(f"{label}: packaged {_ALIASES.get(name, name)}")
            return
        path = Path(name).expanduser()
        if path.suffix == ".gguf":
            if not path.is_file():
                raise ConfigError(f"{label}: {path}: GGUF file not found")
            self.lines.append(f"{label}: {path} (converted on first use)")
            return
        self.lines.append(f"{label}: {resolve_model(name, allow_download=allow_download)}")

    def data(self, path: str | os.PathLike | None, *, label: str = "data", directory_ok: bool = False) -> None:
        """An input file exists and is UTF-8 text (a directory is accepted where the verb takes one)."""
        from balancedbio.inputs import check_text_file

        if path is None:
            return
        p = Path(path).expanduser()
        if directory_ok and p.is_dir():
            self.lines.append(f"{label}: {p}/")
            return
        check_text_file(p)
        self.lines.append(f"{label}: {p}")

    def output_dir(self, path: str | os.PathLike, *, force: bool = False, must_be_new: bool = False) -> None:
        from balancedbio.inputs import check_output_dir

        check_output_dir(path, force=force, must_be_new=must_be_new)
        self.lines.append(f"output: {path}")

    def output_file(self, path: str | os.PathLike, *, force: bool = False) -> None:
        from balancedbio.inputs import check_output_file

        check_output_file(path, force=force)
        self.lines.append(f"output: {path}")

    def note(self, text: str) -> None:
        self.lines.append(text)

    def done(self, what: str = "") -> int:
        """Print the plan; the caller returns this (0)."""
        print(f"dry run: balancedbio {self.verb}" + (f": {what}" if what else ""))
        for line in self.lines:
            print(f"  {line}")
        print("dry run: config, inputs and output checked; nothing loaded, nothing written")
        return 0

