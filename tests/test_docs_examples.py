"""Every command example in README.md, docs/*.md and the ``--help`` texts runs as written.

Examples are the command lines of fenced code blocks (a block tagged ``text`` holds a synopsis, not an
example), concrete inline ``balancedbio ...`` spans of the prose, and the example lines of every verb's
``--help``. Each runs in a fresh sandbox directory holding what the examples name (``configs/``, a small
``runs/synth/train.jsonl``, ``texts.jsonl``, tiny model checkpoints at ``runs/bft/final`` /
``runs/dft/final``, the toy graph as the built graph). Examples that train, generate, evaluate, embed or
build the full graph run with ``--dry-run`` (the same config, input and output checks as the real run,
then a plan); the knowledge-graph queries and the toy build run for real. A ``torchrun`` / ``accelerate
launch`` line runs its ``balancedbio`` part and checks its launcher config file exists; ``make X`` checks
the Makefile has target ``X``. An example must exit 0.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from balancedbio.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
COMMAND = re.compile(r"^\s*(?:\$\s+)?(?:[A-Z_]+=\S+\s+)*((?:balancedbio|python -m balancedbio|torchrun|"
                     r"accelerate launch|make)\s.*)$")
HELP_PREFIX = re.compile(r"^\s*(?:1 process|N processes|GRPO|Check first):\s*")
# Verbs whose examples run with --dry-run (they train, generate, evaluate, embed or build the full graph).
DRY = {"run", "train", "eval", "embed", "embed-bench", "synth", "export"}
# An inline span is a synopsis, not an example, when it names placeholders or alternatives.
SYNOPSIS = re.compile(r"\b[A-Z][A-Z0-9_]*(?:\.yaml)?\b|\\\||\s/\s|\.\.\.|<|\[")


def _strip_comment(cmd: str) -> str:
    out, quote = [], None
    for i, ch in enumerate(cmd):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or cmd[i - 1].isspace()):
            break
        out.append(ch)
    return "".join(out).strip()


def _doc_examples() -> list[tuple[str, str]]:
    found = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        block: str | None = None
        i = 0
        prose = []
        while i < len(lines):
            line = lines[i]
            fence = line.strip()
            if fence.startswith("```"):
                block = None if block is not None else fence[3:].strip()
                i += 1
                continue
            if block is None:
                prose.append(line)
            elif block != "text":
                match = COMMAND.match(line)
                if match:
                    cmd, where = match.group(1), i + 1
                    while cmd.rstrip().endswith("\\") and i + 1 < len(lines):
                        i += 1
                        cmd = cmd.rstrip()[:-1] + " " + lines[i].strip()
                    found.append((f"{path.relative_to(REPO)}:{where}", _strip_comment(cmd)))
            i += 1
        for span in re.findall(r"`(balancedbio [^`]+)`", "\n".join(prose)):
            span = " ".join(span.split())
            # a span naming a verb ("`balancedbio embed`") is a reference; one with arguments an example
            has_args = " --" in span or "=" in span or ".yaml" in span
            if has_args and not SYNOPSIS.search(span.replace("balancedbio ", "", 1)):
                found.append((f"{path.relative_to(REPO)} (inline)", span))
    return found


def _help_texts() -> list[tuple[str, str]]:
    parser = build_parser()
    out = []
    for verb, sub in parser._subparsers._group_actions[0].choices.items():  # noqa: SLF001
        out.append((verb, sub.format_help()))
        for action in sub._actions:  # noqa: SLF001
            if isinstance(getattr(action, "choices", None), dict):
                out += [(f"{verb} {name}", p.format_help()) for name, p in action.choices.items()]
    return out


def _help_examples() -> list[tuple[str, str]]:
    found = []
    for verb, text in _help_texts():
        for line in text.splitlines():
            match = COMMAND.match(HELP_PREFIX.sub("", line))
            if match and not line.lstrip().startswith("usage:"):
                found.append((f"balancedbio {verb} --help", _strip_comment(match.group(1))))
    return found


EXAMPLES = _doc_examples() + _help_examples()


def test_examples_were_found():
    sources = {where.split(":")[0].split(" ")[0] for where, _ in EXAMPLES}
    assert {"README.md", "docs/bft.md", "docs/scaling.md", "docs/knowledge.md", "docs/eval.md"} <= sources
    assert sum(w.endswith("--help") for w, _ in EXAMPLES) >= 15
    assert len(EXAMPLES) >= 50


# ---------------------------------------------------------------------------------------------- sandbox
def _chat_rows(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"r{i}", "capability": "expertise", "answer": "CFTR", "aliases": [], "checks": [],
             "messages": [{"role": "user", "content": f"Which gene is mutated in cystic fibrosis? ({i})"},
                          {"role": "assistant", "content": "CFTR."}]} for i in range(4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _text_rows(path: Path) -> None:
    path.write_text("".join(json.dumps({"id": f"t{i}", "text": f"gene {i} regulates apoptosis"}) + "\n"
                            for i in range(3)))


@pytest.fixture
def sandbox(tmp_path, monkeypatch, tiny_model_dir, toy_graph):
    def make(cmd: str) -> Path:
        root = tmp_path / "sandbox"
        root.mkdir()
        (root / "configs").symlink_to(REPO / "configs")
        home = root / "home"
        home.mkdir()
        graph = Path(toy_graph.path).resolve()
        (home / "kg").symlink_to(graph if graph.is_dir() else graph.parent)
        monkeypatch.setenv("BALANCEDBIO_HOME", str(home))
        monkeypatch.chdir(root)
        # only what the command names exists, so no example's output is already there
        if "texts.jsonl" in cmd:
            _text_rows(root / "texts.jsonl")
        if "t.jsonl" in cmd.replace("texts.jsonl", ""):
            _text_rows(root / "t.jsonl")
        if "runs/synth/train.jsonl" in cmd or "--method grpo" in cmd:
            _chat_rows(root / "runs/synth/train.jsonl")
        if "../shared/" in cmd:     # the repository's shared data, beside the sandbox as beside the repository
            (tmp_path / "shared").symlink_to((REPO / "../shared").resolve())
        for name in ("bft", "dft"):
            if f"runs/{name}/final" in cmd:
                (root / "runs" / name).mkdir(parents=True, exist_ok=True)
                (root / "runs" / name / "final").symlink_to(tiny_model_dir)
        return root

    return make


def _argv(cmd: str) -> list[str]:
    """The ``balancedbio`` arguments of an example, checking its launcher part."""
    words = shlex.split(cmd)
    if words[0] in ("torchrun", "accelerate"):
        assert "-m" in words and words[words.index("-m") + 1] == "balancedbio", cmd
        if "--config_file" in words:
            config = words[words.index("--config_file") + 1]
            assert (REPO / config).is_file(), f"{cmd}: launcher config {config} is not in the repository"
        return words[words.index("-m") + 2:]
    if words[:3] == ["python", "-m", "balancedbio"]:
        return words[3:]
    assert words[0] == "balancedbio", cmd
    return words[1:]


@pytest.mark.parametrize("where,cmd", EXAMPLES, ids=[f"{w} {c[:60]}" for w, c in EXAMPLES])
def test_example_runs(where, cmd, sandbox, capsys):
    if cmd.startswith("make "):
        target = cmd.split()[1]
        assert re.search(rf"^{re.escape(target)}:", (REPO / "Makefile").read_text(), re.M), f"{where}: {cmd}"
        return
    argv = _argv(cmd)
    if "../shared/" in cmd and not (REPO / "../shared").is_dir():
        pytest.skip("the shared evaluation data is not beside this clone")
    sandbox(cmd)
    dry = argv[0] in DRY or (argv[:2] == ["kg", "build"] and "--toy" not in argv)
    if dry and "--dry-run" not in argv:
        argv.append("--dry-run")
    try:
        code = main(argv)
    except SystemExit as exc:       # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 0, f"{where}: `{cmd}` exited {code}: {err.strip()[-500:]}"
    if dry:
        assert "dry run" in out and "nothing" in out, f"{where}: `{cmd}` did not stop at its plan:\n{out[-500:]}"


# ---------------------------------------------------------------------------- overrides shown in --help
def _override_examples() -> list[tuple[str, str]]:
    found = []
    for verb, text in _help_texts():
        flat = " ".join(text.split()).replace("``", "")
        for match in re.finditer(r"(?=e\.g\.\s+(.{0,160}))", flat):
            for word in match.group(1).split():
                if re.fullmatch(r"[a-z_][\w.]*=\S+", word):
                    found.append((verb, word.rstrip(",.")))
                elif word.endswith(".") and not word.startswith("("):
                    break
    return sorted(set(found))


def _classes(verb: str) -> list[type]:
    from balancedbio.embed.bench import EmbedBenchConfig
    from balancedbio.eval.suite import EvalSuiteConfig
    from balancedbio.pipeline.config import PipelineConfig
    from balancedbio.synth.generate import SynthConfig
    from balancedbio.train.grpo import GRPORecipeConfig
    from balancedbio.train.sft import SFTRecipeConfig

    return {"synth": [SynthConfig], "train": [SFTRecipeConfig, GRPORecipeConfig], "eval": [EvalSuiteConfig],
            "embed-bench": [EmbedBenchConfig], "run": [PipelineConfig]}[verb]


def test_override_examples_in_help_are_keys_of_that_verb():
    from balancedbio.config import load_config
    from balancedbio.errors import ConfigError

    examples = _override_examples()
    assert {v for v, _ in examples} >= {"synth", "train", "eval", "embed-bench", "run"}
    for verb, kv in examples:
        errors = []
        for cls in _classes(verb):
            try:
                load_config(cls, None, [kv])
                break
            except ConfigError as exc:
                errors.append(str(exc))
        else:
            pytest.fail(f"balancedbio {verb} --help shows override {kv}, which its config rejects: {errors}")


def test_files_named_in_help_texts_exist():
    """A help text that points at a document or config points at one that is in the repository."""
    for verb, text in _help_texts():
        for name in re.findall(r"(?<![\w/.])((?:docs|configs)/[\w./-]+\.(?:md|yaml)|[A-Z][A-Z_]+\.md)\b", text):
            assert (REPO / name).is_file(), f"balancedbio {verb} --help names {name}, which is not in the repository"
