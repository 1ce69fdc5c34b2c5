"""A scripted OpenAI-compatible fake server for the teacher tests (retries, errors, an oracle teacher)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def fake_server(answer, *, models=("m",)):
    """A threaded OpenAI-compatible fake: ``answer(body, n) -> (status, payload, delay_s)``."""
    state = {"n": 0, "inflight": 0, "peak": 0, "auth": [], "lock": threading.Lock()}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _send(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_GET(self):
            state["auth"].append(self.headers.get("Authorization"))
            if models is None:
                self._send(404, {"error": "no such route"})
            else:
                self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state["lock"]:
                state["n"] += 1
                n = state["n"]
                state["inflight"] += 1
                state["peak"] = max(state["peak"], state["inflight"])
                state["auth"].append(self.headers.get("Authorization"))
            try:
                status, payload, delay = answer(body, n)
                time.sleep(delay)
                self._send(status, payload)
            finally:
                with state["lock"]:
                    state["inflight"] -= 1

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, state


def chat(text):
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]}
