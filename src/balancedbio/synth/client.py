"""A chat client for an OpenAI-compatible server (vLLM, ``transformers serve``, llama.cpp, a hosted API).

Built on the ``openai`` package: its client retries 408/409/429/5xx answers, timeouts and dropped
connections with exponential backoff (0.5 s doubling to 8 s, jittered, ``Retry-After`` honoured) up to
``retries`` times, and gives every request ``timeout_s``. We add a bounded number of requests in flight
(``concurrency`` worker threads: a vLLM server batches what it is sent at once), the prompt-hash cache,
a probe before any work (unreachable / 401 / unknown model is one line, exit 2) and the split between
fatal errors (:class:`~balancedbio.errors.ModelError`: the server is down or refuses us) and per-item
ones (:class:`~balancedbio.synth.llm.LLMError`: counted as a drop).

The API key is read from the environment variable the config names and handed to the client only; it is
never logged, cached or written.

Example::

    client = ChatClient("http://127.0.0.1:8000/v1", "Qwen/Qwen2.5-7B-Instruct", api_key_env="OPENAI_API_KEY",
                        timeout_s=60, retries=3, concurrency=16)
    client.probe()
    future = client.submit([{"role": "user", "content": "..."}], seed=1, max_tokens=256, temperature=0.7)
    text = future.result()
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from balancedbio.errors import ModelError
from balancedbio.synth.cache import PromptCache, prompt_key
from balancedbio.synth.llm import LLMError


def base_url(url: str) -> str:
    """``http://host:port/v1`` from a base URL or a full ``.../chat/completions`` URL."""
    return url.rstrip("/").removesuffix("/chat/completions")


class ChatClient:
    """Chat completions with bounded concurrency, retries, a timeout and a prompt-hash cache."""

    def __init__(self, url: str, model: str, *, api_key_env: str, timeout_s: float, retries: int,
                 concurrency: int = 1, cache: PromptCache | None = None):
        import openai

        if not url:
            raise ModelError("an OpenAI-compatible backend needs llm.url (e.g. http://localhost:8000/v1)")
        self.endpoint, self.model = base_url(url), model
        self.timeout_s, self.retries = timeout_s, retries
        self.cache = cache if cache is not None else PromptCache(None)
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        # the openai client insists on a key; servers without auth ignore the placeholder
        self._client = openai.OpenAI(base_url=self.endpoint, api_key=key or "no-key", timeout=timeout_s,
                                     max_retries=retries)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="llm")
        self.calls = 0

    # ---------------------------------------------------------------------------------------------
    def probe(self) -> None:
        """One cheap request before any row is written: the model list (or, where a server has none, a
        one-token completion). Raises ModelError with one line for unreachable / 401 / unknown model."""
        import openai

        try:
            served = [m.id for m in self._client.models.list()]
        except openai.NotFoundError:
            served = None
        except Exception as exc:                     # noqa: BLE001 - mapped to one line below
            raise self._fatal(exc) from None
        if served is not None and self.model not in served:
            raise ModelError(f"LLM endpoint {self.endpoint} does not serve model '{self.model}' (llm.model); "
                             f"it serves: {', '.join(served[:5]) or 'nothing'}")
        if served is None:
            try:
                self._complete([{"role": "user", "content": "Say OK."}], seed=0, max_tokens=1, temperature=0.0)
            except LLMError as exc:
                raise ModelError(f"LLM endpoint {self.endpoint} refused a one-token request for model "
                                 f"'{self.model}' ({exc}); check llm.model") from None

    def submit(self, messages: list[dict[str, str]], *, seed: int, max_tokens: int,
               temperature: float) -> Future:
        """A future for the answer text: cached answers resolve at once; the others go to the pool."""
        key = prompt_key(self.model, messages, seed, max_tokens, temperature)
        hit = self.cache.get(key)
        if hit is not None:
            done: Future = Future()
            done.set_result(hit)
            return done
        return self._pool.submit(self._complete_and_cache, key, messages, seed, max_tokens, temperature)

    def close(self) -> None:
        """Drop queued requests and close the connections (a request still in flight fails in its thread),
        so Ctrl-C or the end of a run never waits out ``timeout_s``."""
        self.cache.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    # ---------------------------------------------------------------------------------------------
    def _complete_and_cache(self, key: str, messages, seed: int, max_tokens: int, temperature: float) -> str:
        text = self._complete(messages, seed=seed, max_tokens=max_tokens, temperature=temperature)
        self.cache.put(key, text)
        return text

    def _complete(self, messages, *, seed: int, max_tokens: int, temperature: float) -> str:
        import openai

        try:
            resp = self._client.chat.completions.create(model=self.model, messages=messages, seed=seed,
                                                        max_tokens=max_tokens, temperature=temperature)
        except openai.BadRequestError:
            raise LLMError("http_400") from None    # this prompt (too long, ...): a drop, not a dead server
        except Exception as exc:                     # noqa: BLE001 - mapped to one line below
            raise self._fatal(exc) from None
        self.calls += 1
        try:
            text = resp.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            raise LLMError("malformed") from None
        if not isinstance(text, str) or not text.strip():
            raise LLMError("malformed")
        return text

    def _fatal(self, exc: Exception) -> Exception:
        """The one-line error for a failure that retrying did not cure (the key never appears in it)."""
        import openai

        tries = f"{self.retries + 1} tries"
        if isinstance(exc, openai.APITimeoutError):
            return ModelError(f"LLM endpoint {self.endpoint} timed out after {self.timeout_s:g}s ({tries}); "
                              "raise llm.timeout_s or check the server")
        if isinstance(exc, openai.APIConnectionError):
            return ModelError(f"LLM endpoint {self.endpoint} unreachable ({tries}); check llm.url and that the "
                              "server is running")
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return ModelError(f"LLM endpoint {self.endpoint} answered HTTP {exc.status_code}; check the API key "
                              "variable (llm.api_key_env)")
        if isinstance(exc, openai.APIStatusError):
            return ModelError(f"LLM endpoint {self.endpoint} answered HTTP {exc.status_code} ({tries}); check "
                              "llm.url and llm.model")
        if isinstance(exc, openai.OpenAIError):
            return ModelError(f"LLM endpoint {self.endpoint}: {type(exc).__name__}")
        return exc


def chat_client_kwargs(llm: Any) -> dict[str, Any]:
    """ChatClient keyword arguments from an ``LLMConfig``."""
    return {"api_key_env": llm.api_key_env, "timeout_s": llm.timeout_s, "retries": llm.retries,
            "concurrency": llm.concurrency}
