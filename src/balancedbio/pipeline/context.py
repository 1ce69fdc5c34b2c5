"""The types the pipeline's modules share: what a stage sees (:class:`RunContext`), what it is
(:class:`StageSpec`) and what it returns (:class:`StageResult`).

They live here, below ``runner.py``, ``stages.py`` and ``summary.py``, so those three import this module
and never each other: the runner is handed the stage table, the stages never import the runner.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from balancedbio.pipeline.config import PipelineConfig


@dataclass
class RunContext:
    """What a stage sees: the pipeline config, the run directory and the finished upstream manifests."""

    cfg: PipelineConfig
    run_dir: Path
    lines: dict[str, Any] = field(default_factory=dict)
    source: str = "<config>"
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    is_main: bool = True

    def stage_dir(self, stage: str) -> Path:
        return self.run_dir / "stages" / stage

    def output(self, stage: str, key: str) -> str | None:
        """A path recorded in a finished upstream stage's manifest (absolute)."""
        manifest = self.manifests.get(stage)
        if manifest is None:
            return None
        value = manifest.get("outputs", {}).get(key)
        return str(self.run_dir / value) if value and not os.path.isabs(value) else value


@dataclass
class StageResult:
    """A finished stage's outputs (name -> path) and the summary numbers shown in its stage line."""

    outputs: dict[str, str]
    summary: dict[str, Any]


@dataclass(frozen=True)
class StageSpec:
    """One stage: its name, the stages it reads from, how its settings resolve and how it runs."""

    name: str
    needs: tuple[str, ...]
    resolve: Callable[[RunContext], tuple[Any, dict[str, Any]]]
    run: Callable[[RunContext, Any], StageResult]
    all_ranks: bool = False  # training stages run on every process; the rest on the main one
    describe: Callable[[RunContext, Any], str] | None = None  # one line for --dry-run and the stage line
