"""ChatClient against a scripted fake server: retries with backoff on 429/5xx, timeouts, 401, unknown model,
unreachable endpoint, bounded concurrency, answers in submission order, the prompt-hash cache."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fake_openai import chat, fake_server

from balancedbio.errors import ModelError
from balancedbio.synth.cache import PromptCache
from balancedbio.synth.client import ChatClient
from balancedbio.synth.llm import LLMError


def _client(srv, **kw):
    args = {"api_key_env": "BB_TEACHER_KEY", "timeout_s": 5.0, "retries": 2, "concurrency": 4, **kw}
    return ChatClient(f"http://127.0.0.1:{srv.server_port}/v1", "m", **args)


def _msg(i):
    return [{"role": "user", "content": f"prompt {i}"}]


def test_429_and_503_are_retried_with_backoff_then_answered():
    srv, state = fake_server(lambda body, n: (429, {"error": "slow down"}, 0) if n == 1 else
                             (503, {"error": "busy"}, 0) if n == 2 else (200, chat("ok"), 0))
    c = _client(srv)
    t0 = time.perf_counter()
    try:
        assert c.submit(_msg(0), seed=1, max_tokens=4, temperature=0).result() == "ok"
    finally:
        c.close()
        srv.shutdown()
    assert state["n"] == 3
    assert time.perf_counter() - t0 >= 0.5 * 0.75          # the first backoff (0.5 s, jitter at most -25%)


def test_retries_exhausted_on_429_is_one_fatal_line():
    srv, state = fake_server(lambda body, n: (429, {"error": "slow down"}, 0))
    c = _client(srv, retries=1)
    try:
        with pytest.raises(ModelError, match=r"answered HTTP 429 \(2 tries\)"):
            c.submit(_msg(0), seed=1, max_tokens=4, temperature=0).result()
    finally:
        c.close()
        srv.shutdown()
    assert state["n"] == 2


def test_timeout_is_retried_then_fatal():
    srv, state = fake_server(lambda body, n: (200, chat("late"), 1.0))
    c = _client(srv, timeout_s=0.2, retries=1)
    try:
        with pytest.raises(ModelError, match="timed out after 0.2s"):
            c.submit(_msg(0), seed=1, max_tokens=4, temperature=0).result()
    finally:
        c.close()
        srv.shutdown()
    assert state["n"] == 2


def test_401_unknown_model_and_unreachable_fail_the_probe(monkeypatch):
    monkeypatch.setenv("BB_TEACHER_KEY", "sk-canary-probe")
    srv, state = fake_server(lambda body, n: (200, chat("x"), 0), models=("other-model",))
    try:
        with pytest.raises(ModelError, match="does not serve model 'm'.*other-model"):
            _client(srv).probe()
    finally:
        srv.shutdown()
    assert state["auth"] == ["Bearer sk-canary-probe"]

    class Deny(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(401)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    deny = ThreadingHTTPServer(("127.0.0.1", 0), Deny)
    threading.Thread(target=deny.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ModelError, match="answered HTTP 401; check the API key") as err:
            _client(deny).probe()
    finally:
        deny.shutdown()
    assert "sk-canary-probe" not in str(err.value)
    with pytest.raises(ModelError, match="unreachable"):
        ChatClient("http://127.0.0.1:9/v1", "m", api_key_env="", timeout_s=1, retries=0).probe()


def test_probe_falls_back_to_a_completion_when_the_server_lists_no_models():
    srv, state = fake_server(lambda body, n: (200, chat("OK"), 0), models=None)
    try:
        _client(srv).probe()
    finally:
        srv.shutdown()
    assert state["n"] == 1


def test_bounded_concurrency_answers_in_submission_order_and_cache():
    # later prompts answer faster, so completion order is the reverse of submission order
    srv, state = fake_server(lambda body, n: (200, chat("echo " + body["messages"][0]["content"]),
                                              0.3 - 0.03 * int(body["messages"][0]["content"].split()[1])))
    cache = PromptCache(None)
    c = _client(srv, concurrency=3, cache=cache)
    try:
        futs = [c.submit(_msg(i), seed=i, max_tokens=4, temperature=0) for i in range(8)]
        assert [f.result() for f in futs] == [f"echo prompt {i}" for i in range(8)]
        assert state["peak"] == 3                                # never more than llm.concurrency in flight
        again = c.submit(_msg(5), seed=5, max_tokens=4, temperature=0)
        assert again.done() and again.result() == "echo prompt 5" and state["n"] == 8
        other_seed = c.submit(_msg(5), seed=6, max_tokens=4, temperature=0).result()
        assert other_seed == "echo prompt 5" and state["n"] == 9   # the seed is part of the key
    finally:
        c.close()
        srv.shutdown()


def test_per_item_problems_are_llm_errors_not_fatal():
    srv, _ = fake_server(lambda body, n: (400, {"error": "context too long"}, 0) if n == 1 else
                         (200, {"choices": []}, 0))
    c = _client(srv)
    try:
        with pytest.raises(LLMError, match="http_400"):
            c.submit(_msg(0), seed=1, max_tokens=4, temperature=0).result()
        with pytest.raises(LLMError, match="malformed"):
            c.submit(_msg(1), seed=1, max_tokens=4, temperature=0).result()
    finally:
        c.close()
        srv.shutdown()


def test_cache_survives_a_torn_line(tmp_path):
    path = tmp_path / "llm_cache.jsonl"
    first = PromptCache(path)
    first.put("a", "alpha")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"key": "b", "te')                         # a kill in the middle of an append
    second = PromptCache(path)
    second.put("c", "gamma")
    assert PromptCache(path).data == {"a": "alpha", "c": "gamma"}
    second.close()
    path.unlink()
    second.put("d", "delta")                             # after close: memory only, the file stays gone
    assert not path.exists() and second.get("d") == "delta"


def test_probe_without_a_model_list_refusing_the_model_is_one_line():
    srv, _ = fake_server(lambda body, n: (400, {"error": f"model {body['model']} not found"}, 0), models=None)
    try:
        with pytest.raises(ModelError, match="refused a one-token request for model 'm'"):
            _client(srv).probe()
    finally:
        srv.shutdown()


def test_close_does_not_wait_for_requests_in_flight():
    srv, _ = fake_server(lambda body, n: (200, chat("late"), 3.0))
    c = _client(srv, timeout_s=30, retries=0, concurrency=1)
    try:
        fut = c.submit(_msg(0), seed=1, max_tokens=4, temperature=0)
        queued = c.submit(_msg(1), seed=1, max_tokens=4, temperature=0)
        time.sleep(0.3)
        t0 = time.perf_counter()
        c.close()
        assert time.perf_counter() - t0 < 1.0 and queued.cancelled()
        with pytest.raises(Exception):              # noqa: B017 - the in-flight request fails in its thread
            fut.result(timeout=10)
    finally:
        srv.shutdown()
