"""Chat data for supervised fine-tuning: read ``messages`` rows, tokenise them with the model's chat
template, and keep the loss on assistant tokens only.

Sources: a JSONL file (one ``{"messages": [...], ...}`` object per line, as written by ``balancedbio
synth``), a directory holding ``<split>.jsonl``, a dataset saved with ``datasets.save_to_disk``, an
in-memory ``datasets.Dataset``, or a Hugging Face dataset id (from the local cache unless downloads are
allowed by the environment).

Each row becomes ``input_ids`` and ``labels`` (``-100`` on every token outside an assistant turn), the
pre-tokenised form TRL's ``SFTTrainer`` consumes as is. Rows that cannot train are counted and logged,
never passed on silently: a row without an assistant turn, a row longer than ``max_length`` (dropped,
truncated or an error, by ``overlength``), a row whose assistant tokens were all truncated away. Malformed
input (bad JSON, no ``messages`` list) is an error naming the file and line; so is an empty result.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from balancedbio.config import option
from balancedbio.errors import DataError
from balancedbio.inputs import looks_like_local_path
from balancedbio.jsonl import iter_jsonl
from balancedbio.prompts import encode_conversation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SFTDataConfig:
    """Where the chat rows come from and what to do with rows that do not fit."""

    path: str = option("", "JSONL file of chat rows, a directory holding <split>.jsonl, a saved HF dataset "
                       "directory, or a HF dataset id.")
    split: str = option("train", "Split to read (file <split>.jsonl in a directory, or a HF dataset split).")
    messages_field: str = option("messages", "Column holding the list of {role, content} messages.")
    max_rows: int | None = option(None, "Use at most this many rows (after skipping bad ones); None = all.", min=1)
    overlength: str = option("drop", "Rows longer than train.max_length: drop (counted and logged), "
                             "truncate (keep the start), or error.", choices=("drop", "truncate", "error"))


@dataclass
class DataStats:
    """Counts of what happened to the rows; logged and written next to the checkpoint."""

    rows_read: int = 0
    rows_used: int = 0
    no_assistant: int = 0
    overlength_dropped: int = 0
    overlength_truncated: int = 0
    fully_masked: int = 0
    tokens: int = 0
    loss_tokens: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    def note(self, kind: str, where: str) -> None:
        self.examples.setdefault(kind, [])
        if len(self.examples[kind]) < 5:
            self.examples[kind].append(where)

    def summary(self) -> str:
        skipped = {k: getattr(self, k) for k in ("no_assistant", "overlength_dropped", "fully_masked")
                   if getattr(self, k)}
        text = f"{self.rows_used}/{self.rows_read} rows used, {self.loss_tokens}/{self.tokens} loss tokens"
        if skipped:
            text += "; skipped " + ", ".join(f"{k}={v}" for k, v in skipped.items())
        if self.overlength_truncated:
            text += f"; truncated {self.overlength_truncated}"
        return text


# --------------------------------------------------------------------------------------------------
# Reading rows


def _read_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for lineno, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object per line")
        yield f"{path}:{lineno}", row


def _read_hf(dataset: Any, name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, row in enumerate(dataset):
        yield f"{name}[{i}]", row


def iter_rows(source: Any, *, split: str = "train") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(where, row)`` pairs from any supported source; ``where`` names the file and line."""
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a dependency
        datasets = None
    if datasets is not None and isinstance(source, (datasets.Dataset, datasets.DatasetDict)):
        ds = source[split] if isinstance(source, datasets.DatasetDict) else source
        yield from _read_hf(ds, "<dataset>")
        return
    if not str(source):
        raise DataError("no training data given: set data.path (or --data) to a JSONL file or directory")
    path = Path(str(source)).expanduser()
    if path.is_file():
        yield from _read_jsonl(path)
        return
    if path.is_dir():
        if (path / f"{split}.jsonl").is_file():
            yield from _read_jsonl(path / f"{split}.jsonl")
            return
        if any((path / n).is_file() for n in ("dataset_info.json", "state.json", "dataset_dict.json")):
            ds = datasets.load_from_disk(str(path))
            if isinstance(ds, datasets.DatasetDict):
                if split not in ds:
                    raise DataError(f"{path}: saved dataset has no split '{split}' (has {', '.join(ds)})")
                ds = ds[split]
            yield from _read_hf(ds, str(path))
            return
        raise DataError(f"{path}: directory holds neither {split}.jsonl nor a saved HF dataset")
    if not looks_like_local_path(source) and str(source).count("/") == 1:
        from balancedbio.offline import downloads_enabled

        try:
            ds = datasets.load_dataset(str(source), split=split)
        except Exception as exc:  # offline, unknown id, ...
            if not downloads_enabled():
                raise DataError(f"dataset '{source}': not a local file and not in the local Hugging Face "
                                "cache (offline mode; pass --allow-download)") from None
            raise DataError(f"dataset '{source}': cannot load it ({str(exc).splitlines()[0][:160]})") from None
        yield from _read_hf(ds, str(source))
        return
    raise DataError(f"file not found: {path}")


# --------------------------------------------------------------------------------------------------
# Tokenising


def _check_messages(messages: Any, where: str, field_name: str) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: '{field_name}' must be a non-empty list of {{role, content}} objects")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise DataError(f"{where}: {field_name}[{i}] must be an object with string 'role' and 'content'")
    return messages


def tokenize_chat(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """``(input_ids, labels)`` for one conversation, labels ``-100`` outside assistant turns: the one prompt
    format of :func:`balancedbio.prompts.encode_conversation`, which generation uses too."""
    return encode_conversation(tokenizer, messages)


def check_rows(source: Any, cfg: SFTDataConfig | None = None) -> int:
    """Read and check every row of ``source`` without tokenising (cheap; runs before the model is loaded):
    malformed JSON or messages fail naming the file and line, and so does a source without a single
    conversation that has an assistant turn. Returns the number of such conversations."""
    cfg = cfg or SFTDataConfig()
    usable = read = 0
    for where, row in iter_rows(source, split=cfg.split):
        read += 1
        messages = _check_messages(row.get(cfg.messages_field), where, cfg.messages_field)
        usable += any(m["role"] == "assistant" and m["content"].strip() for m in messages)
    if not usable:
        raise DataError(f"{source}: no trainable rows ({read} read, none with a non-empty assistant turn)")
    return usable


def build_sft_dataset(source: Any, tokenizer: Any, *, max_length: int, cfg: SFTDataConfig | None = None) -> tuple[Any, DataStats]:
    """Tokenise every usable row of ``source`` into a ``datasets.Dataset`` with ``input_ids``/``labels``.

    Raises :class:`DataError` on malformed rows or when no row is left to train on.
    """
    import datasets

    cfg = cfg or SFTDataConfig()
    stats = DataStats()
    input_ids: list[list[int]] = []
    all_labels: list[list[int]] = []
    for where, row in iter_rows(source, split=cfg.split):
        stats.rows_read += 1
        messages = _check_messages(row.get(cfg.messages_field), where, cfg.messages_field)
        if not any(m["role"] == "assistant" and m["content"].strip() for m in messages):
            stats.no_assistant += 1
            stats.note("no_assistant", where)
            continue
        ids, labels = tokenize_chat(tokenizer, messages)
        if len(ids) > max_length:
            if cfg.overlength == "error":
                raise DataError(f"{where}: {len(ids)} tokens, longer than train.max_length={max_length} "
                                "(set data.overlength=drop or truncate)")
            if cfg.overlength == "drop":
                stats.overlength_dropped += 1
                stats.note("overlength_dropped", where)
                continue
            ids, labels = ids[:max_length], labels[:max_length]
            stats.overlength_truncated += 1
        if all(label == -100 for label in labels[1:]):
            stats.fully_masked += 1
            stats.note("fully_masked", where)
            continue
        input_ids.append(ids)
        all_labels.append(labels)
        stats.tokens += len(ids)
        stats.loss_tokens += sum(label != -100 for label in labels[1:])
        if cfg.max_rows is not None and len(input_ids) >= cfg.max_rows:
            break
    stats.rows_used = len(input_ids)
    for kind, where in stats.examples.items():
        log.warning("skipped %d row(s) (%s), e.g. %s", getattr(stats, kind), kind, ", ".join(where))
    if not input_ids:
        detail = f" ({stats.summary()})" if stats.rows_read else ""
        raise DataError(f"{source}: no trainable rows{detail}")
    return datasets.Dataset.from_dict({"input_ids": input_ids, "labels": all_labels}), stats
