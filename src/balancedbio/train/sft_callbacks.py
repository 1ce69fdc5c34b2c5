"""Trainer callbacks for the supervised recipe: per-sample diagnostics (confidence and weight histograms
for TensorBoard and a JSONL log) and a guard that refuses to keep training, or save, non-finite weights."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from balancedbio.errors import BalancedBioError
from balancedbio.train.recipe import check_finite_weights as check_finite

log = logging.getLogger(__name__)


class SampleStatsBuffer:
    """Per-sample confidences and weights seen since the last log; filled by the trainer, drained here."""

    def __init__(self) -> None:
        self.confidences: list[torch.Tensor] = []
        self.weights: list[torch.Tensor] = []

    def add(self, confidences: torch.Tensor, weights: torch.Tensor) -> None:
        self.confidences.append(confidences.detach().float().cpu())
        self.weights.append(weights.detach().float().cpu())

    def drain(self) -> tuple[torch.Tensor, torch.Tensor]:
        conf = torch.cat(self.confidences) if self.confidences else torch.zeros(0)
        weights = torch.cat(self.weights) if self.weights else torch.zeros(0)
        self.confidences.clear()
        self.weights.clear()
        return conf, weights


def histogram(values: torch.Tensor, bins: int = 10) -> list[int]:
    """Counts of ``values`` in ``bins`` equal bins over [0, 1]."""
    if values.numel() == 0:
        return [0] * bins
    return torch.histc(values.clamp(0, 1), bins=bins, min=0.0, max=1.0).long().tolist()


class SampleDiagnosticsCallback(TrainerCallback):
    """On each log: histograms of sample confidences and weights to TensorBoard (``<output>/runs/samples``)
    and one JSON line per log to ``<output>/sft_log.jsonl`` (world process zero only)."""

    def __init__(self, buffer: SampleStatsBuffer, output_dir: str | Path, *, tensorboard: bool = True) -> None:
        self.buffer = buffer
        self.path = Path(output_dir) / "sft_log.jsonl"
        self.tensorboard = tensorboard
        self._writer: Any = None

    def _tb(self) -> Any:
        if self._writer is None and self.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                self.tensorboard = False
                return None
            self._writer = SummaryWriter(log_dir=str(self.path.parent / "runs" / "samples"))
        return self._writer

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        """Keep only the log lines of the steps the run starts after (all of them when resuming at step N:
        the lines up to N; none on a fresh start), so a resumed run's log equals an uninterrupted one's."""
        if not state.is_world_process_zero or not self.path.is_file():
            return
        from balancedbio.atomic import write_text

        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line)["step"] <= state.global_step:
                    kept.append(line + "\n")
            except (json.JSONDecodeError, KeyError, TypeError):
                continue                                     # a torn last line from a kill
        write_text(self.path, "".join(kept))

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kw: Any) -> None:
        conf, weights = self.buffer.drain()
        if not state.is_world_process_zero or logs is None or "loss" not in logs:
            return
        record = {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, (int, float))},
                  "confidence_hist": histogram(conf), "weight_hist": histogram(weights), "samples": int(conf.numel())}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:  # append-only log; a torn last line is tolerable
            fh.write(json.dumps(record) + "\n")
        writer = self._tb()
        if writer is not None and conf.numel():
            writer.add_histogram("samples/confidence", conf, state.global_step)
            writer.add_histogram("samples/weight", weights, state.global_step)
            writer.flush()

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class FiniteWeightsCallback(TrainerCallback):
    """Stop with a clear error before a checkpoint could be written with non-finite weights.

    ``on_step_end`` runs after the optimizer step and before the Trainer's save, so a NaN/inf weight is
    never written into ``checkpoint-*``.
    """

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        bad = check_finite(model) if model is not None else None
        if bad is not None:
            raise BalancedBioError(f"step {state.global_step}: parameter '{bad}' became NaN/inf; stopped before "
                                   "saving (lower train.lr or check the data); the last good checkpoint is kept")


class StopAtStepCallback(TrainerCallback):
    """Stop training after ``step`` optimizer steps, as if the run had been killed there (for tests and
    for splitting a run into shorter jobs); the checkpoint for that step is still written."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.global_step >= self.step:
            control.should_training_stop = True
            control.should_save = True
