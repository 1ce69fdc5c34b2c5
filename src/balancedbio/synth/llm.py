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
from pathlib import Path

from balancedbio.synth.cache import PromptCache

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
        self._cache = PromptCache(cache_path)
        self.cache = self._cache.data
        self.calls = 0

    def rewrite(self, text: str, *, seed: int) -> str:
        key = hashlib.sha256(f"{seed}\n{text}".encode()).hexdigest()[:24]
        if key in self.cache:
            return self.cache[key]
        out = self._generate(REWRITE_INSTRUCTION.format(text=text), seed=seed).strip()
        self.calls += 1
        if not out or len(out) > 4 * len(text) + 200:
            raise LLMError("malformed")
        self._cache.put(key, out)
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
    """Any OpenAI-compatible ``/chat/completions`` endpoint (vLLM, llama.cpp server, a hosted API), through
    :class:`~balancedbio.synth.client.ChatClient` (retries with backoff, per-request timeout)."""

    name = "openai"

    def __init__(self, url: str, model: str, *, api_key_env: str, timeout_s: float, retries: int,
                 max_new_tokens: int, temperature: float, cache_path=None):
        super().__init__(cache_path)
        from balancedbio.synth.client import ChatClient

        self.client = ChatClient(url, model, api_key_env=api_key_env, timeout_s=timeout_s, retries=retries)
        self.endpoint, self.model = self.client.endpoint, model
        self.max_new_tokens, self.temperature = max_new_tokens, temperature

    def _generate(self, prompt: str, *, seed: int) -> str:
        return self.client.submit([{"role": "user", "content": prompt}], seed=seed, max_tokens=self.max_new_tokens,
                                  temperature=self.temperature).result()
