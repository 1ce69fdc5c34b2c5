from __future__ import annotations

import subprocess
import sys

import pytest

from balancedbio.cli import VERB_MODULES, build_parser, main


def test_every_pipeline_verb_is_registered():
    parser = build_parser()
    verbs = set(parser._subparsers._group_actions[0].choices)  # noqa: SLF001
    assert {"models", "synth", "train", "eval", "embed", "run"} <= verbs
    assert len(VERB_MODULES) == len(set(VERB_MODULES))


def test_models_lists_packaged(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "smollm2-135m-instruct" in out and "gemma3-270m" in out


def test_unknown_model_is_one_clear_line():
    proc = subprocess.run([sys.executable, "-m", "balancedbio", "chat", "--model", "nope-model", "-p", "hi"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "unknown model 'nope-model'" in proc.stderr


@pytest.mark.slow
def test_chat_prompt_with_default_model(default_model_dir, capsys):
    assert main(["chat", "--model", str(default_model_dir), "-p", "Name one symptom of asthma.",
                 "--max-new-tokens", "8"]) == 0
    assert capsys.readouterr().out.strip()


def _parse(argv):
    """What main() hands the verb: the same parse, without running it."""
    import balancedbio.cli as cli

    seen = {}

    def capture(args):
        seen["args"] = args
        return 0

    parser = build_parser()
    for action in parser._subparsers._group_actions[0].choices.values():  # noqa: SLF001
        action.set_defaults(func=capture)
    orig = cli.build_parser
    cli.build_parser = lambda: parser
    try:
        assert main(argv) == 0
    finally:
        cli.build_parser = orig
    return seen["args"]


def test_overrides_are_accepted_anywhere_after_the_recipe():
    args = _parse(["run", "configs/quickstart.yaml", "--output", "runs/x", "seed=1", "--force", "bft.train.lr=1e-3"])
    assert args.output == "runs/x" and args.force
    assert args.overrides == ["seed=1", "bft.train.lr=1e-3"]
    args = _parse(["run", "configs/quickstart.yaml", "seed=2", "--output", "runs/x"])
    assert args.overrides == ["seed=2"]
    args = _parse(["synth", "--output", "d", "test_fraction=0.2", "--seed", "3"])
    assert args.overrides == ["test_fraction=0.2"] and args.seed == 3


def test_unknown_option_is_still_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "configs/quickstart.yaml", "--output", "runs/x", "--bogus"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["models", "seed=1"])          # a verb without overrides rejects KEY=VALUE


QUICKSTART = str(__import__("pathlib").Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml")


def test_run_dry_run_validates_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", QUICKSTART, "--output", str(out), "seed=1", "--dry-run"]) == 0
    said = capsys.readouterr().out
    assert "[7/7] report" in said and "nothing written" in said and not out.exists()
    assert main(["run", QUICKSTART, "--output", str(out), "bft.train.lr=fast", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "bft.train.lr" in err and not out.exists()
