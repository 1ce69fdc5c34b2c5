"""Bad input, per verb: one line on stderr naming the path, exit 2, nothing created, before any work.

Every case runs the real command line (``python -m balancedbio ...``) in a scratch directory and checks
that the directory tree is byte-for-byte what it was before. Cases:

* binary data file (train, GRPO, embed, eval) -> "PATH:LINE: not UTF-8 text";
* missing local data path -> "file not found: PATH", never a hub lookup;
* truncated ``.safetensors`` (chat, export) -> "PATH: truncated or corrupt safetensors file";
* an output path that is a file, or that sits under a file (every verb with an output);
* an unwritable output place (every verb with an output): a path under ``/sys``, where the kernel
  refuses ``mkdir`` even to root (``chmod`` does not stop root, so a read-only directory would prove
  nothing here); the rows skip where ``/sys`` is writable;
* an existing output (embed file or directory, export, synth) without ``--force``.

A UTF-8 byte-order mark is accepted and dropped by every reader (one policy everywhere); the last test
checks that each verb's reader returns the same rows with and without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROWS = [{"id": "r1", "text": "BRCA1 repairs DNA.",
         "messages": [{"role": "user", "content": "What does BRCA1 do?"},
                      {"role": "assistant", "content": "It repairs DNA."}]}]
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00"


def _sys_unwritable() -> bool:
    try:
        d = tempfile.mkdtemp(dir="/sys")
    except OSError:
        return Path("/sys").is_dir()
    os.rmdir(d)
    return False


UNWRITABLE = "/sys/balancedbio-test-output/out"
NO_SYS = pytest.mark.skipif(not _sys_unwritable(), reason="/sys is writable or absent here")


@pytest.fixture(scope="module")
def work(tmp_path_factory, tiny_model_dir) -> Path:
    w = tmp_path_factory.mktemp("bad-inputs")
    (w / "binary.jsonl").write_bytes(BINARY)
    (w / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (w / "afile").write_text("not a directory\n")
    (w / "existing").mkdir()
    (w / "existing" / "keep.txt").write_text("keep\n")
    (w / "existing.parquet").write_bytes(b"PAR1 keep")
    (w / "data").mkdir()
    (w / "runs").mkdir()
    trunc = w / "trunc"
    shutil.copytree(tiny_model_dir, trunc)
    weights = trunc / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:4096])
    (w / "home").mkdir()
    return w


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns if p.is_file() else 0)
    return out


TINY = "{tiny}"
# (case id, argv after "balancedbio", text the message must contain, marks)
CASES = [
    # binary / non-UTF-8 data
    ("train-binary", ["train", "--method", "bft", "--model", TINY, "--data", "binary.jsonl", "--output", "out"],
     "binary.jsonl:1: not UTF-8 text"),
    ("grpo-binary", ["train", "--method", "grpo", "--model", TINY, "--data", "binary.jsonl", "--output", "out"],
     "binary.jsonl:1: not UTF-8 text"),
    ("embed-binary", ["embed", "--model", TINY, "--input", "binary.jsonl", "--output", "out.parquet"],
     "binary.jsonl:1: not UTF-8 text"),
    ("ifeval-binary", ["ifeval", "--input-data", "binary.jsonl", "--responses", "rows.jsonl"],
     "binary.jsonl:1: not UTF-8 text"),
    ("eval-binary", ["eval", "--model", TINY, "--synth-test", "binary.jsonl", "--output", "out",
                     "tasks=[reasoning]"], "binary.jsonl:1: not UTF-8 text"),
    # missing local data: file not found, never a hub lookup
    ("train-missing", ["train", "--method", "bft", "--model", TINY, "--data", "data/missing.jsonl", "--output", "out"],
     "file not found: data/missing.jsonl"),
    ("grpo-missing", ["train", "--method", "grpo", "--model", TINY, "--data", "data/missing.jsonl", "--output", "out"],
     "file not found: data/missing.jsonl"),
    ("embed-missing", ["embed", "--model", TINY, "--input", "data/missing.jsonl", "--output", "out.parquet"],
     "file not found: data/missing.jsonl"),
    ("eval-missing", ["eval", "--model", TINY, "--synth-test", "data/missing.jsonl", "--output", "out",
                      "tasks=[reasoning]"], "file not found: data/missing.jsonl"),
    ("models-missing", ["models", "--prepare", "runs/missing"], "file not found: runs/missing"),
    ("chat-missing", ["chat", "--model", "runs/missing", "--prompt", "hi"], "file not found: runs/missing"),
    # truncated safetensors
    ("chat-truncated", ["chat", "--model", "trunc", "--prompt", "hi"],
     "trunc/model.safetensors: truncated or corrupt safetensors file"),
    ("export-truncated", ["export", "--model", "trunc", "--output", "out"],
     "trunc/model.safetensors: truncated or corrupt safetensors file"),
    # existing output without --force
    ("embed-existing-dir", ["embed", "--model", TINY, "--input", "rows.jsonl", "--output", "existing"],
     "existing: --output is an existing directory"),
    ("embed-existing-file", ["embed", "--model", TINY, "--input", "rows.jsonl", "--output", "existing.parquet"],
     "existing.parquet: --output already exists; pass --force"),
    ("export-existing", ["export", "--model", TINY, "--output", "existing"], "existing: --output already exists"),
    ("synth-existing", ["synth", "--num-examples", "4", "--output", "existing"], "existing"),
    ("train-existing", ["train", "--method", "bft", "--model", TINY, "--data", "rows.jsonl", "--output", "existing"],
     "existing"),
]
# every verb with an output: the output is a file / sits under a file / is in an unwritable place
OUTPUT_VERBS = {
    "train": ["train", "--method", "bft", "--model", TINY, "--data", "rows.jsonl", "--output", "{out}"],
    "grpo": ["train", "--method", "grpo", "--model", TINY, "--data", "rows.jsonl", "--output", "{out}"],
    "embed": ["embed", "--model", TINY, "--input", "rows.jsonl", "--output", "{out}"],
    "eval": ["eval", "--model", TINY, "--output", "{out}", "tasks=[expertise]"],
    "export": ["export", "--model", TINY, "--output", "{out}"],
    "synth": ["synth", "--num-examples", "4", "--output", "{out}"],
    "run": ["run", "configs/quickstart.yaml", "--output", "{out}"],
    "kg-build": ["kg", "build", "--toy", "--dest", "{out}"],
    "embed-bench": ["embed-bench", "--models", TINY, "--output", "{out}"],
    "ifeval": ["ifeval", "--input-data", "rows.jsonl", "--responses", "rows.jsonl", "--output", "{out}"],
}
FILE_OUTPUTS = {"embed", "ifeval"}  # they write one file: a file there is "exists" (covered above)
for verb, argv in OUTPUT_VERBS.items():
    if verb not in FILE_OUTPUTS:
        CASES.append((f"{verb}-output-is-file", [a.replace("{out}", "afile") for a in argv], "afile: "))
    CASES.append((f"{verb}-output-under-file", [a.replace("{out}", "afile/out") for a in argv],
                  "afile is a file, not a directory"))
    CASES.append(pytest.param(f"{verb}-unwritable", [a.replace("{out}", UNWRITABLE) for a in argv],
                              "/sys", marks=NO_SYS, id=f"{verb}-unwritable"))
CASES = [pytest.param(*c, id=c[0]) if type(c) is tuple else c for c in CASES]


@pytest.mark.slow
@pytest.mark.parametrize("case, argv, expect", CASES)
def test_bad_input_is_one_line_exit_2_nothing_created(work, tiny_model_dir, case, argv, expect):
    repo = Path(__file__).resolve().parents[1]
    argv = [a.replace(TINY, str(tiny_model_dir)).replace("configs/", f"{repo}/configs/") for a in argv]
    # no heartbeat: on a loaded machine importing torch can pass its 10 s, and this checks the error line
    env = {**os.environ, "BALANCEDBIO_HOME": str(work / "home"), "BALANCEDBIO_HEARTBEAT": "0"}
    before = _tree(work)
    proc = subprocess.run([sys.executable, "-m", "balancedbio", *argv], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert lines[0].startswith(f"balancedbio {argv[0]}: error: ") and expect in lines[0], lines[0]
    assert _tree(work) == before, "the command created or changed files"
    assert not Path(UNWRITABLE).parent.exists()


@pytest.mark.slow
def test_an_unusable_cache_is_one_line_before_any_work(work):
    """The graph and model caches live in $BALANCEDBIO_HOME: a file in the way is one line, exit 2."""
    env = {**os.environ, "BALANCEDBIO_HOME": str(work / "afile" / "home"), "BALANCEDBIO_HEARTBEAT": "0"}
    before = _tree(work)
    for argv in (["kg", "build", "--toy"], ["models", "--prepare", "default"]):
        proc = subprocess.run([sys.executable, "-m", "balancedbio", *argv], cwd=work, env=env,
                              capture_output=True, text=True, timeout=300)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
        assert "afile" in lines[0] and "Traceback" not in proc.stderr
    assert _tree(work) == before


def test_a_leading_bom_is_accepted_by_every_reader(tmp_path):
    """One policy: a UTF-8 BOM at the start of a file is dropped by train, GRPO, embed and eval alike."""
    from balancedbio.embed.embed import read_texts_jsonl
    from balancedbio.eval.datasets import load_synth_rows
    from balancedbio.train.data import iter_rows
    from balancedbio.train.grpo import load_rows

    synth_row = {"capability": "expertise", "answer": "It repairs DNA.", "answer_type": "short"}
    text = "".join(json.dumps({**ROWS[0], **synth_row, "id": f"r{i}"}) + "\n" for i in range(3))
    plain, bom = tmp_path / "plain.jsonl", tmp_path / "bom.jsonl"
    plain.write_text(text, encoding="utf-8")
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    readers = {"train": lambda p: [r for _, r in iter_rows(str(p))],
               "grpo": lambda p: load_rows(p),
               "embed": lambda p: read_texts_jsonl(p)[0],
               "eval": lambda p: load_synth_rows(p)[0]}
    for name, read in readers.items():
        got_plain, got_bom = read(plain), read(bom)
        assert len(got_plain) == 3, name
        assert got_bom == got_plain, name


def test_output_checks_name_the_path_and_why(tmp_path, monkeypatch):
    """The checks themselves, including the permission-denied case a non-root user meets (simulated:
    root may write anywhere, so the probe's mkdtemp is made to fail as it would for that user)."""
    import errno
    import tempfile as tf

    from balancedbio.errors import OutputError
    from balancedbio.inputs import check_output_dir, check_output_file

    (tmp_path / "afile").write_text("x")
    assert check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists() and [p.name for p in tmp_path.iterdir()] == ["afile"]
    with pytest.raises(OutputError, match=r"afile/out: cannot create it: .*afile is a file"):
        check_output_dir(tmp_path / "afile" / "out")
    with pytest.raises(OutputError, match=r"afile: --output exists and is a file"):
        check_output_dir(tmp_path / "afile")
    assert check_output_dir(tmp_path / "afile", force=True) == tmp_path / "afile"
    with pytest.raises(OutputError, match=r"already exists; pass --force"):
        check_output_file(tmp_path / "afile")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tf, "mkdtemp", denied)
    with pytest.raises(OutputError, match=rf"{tmp_path}/out: cannot write in {tmp_path} \(Permission denied\)"):
        check_output_dir(tmp_path / "out")
