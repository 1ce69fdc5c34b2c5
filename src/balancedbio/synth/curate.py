"""Curation: deduplication, capability balance, the entity-disjoint split audit, answerability filtering.

- **Dedupe**: a row is a duplicate when its normalised prompt (lower case, punctuation and extra spaces
  removed) was already emitted; 8-byte hashes are kept, not texts.
- **Balance**: a smooth weighted round-robin assigns a capability to every output slot, so any prefix of
  the stream is balanced to within one example per capability.
- **Entity-disjoint split**: diseases (by MONDO cluster) and genes are assigned to train or test before
  sampling (:mod:`balancedbio.synth.pools`); :func:`split_audit` re-reads the written files and counts any
  disease or gene of the test split that appears in train (expected: 0).
- **Answerability** (Source2Synth, Lupidi et al., arXiv 2409.08239, "filter" step): keep an example only
  if a model recovers its answer in ``k`` sampled tries, judged by :func:`balancedbio.scoring.score`,
  asked the row's question alone or (``context``) with the row's grounding facts before it
  (:func:`answer_prompt`). Source2Synth's model is fine-tuned on another slice of the data first: that
  step is :mod:`balancedbio.synth.answerability`, which hands this filter the tuned model.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from balancedbio.jsonl import iter_jsonl

_NON_WORD = re.compile(r"[^0-9a-z]+")


def dedupe_key(text: str) -> bytes:
    """8-byte hash of the normalised text."""
    return hashlib.blake2b(_NON_WORD.sub(" ", text.lower()).strip().encode(), digest_size=8).digest()


def capability_schedule(weights: dict[str, float]) -> Iterator[str]:
    """Endless smooth weighted round-robin over capabilities (nginx's algorithm), deterministic."""
    items = [(k, float(w)) for k, w in weights.items() if w > 0]
    total = sum(w for _, w in items)
    current = {k: 0.0 for k, _ in items}
    while True:
        for k, w in items:
            current[k] += w
        best = max(items, key=lambda kw: (current[kw[0]], -items.index(kw)))[0]
        current[best] -= total
        yield best


def row_entities(row: dict[str, Any]) -> set[str]:
    """Diseases and genes a row's facts mention (what the split must keep apart)."""
    out = set()
    for f in row.get("facts", []):
        for x in (f["subject"], f["object"]):
            if x.split(":", 1)[0] in ("OMIM", "ORPHA", "MONDO", "DOID", "HGNC", "DECIPHER"):
                out.add(x)
    return out


def split_audit(train: Path, test: Path, clusters: dict[str, str] | None = None) -> dict[str, int]:
    """Count test-split diseases/genes (by cluster where given) that also appear in train rows."""
    def ents(path: Path) -> set[str]:
        s: set[str] = set()
        for row in read_jsonl(path):
            s |= {clusters.get(e, e) if clusters else e for e in row_entities(row)}
        return s

    tr, te = ents(train), ents(test)
    return {"train_entities": len(tr), "test_entities": len(te), "overlap": len(tr & te)}


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    for _, row in iter_jsonl(path):
        yield row


# --------------------------------------------------------------------------------------------------
# Answerability (Source2Synth-style filter)


def answer_prompt(row: dict[str, Any], context: Callable[[dict[str, Any]], str] | None = None) -> dict[str, str]:
    """The user message the answerability model is asked: the row's question, or (``context`` given) the
    row's facts as ``context(row)`` renders them, then the question. Tuning and filtering use the same one."""
    question = row["messages"][0]
    if context is None:
        return question
    return {"role": "user", "content": f"Facts:\n{context(row)}\n\n{question['content']}"}


class AnswerabilityFilter:
    """Keeps a row when ``model`` answers it correctly in at least one of ``tries`` samples.

    ``model``: a packaged name or a directory (a LoRA adapter directory loads onto its base and is merged,
    so sampling runs at the base model's speed); ``context``: see :func:`answer_prompt`.
    """

    def __init__(self, model: str | None, *, tries: int = 3, max_new_tokens: int = 64, seed: int = 0,
                 context: Callable[[dict[str, Any]], str] | None = None):
        from balancedbio.models import load_model

        self.model, self.tokenizer = load_model(model or "default")
        if hasattr(self.model, "merge_and_unload"):          # a PEFT adapter on its base
            self.model = self.model.merge_and_unload()
        self.model.eval()
        self.tries, self.max_new_tokens, self.seed, self.context = tries, max_new_tokens, seed, context

    def answerable(self, row: dict[str, Any]) -> bool:
        import torch

        from balancedbio.prompts import build_prompt_ids
        from balancedbio.scoring import score

        input_ids = build_prompt_ids(self.tokenizer, [answer_prompt(row, self.context)])   # [1, T]
        torch.manual_seed(self.seed + int(hashlib.blake2b(row["id"].encode(), digest_size=4).hexdigest(), 16))
        with torch.no_grad():
            out = self.model.generate(input_ids, attention_mask=torch.ones_like(input_ids), do_sample=True,
                                      temperature=0.7, top_p=0.95, num_return_sequences=self.tries,
                                      max_new_tokens=self.max_new_tokens,
                                      pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)
        for seq in out:
            text = self.tokenizer.decode(seq[input_ids.shape[1]:], skip_special_tokens=True)
            res = score(row, text)
            if (res.correct if res.correct is not None else res.value) >= 1.0:
                return True
        return False

    def filter(self, rows: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], bool]]:
        for row in rows:
            yield row, self.answerable(row)
