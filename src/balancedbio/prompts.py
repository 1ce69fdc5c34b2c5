"""The one prompt builder: how a conversation becomes token ids, for training and for generation alike.

With a chat template the tokenizer's template renders the conversation (``add_generation_prompt`` for
generation). Without one (base models such as Gemma 3 270M) every turn is a ``Role: text`` line and the
assistant turn starts with ``"Assistant: "`` (:data:`ASSISTANT_HEAD`), each piece tokenized on its own:

    [BOS] "User: <text>\\n" "Assistant: " "<answer>\\n" [EOS]

Training (:func:`encode_conversation`, used by ``balancedbio.train.data``) and generation
(:func:`prompt_ids`, used by evaluation, synth, embeddings and chat) build those ids with the same code, so
the prompt a model is asked with is token for token the prefix it was trained on.

Example::

    >>> ids = prompt_ids(tokenizer, [{"role": "user", "content": "Which gene is mutated in CF?"}])
    >>> ids == encode_conversation(tokenizer, [{"role": "user", "content": "Which gene is mutated in CF?"},
    ...                                        {"role": "assistant", "content": "CFTR"}])[0][:len(ids)]
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from balancedbio.errors import DataError

__all__ = ["ASSISTANT_HEAD", "has_chat_template", "encode_conversation", "prompt_ids", "build_prompt_ids"]

ASSISTANT_HEAD = "Assistant: "


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def _ids(encoded: Any) -> list[int]:
    ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded
    return list(ids)


def _piece(tokenizer: Any, text: str) -> list[int]:
    return _ids(tokenizer(text, add_special_tokens=False))


def _bos(tokenizer: Any) -> list[int]:
    return [tokenizer.bos_token_id] if getattr(tokenizer, "bos_token_id", None) is not None else []


def _line(m: dict[str, str]) -> str:
    return f"{m['role'].capitalize()}: {m['content']}\n"


def encode_conversation(tokenizer: Any, messages: Sequence[dict[str, str]]) -> tuple[list[int], list[int]]:
    """``(input_ids, labels)`` for a whole conversation, labels ``-100`` outside assistant turns.

    With a chat template, each assistant turn's span is the difference between the conversation rendered
    up to and including that turn and the same prefix rendered with a generation prompt, so the turn's
    end-of-turn marker carries loss and the role header does not. Without a template, the base format above;
    each assistant turn ends with the EOS token, which carries loss.
    """
    messages = list(messages)
    if has_chat_template(tokenizer):
        full = _ids(tokenizer.apply_chat_template(messages, tokenize=True))
        labels = [-100] * len(full)
        for i, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            start = len(_ids(tokenizer.apply_chat_template(messages[:i], tokenize=True,
                                                           add_generation_prompt=True))) if i else 0
            upto = _ids(tokenizer.apply_chat_template(messages[:i + 1], tokenize=True))
            if full[:len(upto)] != upto:
                raise DataError("the chat template does not render conversations prefix-consistently; "
                                "cannot locate assistant tokens")
            labels[start:len(upto)] = full[start:len(upto)]
        return full, labels
    ids = _bos(tokenizer)
    labels = [-100] * len(ids)
    for m in messages:
        if m["role"] == "assistant":
            head = _piece(tokenizer, ASSISTANT_HEAD)
            body = _piece(tokenizer, m["content"] + "\n") + [tokenizer.eos_token_id]
            ids += head + body
            labels += [-100] * len(head) + body
        else:
            part = _piece(tokenizer, _line(m))
            ids += part
            labels += [-100] * len(part)
    return ids, labels


def prompt_ids(tokenizer: Any, messages: Sequence[dict[str, str]]) -> list[int]:
    """Token ids of ``messages`` (ending with a user turn) followed by the assistant turn's start, for generation."""
    messages = list(messages)
    if has_chat_template(tokenizer):
        return _ids(tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True))
    ids = _bos(tokenizer)
    for m in messages:
        ids += _piece(tokenizer, _line(m)) if m["role"] != "assistant" else \
            _piece(tokenizer, ASSISTANT_HEAD) + _piece(tokenizer, m["content"] + "\n") + [tokenizer.eos_token_id]
    return ids + _piece(tokenizer, ASSISTANT_HEAD)


def build_prompt_ids(tokenizer: Any, messages: Sequence[dict[str, str]]) -> Any:
    """:func:`prompt_ids` as a ``[1, T]`` torch tensor."""
    import torch

    return torch.tensor([prompt_ids(tokenizer, messages)], dtype=torch.long)
