"""The LLM answer cache: prompt hash -> text, a JSON Lines file in the run's work directory.

A resumed run (after Ctrl-C or SIGKILL) asks the endpoint only for what it has not answered yet, and the
deterministic replay of the generation stream then rebuilds the same rows. Appends are one line per answer,
flushed at once and guarded by a lock (answers arrive from several request threads); a torn last line left
by a kill is cut before the next append. The file holds answers only, never request headers or keys.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any


def prompt_key(*parts: Any) -> str:
    """A stable 24-hex-digit key for everything that determines an answer (model, prompt, seed, settings)."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:24]


class PromptCache:
    """In-memory dict backed by an append-only JSONL file (``None``: memory only)."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self.data: dict[str, str] = {}
        self._lock = threading.Lock()
        if path is None or not path.exists():
            return
        raw = path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            with open(path, "r+b") as fh:             # cut a torn last line so the next append starts clean
                fh.truncate(raw.rfind(b"\n") + 1)
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                    self.data[rec["key"]] = rec["text"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def close(self) -> None:
        """No more appends (an answer arriving after the run ended must not recreate the file)."""
        with self._lock:
            self.path = None

    def put(self, key: str, text: str) -> None:
        with self._lock:
            if key in self.data:
                return
            self.data[key] = text
            if self.path is not None:
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"key": key, "text": text}, ensure_ascii=False) + "\n")
