"""Reading JSON Lines files with one-line errors that name the file and line.

A missing file is "file not found: PATH"; bytes that are not UTF-8 (a binary file) are
"PATH:LINE: not UTF-8 text"; a UTF-8 byte-order mark at the start of the file is accepted and dropped
(the same policy as every other text input, :mod:`balancedbio.inputs`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from balancedbio.errors import DataError
from balancedbio.inputs import iter_text_lines


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, value)`` for every non-blank line of ``path``.

    Invalid JSON raises :class:`DataError` naming ``path:line``; checking the value's shape is the caller's.
    """
    path = Path(path)
    for lineno, line in iter_text_lines(path):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None


def check_jsonl(path: str | Path) -> int:
    """Read ``path`` through once (UTF-8, valid JSON on every non-blank line); returns the row count.

    Cheap next to any model work: call it before loading a model so a bad file fails first.
    """
    return sum(1 for _ in iter_jsonl(path))
