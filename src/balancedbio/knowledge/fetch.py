"""Fetch PrimeKG's ``kg.csv`` from its official release (Harvard Dataverse), only with ``--allow-download``.

Layout (Hugging Face cache style) under ``$BALANCEDBIO_HOME/downloads/primekg/``::

    blobs/<md5>                 the verified file (blobs/<md5>.incomplete while downloading)
    snapshots/<file id>/kg.csv  a link to the blob: what ``--sources primekg`` reads

The expected MD5 comes from the release's own file metadata (``/api/files/<id>``: ``dataFile.md5`` or
``dataFile.checksum``). An interrupted download resumes where it stopped (HTTP ``Range``; a server that
answers 200 instead of 206 restarts it), and a file whose checksum differs is deleted, never used.
Tested against a local stub server (tests/knowledge/test_fetch.py); this machine has no route to Dataverse,
so the live endpoint is not exercised by the tests.

Example::

    path = fetch_primekg()                       # -> .../snapshots/6180620/kg.csv
    path = cached_primekg()                      # None if not fetched yet
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from balancedbio.errors import DataError

DATAVERSE = "https://dataverse.harvard.edu"
PRIMEKG_FILE_ID = "6180620"          # kg.csv of doi:10.7910/DVN/IXA7BM
CHUNK = 1 << 20


def primekg_cache() -> Path:
    home = os.environ.get("BALANCEDBIO_HOME") or Path.home() / ".cache" / "balancedbio"
    return Path(home).expanduser() / "downloads" / "primekg"


def cached_primekg(cache: Path | None = None) -> Path | None:
    path = (cache or primekg_cache()) / "snapshots" / PRIMEKG_FILE_ID / "kg.csv"
    return path if path.is_file() else None


def _expected_md5(base: str, opener: Callable) -> str:
    url = f"{base}/api/files/{PRIMEKG_FILE_ID}"
    try:
        with opener(urllib.request.Request(url, headers={"Accept": "application/json"}), timeout=60) as resp:
            meta = json.loads(resp.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{url}: PrimeKG file metadata not readable ({exc})") from None
    data = (meta.get("data") or {}).get("dataFile") or {}
    checksum = data.get("checksum") or {}
    md5 = data.get("md5") or (checksum.get("value") if str(checksum.get("type", "")).upper() == "MD5" else None)
    if not isinstance(md5, str) or len(md5) != 32:
        raise DataError(f"{url}: no MD5 checksum in the release's file metadata")
    return md5.lower()


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fetch_primekg(cache: Path | None = None, *, base: str = DATAVERSE,
                  opener: Callable = urllib.request.urlopen) -> Path:
    """Download (or resume) PrimeKG's kg.csv into the cache, verify its MD5; return the snapshot path."""
    cache = cache or primekg_cache()
    snapshot = cache / "snapshots" / PRIMEKG_FILE_ID / "kg.csv"
    if snapshot.is_file():
        return snapshot
    md5 = _expected_md5(base, opener)
    blob = cache / "blobs" / md5
    if not blob.is_file():
        _download(f"{base}/api/access/datafile/{PRIMEKG_FILE_ID}", blob, md5, opener)
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    tmp = snapshot.with_name(".kg.csv.link")
    tmp.unlink(missing_ok=True)
    try:
        tmp.symlink_to(os.path.relpath(blob, snapshot.parent))
    except OSError:                                      # no symlinks here: copy
        shutil.copyfile(blob, tmp)
    os.replace(tmp, snapshot)
    return snapshot


def _download(url: str, blob: Path, md5: str, opener: Callable) -> None:
    partial = blob.with_name(blob.name + ".incomplete")
    partial.parent.mkdir(parents=True, exist_ok=True)
    have = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with opener(urllib.request.Request(url, headers=headers), timeout=60) as resp:
            status = getattr(resp, "status", 200)
            mode = "ab" if have and status == 206 else "wb"         # 200: the server ignored Range
            with open(partial, mode) as fh:
                for block in iter(lambda: resp.read(CHUNK), b""):
                    fh.write(block)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:                               # nothing left to fetch
            pass
        else:
            raise DataError(f"{url}: download failed (HTTP {exc.code}); rerun to resume") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise DataError(f"{url}: download interrupted ({exc}); rerun to resume") from None
    got = _md5(partial)
    if got != md5:
        partial.unlink()
        raise DataError(f"{url}: checksum mismatch (md5 {got}, the release says {md5}); the file was deleted")
    os.replace(partial, blob)
