"""The pipeline recipe: which stages run, on which base model, and each stage's own settings.

Each stage section (``synth``, ``bft``, ``grpo``, ``eval``, ``embed``) is a mapping in the YAML file
holding that stage's own config (the same keys as the stage's config file). The pipeline fills in the
wiring keys itself (model paths, data paths, output directories, seed), and validates every section
against the stage's dataclass before anything runs, so a typo in the last stage fails in the first second.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from balancedbio.config import from_dict, mark_overrides, merge_dicts, option, parse_overrides, read_yaml
from balancedbio.errors import ConfigError

STAGES = ("kg", "synth", "bft", "grpo", "eval", "embed", "report")


@dataclass(frozen=True)
class PipelineConfig:
    """A whole run, from knowledge graph to report."""

    name: str = option("quickstart", "Run name; the run directory is <output_root>/<name>.")
    output_root: str = option("runs", "Directory that holds run directories.")
    seed: int = option(0, "One seed for every stage (Python, NumPy, torch, data order, sampling).", min=0)
    model: str = option("default", "Base model: packaged name, HF directory, .gguf file or cached hub id.")
    stages: list[str] = option(list(STAGES), "Stages to run, in pipeline order.", choices=STAGES)
    kg: dict[str, Any] = option({}, "Knowledge-graph stage: sources (default: every source but the opt-in drug2cell; [default, drug2cell] adds it), "
                                "path (an existing graph) or toy: true.")
    synth: dict[str, Any] = option({}, "Synthetic-data stage settings (keys of configs/synth.yaml).")
    bft: dict[str, Any] = option({}, "Supervised stage settings (keys of configs/bft.yaml).")
    grpo: dict[str, Any] = option({}, "GRPO stage settings (keys of configs/grpo.yaml).")
    eval: dict[str, Any] = option({}, "Evaluation stage settings (keys of configs/eval.yaml).")
    embed: dict[str, Any] = option({}, "Embedding-benchmark stage settings (keys of configs/embed.yaml).")

    def __post_init__(self) -> None:
        order = [s for s in STAGES if s in self.stages]
        if list(self.stages) != order:
            raise ValueError(f"stages must be in pipeline order {', '.join(STAGES)}; got {', '.join(self.stages)}")
        if len(set(self.stages)) != len(self.stages):
            raise ValueError("stages lists a stage twice")
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ValueError(f"name must be a plain directory name, got {self.name!r}")

    @property
    def run_dir(self) -> Path:
        return Path(self.output_root) / self.name


def load_pipeline_config(path: str | Path, overrides: list[str] = ()) -> tuple[PipelineConfig, dict[str, Any]]:
    """Read a pipeline recipe plus overrides; return the config and the YAML line index."""
    data, lines = read_yaml(path)
    over = parse_overrides(overrides)
    if over:
        data = merge_dicts(data, over)
        lines = mark_overrides(lines, overrides)
    source = str(path) + (" + command-line overrides" if over else "")
    cfg = from_dict(PipelineConfig, data, source=source, lines=lines)
    return cfg, lines


__all__ = ["STAGES", "PipelineConfig", "load_pipeline_config", "ConfigError"]
