"""Engine detection and the engines capability-aware GRPO refuses: one line, exit 2, before the model loads,
nothing written to the output directory."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from grpo_rows import contract_rows

from balancedbio.train import engines

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "grpo.yaml")


@pytest.mark.parametrize("env,expected", [
    ({}, "single"),
    ({"WORLD_SIZE": "2"}, "ddp"),
    ({"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2", "WORLD_SIZE": "2"}, "fsdp2"),
    ({"ACCELERATE_USE_FSDP": "true", "WORLD_SIZE": "2"}, "fsdp1"),            # accelerate's default version
    ({"ACCELERATE_USE_FSDP": "True", "FSDP_VERSION": "1"}, "fsdp1"),
    ({"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3"}, "deepspeed-zero3"),
    ({"ACCELERATE_USE_DEEPSPEED": "true"}, "deepspeed-zero2"),
])
def test_engine_from_launch_environment(env, expected):
    assert engines.engine_from_env(env) == expected


@pytest.mark.parametrize("env,needle", [
    ({"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "1"}, "FSDP1 (accelerate fsdp_version: 1) is not supported"),
    ({"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3"},
     "DeepSpeed ZeRO-3 (accelerate distributed_type: DEEPSPEED) is not supported"),
    ({"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "1"}, "DeepSpeed ZeRO-1"),
    ({"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "2"}, "DeepSpeed ZeRO-2"),
    ({"_TRL": "1.17.0"}, "trl 1.17.0 is outside the tested range <1.17,>=1.16"),
])
def test_cli_refuses_unsupported_engine_before_loading(tmp_path, monkeypatch, capsys, env, needle):
    from balancedbio import models
    from balancedbio.cli import main

    for key, value in env.items():
        if key == "_TRL":
            monkeypatch.setattr(engines, "_trl_version", lambda v=value: v)
        else:
            monkeypatch.setenv(key, value)

    def no_load(*a, **kw):  # pragma: no cover - reached only if the check came too late
        raise AssertionError("the model was loaded before the engine check")

    monkeypatch.setattr(models, "load_model", no_load)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in contract_rows()))
    out = tmp_path / "out"
    assert main(["train", "--method", "grpo", "--config", CONFIG, "--data", str(data), "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert "FSDP2" in err[0] or "pip install 'trl" in err[0]   # names what to use instead
    assert not out.exists()



class _Accelerator:
    """The few attributes of accelerate.Accelerator that engine_from_accelerator reads."""

    def __init__(self, kind, processes=2, fsdp2=False, zero=3):
        from types import SimpleNamespace

        from accelerate.utils import DistributedType

        self.distributed_type = DistributedType[kind]
        self.num_processes = processes
        self.is_fsdp2 = fsdp2
        self.state = SimpleNamespace(deepspeed_plugin=SimpleNamespace(zero_stage=zero))


@pytest.mark.parametrize("acc,ga,expected", [
    (_Accelerator("NO", processes=1), 4, "single"),             # accumulation in one process is supported
    (_Accelerator("MULTI_CPU"), 1, "ddp"),
    (_Accelerator("FSDP", fsdp2=True), 1, "fsdp2"),
    (_Accelerator("FSDP"), 1, "FSDP1 (accelerate fsdp_version: 1) is not supported"),
    (_Accelerator("DEEPSPEED", zero=3), 1, "DeepSpeed ZeRO-3"),
    (_Accelerator("MULTI_CPU"), 2, "gradient_accumulation_steps=2 with 2 processes is not supported"),
])
def test_trainer_side_check(acc, ga, expected):
    from types import SimpleNamespace

    args = SimpleNamespace(gradient_accumulation_steps=ga)
    if expected in ("single", "ddp", "fsdp2"):
        assert engines.check_trainer(acc, args) == expected
    else:
        with pytest.raises(engines.EngineError, match=re.escape(expected)):
            engines.check_trainer(acc, args)
