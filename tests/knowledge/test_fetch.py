"""PrimeKG download: checksum from the release metadata, resume by HTTP Range, never a bad file kept.

A local http.server on 127.0.0.1 stands in for Dataverse (the same two endpoints).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import urllib.request

import pytest

from balancedbio.errors import DataError
from balancedbio.knowledge import fetch

BODY = b"relation,display_relation\n" + b"x" * 300_000


class _Server(http.server.ThreadingHTTPServer):
    md5 = hashlib.md5(BODY).hexdigest()
    honour_range = True
    requests: list[dict] = []


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        srv = self.server
        srv.requests.append({"path": self.path, "range": self.headers.get("Range")})
        if self.path == f"/api/files/{fetch.PRIMEKG_FILE_ID}":
            body = json.dumps({"status": "OK", "data": {"dataFile": {"filename": "kg.csv",
                                                                     "checksum": {"type": "MD5", "value": srv.md5}}}})
            self._send(200, body.encode())
        elif self.path == f"/api/access/datafile/{fetch.PRIMEKG_FILE_ID}":
            rng = self.headers.get("Range")
            if rng and srv.honour_range:
                start = int(rng.split("=")[1].rstrip("-"))
                self._send(206, BODY[start:])
            else:
                self._send(200, BODY)
        else:
            self._send(404, b"")

    def _send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.requests = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_fetch_verifies_and_links_into_the_cache(server, tmp_path):
    srv, base = server
    path = fetch.fetch_primekg(tmp_path, base=base)
    assert path == tmp_path / "snapshots" / fetch.PRIMEKG_FILE_ID / "kg.csv" and path.read_bytes() == BODY
    assert (tmp_path / "blobs" / srv.md5).is_file() and fetch.cached_primekg(tmp_path) == path
    n = len(srv.requests)
    assert fetch.fetch_primekg(tmp_path, base=base) == path and len(srv.requests) == n     # cached: no request


@pytest.mark.parametrize("honour_range", [True, False])
def test_resume_after_interruption(server, tmp_path, honour_range):
    srv, base = server
    srv.honour_range = honour_range
    calls = {"n": 0}

    def flaky(req, timeout):                    # the first body read dies after 100 kB
        resp = urllib.request.urlopen(req, timeout=timeout)
        if "datafile" in req.full_url and calls["n"] == 0:
            calls["n"] += 1
            real = resp.read

            def read(n=-1, _done=[0]):          # noqa: B006
                if _done[0] >= 100_000:
                    raise ConnectionResetError("connection reset by peer")
                chunk = real(min(n, 50_000))
                _done[0] += len(chunk)
                return chunk
            resp.read = read
        return resp

    with pytest.raises(DataError, match="download interrupted .*rerun to resume"):
        fetch.fetch_primekg(tmp_path, base=base, opener=flaky)
    partial = tmp_path / "blobs" / f"{srv.md5}.incomplete"
    assert partial.stat().st_size == 100_000 and fetch.cached_primekg(tmp_path) is None
    path = fetch.fetch_primekg(tmp_path, base=base, opener=flaky)
    assert path.read_bytes() == BODY                                  # identical to one uninterrupted fetch
    assert srv.requests[-1]["range"] == "bytes=100000-"


def test_checksum_mismatch_deletes_the_file(server, tmp_path):
    srv, base = server
    srv.md5 = "0" * 32
    with pytest.raises(DataError, match="checksum mismatch .*deleted"):
        fetch.fetch_primekg(tmp_path, base=base)
    assert not any((tmp_path / "blobs").iterdir()) and fetch.cached_primekg(tmp_path) is None


def test_metadata_without_checksum_is_refused(tmp_path):
    class _Resp:
        def __init__(self, body):
            self.body = body

        def read(self, *_):
            return self.body

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    with pytest.raises(DataError, match="no MD5 checksum"):
        fetch.fetch_primekg(tmp_path, base="http://stub", opener=lambda req, timeout: _Resp(b'{"data": {}}'))
