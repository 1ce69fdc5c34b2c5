"""What a benchmark entry is, and the registry that holds them.

A :class:`Task` bundles everything the evaluation suite needs to run one benchmark: where its items come
from (``load``), how an item becomes model input (``prompt``), how one output is judged (``judge``, which
goes through :mod:`balancedbio.scoring`), how judged items become numbers (``metric``), which capability it
measures and the published setting its headline number can be put beside.

Two kinds of task:

* ``generate``       ``prompt(item)`` returns chat messages; the suite generates a completion and calls
                     ``judge(item, completion)``.
* ``loglikelihood``  ``prompt(item)`` returns the context text (or whatever the task's scorer takes); the
                     suite scores the continuations and calls ``judge(item, scores)``.

``judge`` returns one JSON-ready dict per item (it is written to the per-item predictions file);
``metric(judged_items)`` returns a dict of numbers that includes ``headline``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from balancedbio.errors import DataError
from balancedbio.rows import CAPABILITIES

__all__ = ["KINDS", "Source", "Task", "register", "unregister", "get", "names", "by_capability", "all_tasks"]

KINDS = ("generate", "loglikelihood")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Source:
    """Where a task reads its items.

    ``path``: a local file or directory in the benchmark's own format (empty: the task's default, if it
    has one). ``allow_download``: a hub id may be fetched (off by default: evaluation is offline).
    ``limit``: the first N items only (0 = all). ``strict``: stop at the first malformed item instead of
    skipping and counting it. ``train``: the task's training split (a local file in the benchmark's
    released format, or ``hub``), the pool of tasks whose few-shot examples are sampled from it.
    """

    path: str = ""
    allow_download: bool = False
    limit: int = 0
    strict: bool = False
    train: str = ""


@dataclass(frozen=True)
class Task:
    """One benchmark: loader, prompt, judge, metric, capability and the comparable published setting."""

    name: str
    capability: str
    kind: str
    load: Callable[[Source], Sequence[Any]]
    prompt: Callable[[Any], Any]
    judge: Callable[[Any, Any], dict[str, Any]]
    metric: Callable[[Sequence[dict[str, Any]]], dict[str, Any]]
    headline: str
    published: str
    description: str = ""
    ours: bool = False  # True for our own synthetic splits (labelled as ours in reports)
    # loglikelihood tasks with few-shot settings: solved examples per subject, read from the same source
    fewshot: Callable[[Source], Mapping[str, Sequence[Any]]] | None = None
    # how shots are chosen: "first_n" (the first k of the subject, MMLU) or "random" (lm-eval's default
    # ContextSampler over the whole pool, advanced once per question: balancedbio.eval.fewshot)
    fewshot_sampler: str = "first_n"

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"task name {self.name!r}: lower-case letters, digits and '_' only")
        if self.capability not in CAPABILITIES:
            raise ValueError(f"task {self.name!r}: capability {self.capability!r} is not one of {CAPABILITIES}")
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        if self.fewshot_sampler not in ("first_n", "random"):
            raise ValueError(f"task {self.name!r}: fewshot_sampler must be 'first_n' or 'random'")
        for fn in ("load", "prompt", "judge", "metric"):
            if not callable(getattr(self, fn)):
                raise ValueError(f"task {self.name!r}: {fn} must be callable")


_REGISTRY: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add ``task`` to the registry (its name must be new); returns it, so a module can write ``TASK = register(Task(...))``."""
    if task.name in _REGISTRY and _REGISTRY[task.name] is not task:
        raise ValueError(f"task {task.name!r} is already registered")
    _REGISTRY[task.name] = task
    return task


def unregister(name: str) -> None:
    """Remove a task (tests that register throw-away tasks use it)."""
    _REGISTRY.pop(name, None)


def _registry() -> dict[str, Task]:
    from balancedbio.eval.tasks import discover

    discover()
    return _REGISTRY


def get(name: str) -> Task:
    """The task called ``name``; an unknown name is a :class:`DataError` listing the known ones."""
    reg = _registry()
    if name not in reg:
        raise DataError(f"unknown benchmark {name!r}; known: {', '.join(sorted(reg)) or '(none)'}")
    return reg[name]


def names() -> list[str]:
    """Every registered task name, sorted."""
    return sorted(_registry())


def all_tasks() -> list[Task]:
    """Every registered task, sorted by capability (in :data:`CAPABILITIES` order), then name."""
    return sorted(_registry().values(), key=lambda t: (CAPABILITIES.index(t.capability), t.name))


def by_capability(capability: str) -> list[Task]:
    """The tasks that measure ``capability``, sorted by name."""
    if capability not in CAPABILITIES:
        raise DataError(f"unknown capability {capability!r}; known: {', '.join(CAPABILITIES)}")
    return [t for t in all_tasks() if t.capability == capability]
