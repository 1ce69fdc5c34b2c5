"""Two processes (torchrun, gloo, CPU) run 2 BFT steps on the tiny model and end with identical weights."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

WORKER = textwrap.dedent('''
    import hashlib, json, os, sys
    import torch
    from transformers import TrainerCallback
    from balancedbio.config import load_config
    from balancedbio.process_group import close_process_group
    from balancedbio.train.sft import SFTRecipeConfig, train_sft

    model_dir, data, out = sys.argv[1:4]

    class Digest(TrainerCallback):
        def on_train_end(self, args, state, control, model=None, **kw):
            h = hashlib.sha256()
            for name, p in sorted(model.named_parameters()):
                h.update(name.encode()); h.update(p.detach().cpu().float().numpy().tobytes())
            rank = int(os.environ["RANK"])
            with open(os.path.join(out, f"rank{rank}.json"), "w") as fh:
                json.dump({"digest": h.hexdigest(), "world": args.world_size,
                           "step": state.global_step}, fh)

    cfg = load_config(SFTRecipeConfig, None, [
        f"model.name_or_path={model_dir}", "model.dtype=float32", f"data.path={data}", f"output_dir={out}",
        "train.method=bft", "train.max_steps=2", "train.batch_size=2", "train.lr=1e-2", "train.group_size=4",
        "train.report_to=[none]", "train.gradient_checkpointing=false", "train.logging_steps=1"])
    os.makedirs(out, exist_ok=True)
    print(train_sft(cfg, callbacks=[Digest()]))
    close_process_group()
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.distributed
def test_two_ranks_end_with_identical_weights(tiny_model_dir, tmp_path):
    data = tmp_path / "train.jsonl"
    with data.open("w") as fh:
        for i in range(8):
            fh.write(json.dumps({"messages": [{"role": "user", "content": f"Fact number {i}?"},
                                              {"role": "assistant", "content": f"It is fact {i * 13}."}]}) + "\n")
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "PYTHONFAULTHANDLER": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), str(worker), str(tiny_model_dir), str(data), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 and r["step"] == 2 for r in ranks)
    assert ranks[0]["digest"] == ranks[1]["digest"]
    assert (out / "final" / "model.safetensors").is_file()
    meta = json.loads((out / "final" / "balancedbio_sft.json").read_text())
    assert meta["global_step"] == 2
