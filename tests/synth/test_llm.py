"""LLM backends: an OpenAI-compatible endpoint (a local fake server), timeouts, malformed answers, keys."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from balancedbio.config import load_config
from balancedbio.errors import ModelError
from balancedbio.synth.generate import SynthConfig, generate_dataset

SECRET = "sk-test-secret-0123456789"


def _server(mode: str):
    seen = {"auth": [], "n": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):  # keep test output clean
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen["auth"].append(self.headers.get("Authorization"))
            seen["n"] += 1
            if mode == "slow":
                time.sleep(1.0)
            text = body["messages"][0]["content"].split("Text:\n", 1)[1]
            if mode == "malformed":
                payload = b'{"choices": []}'
            else:
                payload = json.dumps({"choices": [{"message": {"content": "Exam question: " + text}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                self.wfile.write(payload)
            except BrokenPipeError:
                pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, seen


def _cfg(port, **kw):
    over = {"num_examples": 12, "backend": "openai", "llm.url": f"http://127.0.0.1:{port}/v1",
            "llm.model": "fake", "llm.api_key_env": "BB_TEST_KEY", "llm.retries": 0, **kw}
    return load_config(SynthConfig, None, [f"{k}={v}" for k, v in over.items()])


def test_openai_backend_rewrites_and_validates(toy_graph, tmp_path, monkeypatch):
    monkeypatch.setenv("BB_TEST_KEY", SECRET)
    srv, seen = _server("ok")
    try:
        m = generate_dataset(_cfg(srv.server_port), tmp_path / "out", graph=toy_graph)
    finally:
        srv.shutdown()
    rows = [json.loads(x) for x in open(tmp_path / "out" / "train.jsonl")]
    rows += [json.loads(x) for x in open(tmp_path / "out" / "test.jsonl")]
    assert m["num_examples"] == 12 and seen["n"] >= 12
    assert all(a == f"Bearer {SECRET}" for a in seen["auth"])
    assert sum(r["messages"][0]["content"].startswith("Exam question: ") for r in rows) >= 6
    assert any(r["provenance"]["generator"].startswith("template+openai") for r in rows)
    text = "".join(p.read_text() for p in (tmp_path / "out").iterdir())
    assert SECRET not in text                               # the key is never written


def test_malformed_answers_are_dropped_and_counted(toy_graph, tmp_path):
    srv, _ = _server("malformed")
    try:
        m = generate_dataset(_cfg(srv.server_port, num_examples=3, max_attempts=2), tmp_path / "out",
                             graph=toy_graph)
    finally:
        srv.shutdown()
    assert m["num_examples"] == 0 and m["drops"]["llm_malformed"] >= 3 and m["drops"]["slot_exhausted"] == 3


def test_timeout_is_a_clear_error_and_leaves_no_output(toy_graph, tmp_path):
    srv, _ = _server("slow")
    try:
        with pytest.raises(ModelError, match="timed out"):
            generate_dataset(_cfg(srv.server_port, **{"llm.timeout_s": 0.2}), tmp_path / "out", graph=toy_graph)
    finally:
        srv.shutdown()
    assert not (tmp_path / "out").exists()


def test_unreachable_endpoint(toy_graph, tmp_path):
    with pytest.raises(ModelError, match="unreachable"):
        generate_dataset(_cfg(9, **{"llm.url": "http://127.0.0.1:9/v1"}), tmp_path / "o", graph=toy_graph)


@pytest.mark.slow
def test_hf_backend_with_tiny_model(toy_graph, tmp_path, tiny_model_dir):
    cfg = load_config(SynthConfig, None, ["num_examples=2", "backend=hf", f"llm.model={tiny_model_dir}",
                                          "llm.max_new_tokens=12", "max_attempts=2"])
    m = generate_dataset(cfg, tmp_path / "out", graph=toy_graph)
    # a random model cannot keep the entity names: its rewrites are dropped, by reason
    assert m["num_examples"] + m["drops"].get("slot_exhausted", 0) == 2
    assert sum(v for k, v in m["drops"].items() if k != "slot_exhausted") >= 1


def test_cache_with_a_torn_last_line_is_cut_before_the_next_append(tmp_path):
    from balancedbio.synth.llm import Rewriter

    class Echo(Rewriter):
        def _generate(self, prompt, *, seed):
            return "rewritten " + prompt.rsplit("\n", 1)[-1]

    cache = tmp_path / "llm_cache.jsonl"
    first = Echo(cache)
    a = first.rewrite("alpha", seed=1)
    with open(cache, "a", encoding="utf-8") as fh:
        fh.write('{"key": "torn')                          # a kill in the middle of an append
    second = Echo(cache)
    b = second.rewrite("beta", seed=2)
    third = Echo(cache)
    assert third.cache == {**first.cache, **second.cache} and len(third.cache) == 2
    assert a in third.cache.values() and b in third.cache.values()
