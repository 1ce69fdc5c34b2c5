"""LLM backends that rewrite template items: a local Hugging Face model or an OpenAI-compatible endpoint.

The LLM only rephrases the question stem (and vignette narrative); options, answers, checks and facts
stay those of the template item, and the rewritten text is validated like everything else (entities
must still be named, no claim the graph refutes, no unknown identifiers). Endpoint URL and model come
from the config; the API key only from the environment variable the config names (never logged, never
written to the manifest). Answers are cached by prompt hash in the output's work directory, so a resumed
run does not ask again.

Example (a vLLM server)::

    export OPENAI_API_KEY=...        # or whatever llm.api_key_env names
    balancedbio synth --num-examples 200 --output data/ backend=openai \\
        llm.url=http://localhost:8000/v1 llm.model=Qwen/Qwen2.5-7B-Instruct
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from balancedbio.errors import ModelError

REWRITE_INSTRUCTION = (
    "Rewrite the following medical text in different words for a medical exam. Keep every disease, "
    "gene and clinical finding name exactly as written, add no new medical facts, and output only the "
    "rewritten text.\n\nText:\n{text}")


class LLMError(Exception):
    """The backend returned something unusable for this item (counted as a drop, not fatal)."""


class Rewriter:
    """Common part: caching by prompt hash (a JSONL file in the work directory)."""

    name = "llm"

    def __init__(self, cache_path: Path | None = None):
        self.cache_path = cache_path
        self.cache: dict[str, str] = {}
        if cache_path is not None and cache_path.exists():
            data = cache_path.read_bytes()
            if data and not data.endswith(b"\n"):
                with open(cache_path, "r+b") as fh:     # cut a torn last line so the next append starts clean
                    fh.truncate(data.rfind(b"\n") + 1)
            with open(cache_path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        rec = json.loads(line)
                        self.cache[rec["key"]] = rec["text"]
                    except (json.JSONDecodeError, KeyError):
                        continue      # a torn last line from an interrupted run
        self.calls = 0

    def rewrite(self, text: str, *, seed: int) -> str:
        key = hashlib.sha256(f"{seed}\n{text}".encode()).hexdigest()[:24]
        if key in self.cache:
            return self.cache[key]
        out = self._generate(REWRITE_INSTRUCTION.format(text=text), seed=seed).strip()
        self.calls += 1
        if not out or len(out) > 4 * len(text) + 200:
            raise LLMError("malformed")
        self.cache[key] = out
        if self.cache_path is not None:
            with open(self.cache_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"key": key, "text": out}, ensure_ascii=False) + "\n")
        return out

    def _generate(self, prompt: str, *, seed: int) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


class HFRewriter(Rewriter):
    """A local causal LM loaded with :func:`balancedbio.models.load_model` (safetensors only)."""

    name = "hf"

    def __init__(self, model: str | None, *, max_new_tokens: int, temperature: float, cache_path=None):
        super().__init__(cache_path)
        from balancedbio.models import load_model

        self.model, self.tokenizer = load_model(model or "default")
        self.model.eval()
        self.max_new_tokens, self.temperature = max_new_tokens, temperature

    def _generate(self, prompt: str, *, seed: int) -> str:
        import torch

        from balancedbio.prompts import build_prompt_ids

        ids = build_prompt_ids(self.tokenizer, [{"role": "user", "content": prompt}])   # [1, T]
        torch.manual_seed(seed)
        sample = self.temperature > 0
        with torch.no_grad():
            out = self.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=sample,
                                      temperature=self.temperature if sample else None,
                                      top_p=0.95 if sample else None, max_new_tokens=self.max_new_tokens,
                                      pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)
        return self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


class OpenAIRewriter(Rewriter):
    """Any OpenAI-compatible ``/chat/completions`` endpoint (vLLM, llama.cpp server, a hosted API)."""

    name = "openai"

    def __init__(self, url: str, model: str, *, api_key_env: str, timeout_s: float, retries: int,
                 max_new_tokens: int, temperature: float, cache_path=None):
        super().__init__(cache_path)
        if not url:
            raise ModelError("backend 'openai' needs llm.url (e.g. http://localhost:8000/v1)")
        base = url.rstrip("/")
        self.endpoint = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.model, self.timeout_s, self.retries = model, timeout_s, retries
        self.max_new_tokens, self.temperature = max_new_tokens, temperature
        self._key = os.environ.get(api_key_env, "") if api_key_env else ""

    def _generate(self, prompt: str, *, seed: int) -> str:
        body = json.dumps({"model": self.model, "messages": [{"role": "user", "content": prompt}],
                           "max_tokens": self.max_new_tokens, "temperature": self.temperature,
                           "seed": seed}).encode()
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        last = ""
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    raw = resp.read()
                break
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code in (400, 401, 403, 404):
                    raise ModelError(f"LLM endpoint {self.endpoint} answered {last}; check llm.url, llm.model "
                                     "and the API key variable") from None
            except TimeoutError:
                last = f"timed out after {self.timeout_s:g}s"
            except urllib.error.URLError as exc:
                last = f"unreachable ({exc.reason})"
            time.sleep(min(2 ** attempt * 0.5, 5))
        else:
            raise ModelError(f"LLM endpoint {self.endpoint} {last} ({self.retries + 1} tries)")
        try:
            data: Any = json.loads(raw)
            return str(data["choices"][0]["message"]["content"])
        except (json.JSONDecodeError, KeyError, IndexError, TypeError):
            raise LLMError("malformed") from None
