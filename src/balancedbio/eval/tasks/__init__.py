"""The benchmark registry: one module per benchmark in this package, each registering a :class:`Task`.

Adding a benchmark is one file here (plus its test): the module builds a :class:`Task` and calls
:func:`register`; every module of this package is imported the first time the registry is read, so
nothing else needs editing. The evaluation suite iterates :func:`all_tasks` / :func:`by_capability`.

Example (a whole benchmark module)::

    from balancedbio.eval.tasks import Source, Task, register

    def load(source: Source) -> list[dict]: ...            # read source.path in the benchmark's format
    def prompt(item: dict) -> list[dict]: ...               # chat messages
    def judge(item: dict, completion: str) -> dict: ...     # through balancedbio.scoring
    def metric(judged: list[dict]) -> dict: ...             # includes the headline key

    TASK = register(Task("my_bench", "reasoning", "generate", load, prompt, judge, metric,
                         headline="accuracy", published="accuracy, zero-shot, as in <paper>"))
"""

from __future__ import annotations

import importlib
import pkgutil

from balancedbio.eval.tasks.base import (
    KINDS,
    Source,
    Task,
    all_tasks,
    by_capability,
    get,
    names,
    register,
    unregister,
)

__all__ = ["KINDS", "Source", "Task", "register", "unregister", "get", "names", "by_capability", "all_tasks",
           "discover"]

_DISCOVERED = False


def discover() -> None:
    """Import every benchmark module of this package once (each registers its task on import)."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
