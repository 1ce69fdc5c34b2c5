from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from balancedbio.errors import ModelError
from balancedbio.models import (
    LoraSettings,
    list_models,
    load_model,
    resolve_model,
    wrap_lora,
)


def test_default_model_is_converted_to_safetensors(default_model_dir):
    assert (default_model_dir / "config.json").is_file()
    assert list(default_model_dir.glob("*.safetensors"))
    assert not list(default_model_dir.glob("*.bin"))
    assert "quantization_config" not in (default_model_dir / "config.json").read_text()
    rows = {r["name"]: r for r in list_models()}
    assert rows["smollm2-135m-instruct"]["installed"]


def test_default_model_loads_and_trains(default_model_dir):
    model, tok = load_model(default_model_dir)
    assert tok.chat_template and tok.pad_token is not None
    batch = tok(["Cystic fibrosis is caused by CFTR."], return_tensors="pt")
    out = model(**batch, labels=batch["input_ids"])
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_tiny_model_and_lora(tiny_model_dir):
    model, tok = load_model(tiny_model_dir)
    assert model.config.hidden_size == 64 and model.config.num_hidden_layers == 2
    peft_model = wrap_lora(model, LoraSettings(r=4, alpha=8))
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)


def test_adapter_directory_loads_onto_its_base(tiny_model_dir, tmp_path):
    model, _ = load_model(tiny_model_dir)
    peft_model = wrap_lora(model, LoraSettings(r=2, alpha=4, target_modules=["q_proj"]))
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_B" in n:
                p.fill_(0.01)
    peft_model.save_pretrained(tmp_path / "adapter")
    loaded, _ = load_model(tmp_path / "adapter")
    ids = torch.tensor([[1, 2, 3, 4]])
    loaded.eval()
    peft_model.eval()
    torch.testing.assert_close(loaded(ids).logits, peft_model(ids).logits)


def test_bad_model_specs(tmp_path, isolated_home):
    with pytest.raises(ModelError, match="unknown model 'no-such-model'"):
        resolve_model("no-such-model")
    with pytest.raises(ModelError, match="not in the local Hugging Face cache"):
        resolve_model("someorg/some-model-that-is-not-cached")
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf at all")
    with pytest.raises(ModelError, match="not a GGUF"):
        resolve_model(bad)
    truncated = tmp_path / "trunc.gguf"
    truncated.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 8)
    with pytest.raises(ModelError, match="cannot read GGUF"):
        resolve_model(truncated)
    with pytest.raises(ModelError, match="GGUF file not found"):
        resolve_model(tmp_path / "missing.gguf")
    empty = tmp_path / "emptydir"
    empty.mkdir()
    with pytest.raises(ModelError, match="neither config.json"):
        resolve_model(empty)
    # nothing half-written is left in the cache
    leftovers = list((isolated_home / "models").glob(".*")) if (isolated_home / "models").exists() else []
    assert leftovers == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_cache(tmp_path, monkeypatch):  # pragma: no cover - CI runs as root
    home = tmp_path / "ro"
    home.mkdir(mode=0o500)
    monkeypatch.setenv("BALANCEDBIO_HOME", str(home))
    with pytest.raises(ModelError, match="cannot write"):
        resolve_model("default")


def test_cli_reports_unwritable_cache_in_one_line(tmp_path):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    env = dict(os.environ, BALANCEDBIO_HOME=str(blocker / "sub"))
    proc = subprocess.run([sys.executable, "-m", "balancedbio", "models", "--prepare", "gemma3-270m"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_local_paths_are_file_not_found_never_a_hub_lookup(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    for spec in ("runs/bft", "./model", str(tmp_path / "a" / "b"), "weights.safetensors"):
        with pytest.raises(ModelError, match=r"^file not found: "):
            resolve_model(spec)


def test_truncated_safetensors_is_one_line(tiny_model_dir, tmp_path):
    import shutil

    copy = tmp_path / "trunc"
    shutil.copytree(tiny_model_dir, copy)
    weights = next(copy.glob("*.safetensors"))
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match=r"model.safetensors: truncated or corrupt safetensors file") as info:
        load_model(copy)
    assert "\n" not in str(info.value)


def _offline_state_after(argv: list[str], extra_env: dict[str, str] | None = None) -> dict:
    """Run the CLI in a fresh process with the hub call replaced by a probe that records what the
    Hugging Face libraries would see (the hub itself is unreachable here)."""
    import json

    probe = (
        "import json, os, sys\n"
        "import huggingface_hub, transformers.utils.hub as th, datasets.config as dc\n"
        "seen = {}\n"
        "def fake(repo_id, local_files_only=False, **kw):\n"
        "    seen.update(repo=repo_id, local_files_only=local_files_only,\n"
        "                hub_offline=huggingface_hub.constants.HF_HUB_OFFLINE,\n"
        "                transformers_offline=th.is_offline_mode(), datasets_offline=dc.HF_HUB_OFFLINE,\n"
        "                env={v: os.environ.get(v) for v in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE',\n"
        "                                                   'HF_DATASETS_OFFLINE')})\n"
        "    raise OSError('probe')\n"
        "huggingface_hub.snapshot_download = fake\n"
        "from balancedbio.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        "print(json.dumps({'rc': rc, **seen}))\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}
    env.update(extra_env or {})
    # balancedbio is imported first, as in the real CLI, so the offline variables are set at import
    code = "import balancedbio\n" + probe
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env,
                          timeout=120)
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "stderr": proc.stderr}


def test_allow_download_lifts_the_offline_mode_the_package_set():
    state = _offline_state_after(["models", "--prepare", "someorg/some-model", "--allow-download"])
    assert state["rc"] == 2 and "could not be downloaded" in state["stderr"]
    assert state["local_files_only"] is False
    assert state["hub_offline"] is False and state["transformers_offline"] is False
    assert state["datasets_offline"] is False
    assert state["env"] == {"HF_HUB_OFFLINE": None, "TRANSFORMERS_OFFLINE": None, "HF_DATASETS_OFFLINE": None}


def test_without_allow_download_nothing_is_contacted():
    state = _offline_state_after(["models", "--prepare", "someorg/some-model"])
    assert state["rc"] == 2 and "not in the local Hugging Face cache" in state["stderr"]
    assert state["local_files_only"] is True and state["hub_offline"] is True
    assert state["transformers_offline"] is True and state["datasets_offline"] is True


def test_a_users_own_offline_setting_wins_over_allow_download():
    state = _offline_state_after(["models", "--prepare", "someorg/some-model", "--allow-download"],
                                 {"HF_HUB_OFFLINE": "1"})
    assert state["hub_offline"] is True and state["env"]["HF_HUB_OFFLINE"] == "1"
    assert "stays unreachable" in state["stderr"]
