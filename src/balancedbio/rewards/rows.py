"""Turn the columns a trainer hands to a reward back into synth-contract rows and completion texts.

TRL calls a reward as ``f(prompts, completions, **columns)`` where each column is a list with one entry
per completion. Nested fields of the synth row (``checks``, ``choices``, ``facts``) do not survive Arrow's
schema unification intact, so the GRPO recipe also ships the whole row as a JSON string in a ``row``
column; when present it wins, otherwise the row is rebuilt from the individual columns. Either way the row
goes through :meth:`balancedbio.rows.Row.parse`, the one validator (no field is silently filled in).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from balancedbio.rows import ROW_KEYS, Row


def completion_text(completion: Any) -> str:
    """A completion as plain text: a string as is, a conversational completion's last assistant turn."""
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return str(completion.get("content") or "")
    if isinstance(completion, Sequence):
        for msg in reversed(list(completion)):
            if isinstance(msg, Mapping) and msg.get("role", "assistant") == "assistant":
                return str(msg.get("content") or "")
        return ""
    return str(completion)


def _prompt_messages(prompt: Any) -> list[dict[str, str]]:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, Sequence):
        return [{"role": str(m.get("role")), "content": str(m.get("content") or "")} for m in prompt
                if isinstance(m, Mapping)]
    return []


def rows_from_columns(n: int, columns: Mapping[str, Any], prompts: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    """The ``n`` contract rows behind a reward call's keyword columns, each validated by :meth:`Row.parse`.

    A row without ``messages`` takes them from the call's ``prompts``; a row that breaks the contract (no
    capability, an unknown instruction id...) raises :class:`DataError` naming the reward column and row.
    """
    if "row" in columns and columns["row"] is not None:
        raw = columns["row"]
        if len(raw) != n:
            raise ValueError(f"column 'row' has {len(raw)} entries for {n} completions")
        rows = [json.loads(r) if isinstance(r, str) else dict(r) for r in raw]
        where = "reward column 'row'[{}]"
    else:
        rows = [{} for _ in range(n)]
        for key in ROW_KEYS:
            values = columns.get(key)
            if values is None:
                continue
            if len(values) != n:
                raise ValueError(f"column {key!r} has {len(values)} entries for {n} completions")
            for row, value in zip(rows, values):
                row[key] = value
        where = "reward columns, row {}"
    out = []
    for i, row in enumerate(rows):
        if not row.get("messages") and prompts is not None and i < len(prompts):
            row["messages"] = _prompt_messages(prompts[i])
        out.append(Row.parse(row, where.format(i)).to_dict())
    return out
