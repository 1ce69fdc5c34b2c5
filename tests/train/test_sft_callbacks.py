"""Diagnostics and safety callbacks of the supervised recipe."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from transformers import TrainerControl

from balancedbio.errors import BalancedBioError
from balancedbio.train.sft_callbacks import (
    FiniteWeightsCallback,
    SampleDiagnosticsCallback,
    SampleStatsBuffer,
    StopAtStepCallback,
    histogram,
)


def test_finite_weights_guard_names_the_parameter():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 1))
    cb = FiniteWeightsCallback()
    state = SimpleNamespace(global_step=7)
    cb.on_step_end(None, state, TrainerControl(), model=model)  # finite: no error
    with torch.no_grad():
        model[1].weight[0, 1] = float("nan")
    with pytest.raises(BalancedBioError, match=r"step 7: parameter '1.weight' became NaN/inf"):
        cb.on_step_end(None, state, TrainerControl(), model=model)
    model[1].weight.requires_grad_(False)  # frozen parameters (LoRA base) are not the run's concern
    cb.on_step_end(None, state, TrainerControl(), model=model)


def test_histogram_and_jsonl_log(tmp_path):
    assert histogram(torch.tensor([0.0, 0.05, 0.5, 1.0]), bins=4) == [2, 0, 1, 1]
    assert histogram(torch.zeros(0), bins=3) == [0, 0, 0]
    buf = SampleStatsBuffer()
    buf.add(torch.tensor([0.1, 0.9]), torch.tensor([0.9, 0.1]))
    cb = SampleDiagnosticsCallback(buf, tmp_path, tensorboard=False)
    state = SimpleNamespace(is_world_process_zero=True, global_step=3)
    cb.on_log(None, state, TrainerControl(), logs={"loss": 1.5, "mean_token_prob": 0.2})
    row = json.loads((tmp_path / "sft_log.jsonl").read_text())
    assert row["step"] == 3 and row["samples"] == 2 and sum(row["confidence_hist"]) == 2
    assert row["confidence_hist"][1] == 1 and row["weight_hist"][9] == 1
    assert buf.drain()[0].numel() == 0  # drained


def test_stop_at_step_requests_stop_and_save():
    cb = StopAtStepCallback(2)
    control = TrainerControl()
    cb.on_step_end(None, SimpleNamespace(global_step=1), control)
    assert not control.should_training_stop
    cb.on_step_end(None, SimpleNamespace(global_step=2), control)
    assert control.should_training_stop and control.should_save


def test_log_of_a_resumed_run_keeps_only_the_steps_before_the_checkpoint(tmp_path):
    """Killed after logging steps 1-5 with the last checkpoint at step 3: the resumed run's log holds
    steps 1-3 and then its own, as an uninterrupted run's would; a fresh start drops the old lines."""
    log = tmp_path / "sft_log.jsonl"
    log.write_text("".join(json.dumps({"step": s, "loss": 1.0}) + "\n" for s in range(1, 6)) + '{"step": 6, "lo')
    cb = SampleDiagnosticsCallback(SampleStatsBuffer(), tmp_path, tensorboard=False)
    cb.on_train_begin(None, SimpleNamespace(is_world_process_zero=True, global_step=3), TrainerControl())
    assert [json.loads(x)["step"] for x in log.read_text().splitlines()] == [1, 2, 3]
    cb.on_log(None, SimpleNamespace(is_world_process_zero=True, global_step=4), TrainerControl(), logs={"loss": 0.5})
    assert [json.loads(x)["step"] for x in log.read_text().splitlines()] == [1, 2, 3, 4]
    cb.on_train_begin(None, SimpleNamespace(is_world_process_zero=True, global_step=0), TrainerControl())
    assert log.read_text() == ""
