from __future__ import annotations

import io
import time

import pytest

from balancedbio import progress


@pytest.fixture(autouse=True)
def _heartbeat_on(monkeypatch):
    monkeypatch.delenv("BALANCEDBIO_HEARTBEAT", raising=False)


def _lines(buf: io.StringIO) -> list[str]:
    return [ln for ln in buf.getvalue().splitlines() if ln.strip()]


def test_heartbeat_speaks_when_a_step_runs_silent_and_stops_after():
    buf = io.StringIO()
    with progress.heartbeat("grpo", every=0.2, stream=buf):
        progress.phase("grpo step 1/3: generating 16 completions", stream=buf)
        time.sleep(0.75)
    lines = _lines(buf)
    assert lines[0] == "  grpo step 1/3: generating 16 completions"
    beats = [ln for ln in lines[1:] if "still working" in ln]
    assert 1 <= len(beats) <= 4, lines      # ~3 beats; a loaded machine may delay the heartbeat thread
    assert all(ln.startswith("  ... grpo step 1/3: generating 16 completions: still working, ") for ln in beats)
    assert "(grpo " in beats[0]
    n = len(_lines(buf))
    time.sleep(0.5)
    assert len(_lines(buf)) == n, "the heartbeat kept printing after its block ended"


def test_activity_and_fresh_progress_bars_keep_the_heartbeat_quiet():
    buf = io.StringIO()
    with progress.heartbeat("embed", every=1.0, stream=buf):
        for _ in progress.track(range(24), desc="texts", file=io.StringIO(), mininterval=0):
            time.sleep(0.05)  # an item every 50 ms, for 1.2 s: the bar itself shows progress
    assert not [ln for ln in _lines(buf) if "still working" in ln]


def test_a_stalled_progress_bar_does_not_silence_the_heartbeat():
    from tqdm import tqdm

    buf = io.StringIO()
    with progress.heartbeat("grpo", every=0.2, stream=buf):
        bar = tqdm(total=1, desc="step", file=io.StringIO())  # like a Trainer bar sitting at 0/1
        time.sleep(0.7)
        bar.close()
    assert [ln for ln in _lines(buf) if "grpo: still working" in ln]


def test_nested_heartbeats_share_one_thread_and_can_be_turned_off(monkeypatch):
    buf = io.StringIO()
    with progress.heartbeat("run", every=0.2, stream=buf):
        with progress.heartbeat("embed", every=0.2, stream=buf):
            time.sleep(0.5)
        assert progress.current_phase() == "run"
    beats = [ln for ln in _lines(buf) if "still working" in ln]
    assert beats and all("embed: still working" in ln for ln in beats)
    assert all("(run " in ln for ln in beats)
    monkeypatch.setenv("BALANCEDBIO_HEARTBEAT", "0")
    quiet = io.StringIO()
    with progress.heartbeat("run", every=0.1, stream=quiet):
        time.sleep(0.3)
    assert quiet.getvalue() == ""


def test_every_cli_verb_runs_inside_a_heartbeat(monkeypatch, capsys):
    import balancedbio.cli.models as models_verb
    from balancedbio.cli import main

    monkeypatch.setenv("BALANCEDBIO_HEARTBEAT", "0.2")
    monkeypatch.setattr(models_verb, "run", lambda args: time.sleep(0.7) or 0)
    assert main(["models"]) == 0
    err = capsys.readouterr().err
    assert "  ... models: still working, " in err


def test_a_grpo_step_names_generation_scoring_and_training(tmp_path, tiny_model_dir, monkeypatch):
    """The phases a GRPO step goes through are printed as they start (a step takes minutes on a CPU)."""
    import json
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "train"))
    from grpo_rows import contract_rows

    import balancedbio.train.grpo_trainer as gt
    from balancedbio.config import load_config
    from balancedbio.train.grpo import GRPORecipeConfig, build_trainer

    seen: list[str] = []
    monkeypatch.setattr(gt, "phase", lambda text, **kw: seen.append(text))
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in contract_rows()))
    cfg = load_config(GRPORecipeConfig, None, [
        f"model.name_or_path={tiny_model_dir}", f"data={data}", f"output_dir={tmp_path / 'out'}",
        "steps=1", "prompts_per_step=2", "num_generations=2", "max_new_tokens=4",
        "rewards.model_reward=none", "report_to=[none]"])
    trainer = build_trainer(cfg, reward_funcs=[lambda prompts, completions, **kw: [0.5] * len(completions)],
                            rule_weights=[1.0], model_weights=[0.0])
    trainer.train()
    kinds = [s.split(": ", 1)[1].split(" ")[0] for s in seen]
    assert all(s.startswith("grpo step 1/1: ") for s in seen), seen
    assert kinds[:3] == ["generating", "scoring", "policy"], seen


def test_a_finished_step_is_not_reported_as_still_running():
    buf = io.StringIO()
    with progress.heartbeat("run", every=0.2, stream=buf):
        progress.phase("bft stage", echo=False)
        with progress.step("converting the model", stream=buf):
            time.sleep(0.05)
        time.sleep(0.6)
    beats = [ln for ln in _lines(buf) if "still working" in ln]
    assert beats and all(ln.startswith("  ... bft stage: still working") for ln in beats), beats


def test_the_heartbeat_reaches_the_terminal_while_a_library_hides_stderr(capsys):
    import contextlib

    with progress.heartbeat("models", every=0.2):
        with contextlib.redirect_stderr(io.StringIO()):  # what the GGUF conversion does to silence transformers
            time.sleep(0.6)
    assert "models: still working" in capsys.readouterr().err
