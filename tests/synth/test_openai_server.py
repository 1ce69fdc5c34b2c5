"""The teacher against a real OpenAI-compatible server: ``transformers serve`` (transformers' serving extra)
with the default model (SmolLM2-135M-Instruct, converted to safetensors by ``resolve_model``), offline, on a
free 127.0.0.1 port. ``balancedbio synth backend=openai llm.role=teacher ...`` runs end to end through the
CLI. A 135M teacher writes almost no valid JSON, so these tests assert the pipeline (requests answered,
parsed, validated, rejections counted by reason, one-line refusals, SIGKILL + resume, the key never
written), not quality. Select them with ``pytest -k openai_server``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CANARY = "sk-canary-openai-server-93be1"
SLOTS = 4
TEACHER_REASONS = ("teacher_", "llm_", "entity_", "distractor_", "steps_", "step_", "answer_", "refuted_",
                   "hallucinated_", "reference_", "fact_", "schema", "duplicate")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def openai_server(default_model_dir, tmp_path_factory):
    """``transformers serve <default model dir>`` on a free port; stopped (process group) at the end."""
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    exe = Path(sys.executable).with_name("transformers")
    # one torch thread: on a loaded 2-core machine a multi-threaded server slows down ~7x (measured)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    with open(log, "wb") as fh:
        proc = subprocess.Popen([str(exe), "serve", str(default_model_dir), "--host", "127.0.0.1", "--port", str(port),
                                 "--device", "cpu", "--log-level", "warning"], stdout=fh, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 180
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"transformers serve exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as resp:
                    served = [m["id"] for m in json.load(resp)["data"]]
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail(f"transformers serve did not answer in 180 s: {log.read_text()[-2000:]}")
                time.sleep(0.5)
        assert str(default_model_dir) in served
        yield url, str(default_model_dir), log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


def _args(url, model, toy_graph, out, *extra):
    return [str(Path(sys.executable).with_name("balancedbio")), "synth", "--num-examples", str(SLOTS),
            "--output", str(out), "--graph", str(toy_graph.path.parent), "backend=openai", "llm.role=teacher",
            f"llm.url={url}", f"llm.model={model}", "llm.api_key_env=BB_SERVER_KEY", "llm.max_new_tokens=24",
            "llm.temperature=0", "llm.concurrency=4", "max_attempts=2", "test_fraction=0.3", *extra]


def _env():
    return {**os.environ, "BB_SERVER_KEY": CANARY}


@pytest.fixture(scope="module")
def server_run(openai_server, toy_graph, tmp_path_factory):
    url, model, _ = openai_server
    out = tmp_path_factory.mktemp("server-run") / "data"
    proc = subprocess.run(_args(url, model, toy_graph, out), capture_output=True, env=_env(), timeout=300)
    return out, proc


@pytest.mark.slow
def test_openai_server_synth_end_to_end_counts_every_answer(server_run, openai_server):
    out, proc = server_run
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    m = json.loads((out / "manifest.json").read_text())
    assert m["generator"] == f"teacher:{openai_server[1]}"
    assert m["num_examples"] + m["drops"].get("slot_exhausted", 0) == SLOTS
    judged = sum(v for k, v in m["drops"].items() if k.startswith(TEACHER_REASONS)) + m["num_examples"]
    tried = SLOTS * 2 - m["drops"].get("no_seed", 0) - m["num_examples"]    # attempts that reached the server
    assert judged >= tried >= 1                    # every answer the server gave was judged: a row or a drop
    printed = json.loads(proc.stdout)
    assert printed["drops"] == m["drops"]          # the drops by reason are printed, never a silent zero
    rows = [json.loads(x) for s in ("train", "test") for x in open(out / f"{s}.jsonl")]
    assert len(rows) == m["num_examples"]
    for r in rows:
        assert r["provenance"]["teacher"]["endpoint"] == openai_server[0]


@pytest.mark.slow
def test_openai_server_key_never_written(server_run, openai_server):
    out, proc = server_run
    blobs = [proc.stdout, proc.stderr, openai_server[2].read_bytes()]
    blobs += [p.read_bytes() for p in out.rglob("*") if p.is_file()]
    assert all(CANARY.encode() not in b for b in blobs)


def test_openai_server_unknown_model_is_one_line_before_any_file(openai_server, toy_graph, tmp_path):
    url, _, _ = openai_server
    proc = subprocess.run(_args(url, "no-such-model", toy_graph, tmp_path / "data"), capture_output=True,
                          env=_env(), timeout=120)
    err = proc.stderr.decode().strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1, err
    assert "does not serve model 'no-such-model'" in err and CANARY not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_openai_server_sigkill_then_resume_writes_the_uninterrupted_output(server_run, openai_server, toy_graph,
                                                                           tmp_path):
    url, model, _ = openai_server
    out, _ = server_run
    dest, work = tmp_path / "data", tmp_path / ".data.partial"
    proc = subprocess.Popen(_args(url, model, toy_graph, dest), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=_env())
    cache = work / "llm_cache.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if cache.exists() and cache.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not dest.exists() and work.is_dir(), proc.stderr.read().decode()[-2000:]
    left = [p for p in work.rglob("*") if p.is_file()]
    assert cache in left and all(CANARY.encode() not in p.read_bytes() for p in left)   # the cache holds no key
    resumed = subprocess.run(_args(url, model, toy_graph, dest) + ["--resume"], capture_output=True, env=_env(),
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    for s in ("train", "test"):
        assert (dest / f"{s}.jsonl").read_bytes() == (out / f"{s}.jsonl").read_bytes(), s
    first = json.loads((out / "manifest.json").read_text())
    again = json.loads((dest / "manifest.json").read_text())
    assert again["drops"] == first["drops"] and again["counts"] == first["counts"]
