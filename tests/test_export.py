from __future__ import annotations

import pytest
import torch

from balancedbio.cli import main
from balancedbio.models import LoraSettings, load_model, wrap_lora


def test_export_merges_adapter_into_standalone_checkpoint(tiny_model_dir, tmp_path):
    model, _ = load_model(tiny_model_dir)
    peft_model = wrap_lora(model, LoraSettings(r=2, alpha=4, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.05)
    peft_model.save_pretrained(tmp_path / "adapter")
    assert main(["export", "--model", str(tmp_path / "adapter"), "--output", str(tmp_path / "merged")]) == 0
    merged_dir = tmp_path / "merged"
    assert not (merged_dir / "adapter_config.json").exists()
    assert (merged_dir / "config.json").is_file() and list(merged_dir.glob("*.safetensors"))
    merged, _ = load_model(merged_dir)
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    peft_model.eval()
    merged.eval()
    torch.testing.assert_close(merged(ids).logits, peft_model(ids).logits, atol=1e-4, rtol=1e-4)
    # refuses to overwrite without --force
    assert main(["export", "--model", str(tmp_path / "adapter"), "--output", str(merged_dir)]) == 2


def test_export_missing_model_is_clear(tmp_path, capsys):
    assert main(["export", "--model", str(tmp_path / "nope"), "--output", str(tmp_path / "out")]) == 2
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_export_force_onto_a_file_replaces_it_and_leaves_nothing_aside(tiny_model_dir, tmp_path):
    target = tmp_path / "afile"
    target.write_text("not a checkpoint")
    assert main(["export", "--model", str(tiny_model_dir), "--output", str(target)]) == 2
    assert target.read_text() == "not a checkpoint"
    assert main(["export", "--model", str(tiny_model_dir), "--output", str(target), "--force"]) == 0
    assert (target / "config.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]      # no .afile.old-<pid>


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
