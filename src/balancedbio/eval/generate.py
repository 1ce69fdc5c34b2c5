"""Batched greedy generation for the generative evaluation tasks (reasoning, instructions, integration).

Prompts are built by :mod:`balancedbio.prompts` (the chat template when the tokenizer has one, else the
base-model format training uses), sorted by length, left-padded and generated in batches; the decoded completions
come back in the input order. Greedy decoding by default, so an evaluation is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from balancedbio.config import option
from balancedbio.prompts import build_prompt_ids

__all__ = ["GenerationConfig", "generate_batch", "prompt_messages"]


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings for generative tasks."""

    max_new_tokens: int = option(256, "Most tokens generated per answer.", min=1)
    batch_size: int = option(8, "Prompts generated together.", min=1)
    temperature: float = option(0.0, "0 = greedy decoding (deterministic); > 0 samples.", min=0.0)
    top_p: float = option(1.0, "Nucleus sampling mass (when temperature > 0).", min=0.0, max=1.0)
    max_prompt_tokens: int = option(1024, "Longer prompts keep their last tokens.", min=16)


def prompt_messages(row: dict[str, Any]) -> list[dict[str, str]]:
    """The conversation up to (not including) the first assistant turn of a synthetic-data row."""
    msgs = []
    for m in row.get("messages") or []:
        if m.get("role") == "assistant":
            break
        msgs.append({"role": m["role"], "content": m["content"]})
    return msgs


def generate_batch(model: Any, tokenizer: Any, conversations: Sequence[list[dict[str, str]]],
                   cfg: GenerationConfig = GenerationConfig(), *, progress: bool = True,
                   desc: str = "generate") -> list[str]:
    """One completion (decoded text, special tokens removed) per conversation, in input order."""
    import torch
    from tqdm.auto import tqdm

    prompts = [build_prompt_ids(tokenizer, list(c))[0].tolist()[-cfg.max_prompt_tokens:] for c in conversations]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    out: list[str] = [""] * len(prompts)
    was_training = model.training
    model.eval()
    sample = cfg.temperature > 0
    gen_kwargs: dict[str, Any] = {"max_new_tokens": cfg.max_new_tokens, "do_sample": sample,
                                  "pad_token_id": pad_id}
    if sample:
        gen_kwargs.update(temperature=cfg.temperature, top_p=cfg.top_p)
    else:
        gen_kwargs.update(temperature=None, top_p=None, top_k=None)
    try:
        with torch.inference_mode():
            for start in tqdm(range(0, len(order), cfg.batch_size), desc=desc, unit="batch",
                              disable=not progress, leave=False):
                idx = order[start:start + cfg.batch_size]
                longest = max(len(prompts[i]) for i in idx)
                ids = torch.full((len(idx), longest), pad_id, dtype=torch.long)
                mask = torch.zeros((len(idx), longest), dtype=torch.long)
                for r, i in enumerate(idx):  # left padding: generation continues every row at the end
                    p = prompts[i]
                    ids[r, longest - len(p):] = torch.tensor(p)
                    mask[r, longest - len(p):] = 1
                gen = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **gen_kwargs)
                new = gen[:, longest:]  # [B, <= max_new_tokens]
                for r, i in enumerate(idx):
                    out[i] = tokenizer.decode(new[r], skip_special_tokens=True).strip()
    finally:
        model.train(was_training)
    return out
