"""2-process (gloo) capability-aware update == 1-process update on the same global batch, to fp32 tolerance.

The per-capability gradients go through the engine's backward (DDP all-reduce, FSDP2 reduce-scatter), each
rank keeps its local gradient (its shard under FSDP2), and surgery runs on the K x K Gram matrix. Compared
for surgery none / pcgrad / cagrad, full fine-tuning and LoRA. ``pytest -k fsdp`` selects the FSDP2 cases.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("grpo_dist_worker.py")
METHODS = ("none", "pcgrad", "cagrad")


def _run(cmd, tmp_path, timeout=240):
    # own session, so a hung run is killed with all its workers, not only the launcher
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{cmd[2:4]} did not finish within {timeout} s")
    assert proc.returncode == 0, err[-3000:]


_single: dict[str, Path] = {}


def _one_process(tmp_path_factory, model_dir, lora):
    if lora not in _single:
        out = tmp_path_factory.mktemp(f"one-{lora}") / "one.safetensors"
        _run([sys.executable, str(WORKER), str(model_dir), str(out), "single", lora, ",".join(METHODS)], out.parent)
        _single[lora] = out
    return _single[lora]


def _compare(one: Path, two: Path, engine: str) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file

    a, b = load_file(one), load_file(two)
    assert a.keys() == b.keys()
    assert torch.allclose(a["gram"], b["gram"], rtol=1e-4, atol=1e-9)
    for method in METHODS:
        keys = [k for k in a if k.startswith(method + "/")]
        assert keys
        for k in keys:
            assert torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-7), k
    first = next(k for k in a if k.startswith("none/")).split("/", 1)[1]
    assert not torch.allclose(a[f"pcgrad/{first}"], a[f"none/{first}"])  # surgery changed the update
    diag = a["gram"].diagonal().sqrt()
    assert (a["gram"] / (diag[:, None] * diag[None, :]) < 0).any()        # a real conflict was resolved
    with safe_open(str(two), "pt") as fh:
        meta = fh.metadata()
    sizes, numel = json.loads(meta["buffer_numel_per_rank"]), int(meta["trainable_numel"])
    k = a["gram"].shape[0]
    if engine == "fsdp":   # each rank buffers its shard only: K x D / N (+ the padding of uneven shards)
        assert meta["sharded"] == "True"
        assert sum(sizes) == k * numel and max(sizes) <= k * numel // 2 + k * 64
    else:                  # DDP replicates: K x D on every rank
        assert sizes == [k * numel, k * numel]


@pytest.mark.slow
@pytest.mark.distributed
@pytest.mark.parametrize("engine,lora", [("ddp", "full"), ("fsdp", "full"), ("fsdp", "lora")])
def test_two_process_update_equals_one_process(engine, lora, tmp_path, tmp_path_factory, tiny_model_dir):
    one = _one_process(tmp_path_factory, tiny_model_dir, lora)
    two = tmp_path / "two.safetensors"
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
          str(WORKER), str(tiny_model_dir), str(two), engine, lora, ",".join(METHODS)], tmp_path)
    _compare(one, two, engine)
