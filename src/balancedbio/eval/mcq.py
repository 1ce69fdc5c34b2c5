"""Multiple-choice accuracy by log-likelihood of the options, lm-evaluation-harness 0.4's way, batched.

Prompts are lm-eval's task definitions (:mod:`balancedbio.eval.mcq_prompts`: MMLU, MedQA, MedMCQA,
PubMedQA, zero- and few-shot). Tokenization is lm-eval's too (``HFLM._encode_pair``): trailing whitespace
of the context moves into the continuation, the context is tokenized as one string, and each option's
continuation (``" A"``, ``" yes"``, ...) is what the tokenization of context + continuation adds after the
context's tokens. Tokenizing pieces separately is not the same: a header ending in ``"\\n\\n"`` is one
token alone but two ``"\\n"`` tokens when the question follows it. An option's score is the summed
log-probability of its continuation tokens (lm-eval's ``acc``); the prediction is the arg-max.

Speed, on CPU in particular:

* when every option is one token (the letters), one forward pass per question gives all of them;
* the token prefix shared by all prompts of a subject (header + k shots, up to where the tokenization of
  the questions starts to differ) is run once; its key/value cache is reused by every question, so
  5-shot costs little more than zero-shot. The shared prefix is computed on the token ids, so the model
  sees exactly the whole-string tokenization;
* sequences are sorted by length and batched up to a token budget, right-padded (causal attention means
  a padded position never influences a real one, so no mask is needed);
* the output projection runs only at the positions whose logits are used (``logits_to_keep``).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from balancedbio.config import option
from balancedbio.eval.datasets import MCQItem
from balancedbio.eval.mcq_prompts import PROMPT_FORMATS, build_context, prompt_format

log = logging.getLogger(__name__)

__all__ = ["MCQConfig", "MCQPrediction", "format_question", "subject_prefix", "encode_pair", "encode_item",
           "score_mcq", "accuracy_summary", "prediction_record"]

_MIN_SHARED = 8  # shortest shared token prefix worth a key/value cache


@dataclass(frozen=True)
class MCQConfig:
    """Log-likelihood multiple-choice scoring."""

    shots: list[int] = option([0, 5], "Few-shot settings to run (0 = zero-shot); shots come from the dev split.")
    batch_tokens: int = option(4096, "Most question tokens (padding included) in one forward batch.", min=64)
    max_batch: int = option(32, "Most questions in one batch.", min=1)
    share_prefix: bool = option(True, "Run each subject's shared prompt prefix once and reuse its key/value cache.")
    limit: int = option(0, "Score only the first N questions of each subject (0 = all; for quick runs).", min=0)


@dataclass
class MCQPrediction:
    """The model's choice on one question: summed log-probability of each option's continuation."""

    id: str
    subject: str
    answer: str
    pred: str
    logprobs: dict[str, float]

    @property
    def correct(self) -> bool:
        return self.pred == self.answer


def prediction_record(p: MCQPrediction) -> dict[str, Any]:
    """One line of the per-question predictions file: id, subject, gold, pred, per-letter log-likelihoods."""
    return {"id": p.id, "subject": p.subject, "gold": p.answer, "pred": p.pred, "correct": p.correct,
            "logprobs": {k: round(v, 6) for k, v in p.logprobs.items()}}


def format_question(item: MCQItem, *, with_answer: bool = False) -> str:
    """The question in its benchmark's lm-eval format (plus the answer and a blank line for a shot)."""
    fmt = prompt_format(item.prompt_format)
    text = fmt.doc_to_text(item)
    return text + fmt.continuation(item, item.answer) + "\n\n" if with_answer else text


def subject_prefix(subject: str, shots: Sequence[MCQItem] = (), prompt: str = "mmlu") -> str:
    """The description for ``subject`` followed by the solved few-shot examples (as text)."""
    fmt = PROMPT_FORMATS[prompt]
    return fmt.description(subject) + "".join(format_question(s, with_answer=True) for s in shots)


def _encode(tokenizer: Any, text: str) -> list[int]:
    # lm-eval's HFLM.tok_encode with its defaults: the tokenizer's own special-token setting
    return list(tokenizer(text)["input_ids"])


def encode_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """lm-eval's ``_encode_pair``: (context ids, continuation ids) from the whole-string tokenization."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
    whole = _encode(tokenizer, context + continuation)
    ctx = _encode(tokenizer, context)
    return ctx, whole[len(ctx):]


def encode_item(tokenizer: Any, item: MCQItem, shots: Sequence[MCQItem] = ()) -> tuple[list[int], dict[str, list[int]]]:
    """Context ids and each option's continuation ids for ``item`` after ``shots``, as lm-eval feeds them."""
    fmt = prompt_format(item.prompt_format)
    context = build_context(fmt, item, shots)
    ctx: list[int] | None = None
    conts: dict[str, list[int]] = {}
    for letter in item.choices:
        c, cont = encode_pair(tokenizer, context, fmt.continuation(item, letter))
        ctx = c if ctx is None else ctx
        conts[letter] = cont
    return ctx or [], conts


@dataclass
class _Seq:
    """One forward sequence: ``ids`` after the cached prefix; reads (position, token, item, letter)."""

    ids: list[int]
    reads: list[tuple[int, int, int, str]]


def _item_seqs(item_idx: int, ctx: list[int], conts: Mapping[str, list[int]], skip: int, max_len: int) -> list[_Seq]:
    """Sequences that score every option of one item; positions relative to ``ids`` (after ``skip``)."""
    out: list[_Seq] = []
    if all(len(c) == 1 for c in conts.values()):
        full = ctx
        groups = [(full, [(len(full) - 1, c[0], letter) for letter, c in conts.items()])]
    else:
        groups = []
        for letter, c in conts.items():
            full = (ctx + c)[:-1]
            groups.append((full, [(len(ctx) - 1 + j, tok, letter) for j, tok in enumerate(c)]))
    for full, reads in groups:
        cut = max(0, len(full) - max_len)  # lm-eval truncates on the left
        start = skip or cut  # a cached prefix only where nothing is cut
        out.append(_Seq(full[start:], [(p - start, t, item_idx, letter) for p, t, letter in reads]))
    return out


def _batches(lengths: Sequence[int], batch_tokens: int, max_batch: int) -> list[list[int]]:
    """Indices grouped so that len(batch) * longest <= batch_tokens, visiting items by length."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    out: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        longest = max([lengths[j] for j in cur] + [lengths[i]])
        if cur and ((len(cur) + 1) * longest > batch_tokens or len(cur) >= max_batch):
            out.append(cur)
            cur = []
        cur.append(i)
    if cur:
        out.append(cur)
    return out


def _max_positions(model: Any) -> int:
    cfg = getattr(model, "config", None)
    return int(getattr(cfg, "max_position_embeddings", 0) or 1 << 30)


def _forward_batch(model: Any, seqs: list[_Seq], pad_id: int, prefix_cache: Any | None) -> list[list[float]]:
    """For each sequence, the log-probability of each of its reads, in order."""
    import torch

    longest = max(len(s.ids) for s in seqs)
    ids = torch.full((len(seqs), longest), pad_id, dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, :len(s.ids)] = torch.tensor(s.ids, dtype=torch.long)
    positions = sorted({p for s in seqs for p, *_ in s.reads})
    where = {p: k for k, p in enumerate(positions)}
    device = next(model.parameters()).device
    kwargs: dict[str, Any] = {"logits_to_keep": torch.tensor(positions, device=device),
                              "use_cache": prefix_cache is not None}
    if prefix_cache is not None:
        cache = copy.deepcopy(prefix_cache)
        cache.batch_repeat_interleave(len(seqs))
        kwargs["past_key_values"] = cache
    logits = model(input_ids=ids.to(device), **kwargs).logits  # [B, K, V]
    logp = torch.log_softmax(logits.float(), dim=-1)
    return [[float(logp[r, where[p], t]) for p, t, *_ in s.reads] for r, s in enumerate(seqs)]


def _shared_len(encoded: Sequence[list[int]]) -> int:
    """Length of the token prefix common to every sequence, leaving at least one token in each."""
    if not encoded:
        return 0
    first = encoded[0]
    n = min(len(e) for e in encoded) - 1
    for e in encoded[1:]:
        k = 0
        while k < n and e[k] == first[k]:
            k += 1
        n = k
    return max(n, 0)


def score_mcq(model: Any, tokenizer: Any, items: Sequence[MCQItem], *,
              shots: Mapping[str, Sequence[MCQItem]] | None = None, k: int = 0,
              item_shots: Sequence[Sequence[MCQItem]] | None = None, batch_tokens: int = 4096, max_batch: int = 32, share_prefix: bool = True,
              progress: bool = True) -> list[MCQPrediction]:
    """Predict every item by option log-likelihood; ``k`` shots per subject from ``shots``.

    Returns one :class:`MCQPrediction` per item, in the order of ``items``. A subject with fewer than
    ``k`` shots available uses all it has (logged). ``item_shots`` (one list per item, e.g. from
    :func:`balancedbio.eval.fewshot.random_shots`) gives each item its own shots instead.
    """
    import torch
    from tqdm.auto import tqdm

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    max_len = _max_positions(model)
    by_subject: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        by_subject.setdefault(it.subject, []).append(i)
    scores: list[dict[str, float]] = [dict.fromkeys(it.choices, 0.0) for it in items]
    was_training = model.training
    model.eval()
    bar = tqdm(total=len(items), desc=f"mcq {k}-shot", unit="q", disable=not progress, leave=False)
    device = next(model.parameters()).device
    try:
        with torch.inference_mode():
            for subject, idx in by_subject.items():
                subject_shots = list((shots or {}).get(subject, ()))[:k] if k and item_shots is None else []
                if k and item_shots is None and len(subject_shots) < k:
                    log.warning("%s: only %d of %d shots available", subject, len(subject_shots), k)
                encoded = [encode_item(tokenizer, items[i], subject_shots if item_shots is None else item_shots[i])
                           for i in idx]
                fits = [len(ctx) + max(len(c) for c in conts.values()) <= max_len for ctx, conts in encoded]
                shared = _shared_len([ctx for (ctx, _), ok in zip(encoded, fits) if ok]) if share_prefix else 0
                cache = None
                if shared >= _MIN_SHARED:
                    first = next(ctx for (ctx, _), ok in zip(encoded, fits) if ok)
                    pre = torch.tensor([first[:shared]], device=device)
                    cache = model(input_ids=pre, use_cache=True, logits_to_keep=1).past_key_values
                else:
                    shared = 0
                cached: list[_Seq] = []
                plain: list[_Seq] = []
                for i, (ctx, conts), ok in zip(idx, encoded, fits):
                    for s in _item_seqs(i, ctx, conts, shared if ok else 0, max_len):
                        (cached if ok and shared else plain).append(s)
                for seqs, kv in ((cached, cache), (plain, None)):
                    for batch in _batches([len(s.ids) for s in seqs], batch_tokens, max_batch):
                        chunk = [seqs[j] for j in batch]
                        for s, lps in zip(chunk, _forward_batch(model, chunk, pad_id, kv)):
                            for (_, _, i, letter), lp in zip(s.reads, lps):
                                scores[i][letter] += lp
                bar.update(len(idx))
    finally:
        bar.close()
        model.train(was_training)
    out = []
    for it, lps in zip(items, scores):
        pred = max(lps, key=lambda c: lps[c])  # first letter wins a tie, as numpy's argmax in lm-eval
        out.append(MCQPrediction(it.id, it.subject, it.answer, pred, lps))
    return out


def accuracy_summary(preds: Sequence[MCQPrediction]) -> dict[str, Any]:
    """Per-subject accuracy, the macro average (mean over subjects) and the micro average (over questions)."""
    per: dict[str, list[int]] = {}
    for p in preds:
        per.setdefault(p.subject, []).append(int(p.correct))
    subjects = {s: {"accuracy": sum(v) / len(v), "n": len(v)} for s, v in sorted(per.items())}
    n = sum(len(v) for v in per.values())
    micro = sum(sum(v) for v in per.values()) / n if n else math.nan
    macro = sum(s["accuracy"] for s in subjects.values()) / len(subjects) if subjects else math.nan
    return {"micro": micro, "macro": macro, "n": n, "subjects": subjects}


def timed_score_mcq(*args: Any, **kwargs: Any) -> tuple[list[MCQPrediction], float]:
    """:func:`score_mcq` plus its wall-clock seconds."""
    t0 = time.perf_counter()
    preds = score_mcq(*args, **kwargs)
    return preds, time.perf_counter() - t0
