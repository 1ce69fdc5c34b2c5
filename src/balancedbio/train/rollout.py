"""Fast rollout generation for GRPO: a static KV cache and, on CUDA, the whole decoding step in a CUDA graph.

HF ``generate`` spends most of a decoding step in Python and kernel-launch overhead at GRPO's batch sizes.
:class:`StaticRollout` preallocates a static KV cache (transformers' ``StaticCache``) and fixed-shape
buffers, so one decoding step (forward, temperature/top-k/top-p sampling, EOS bookkeeping, position and
mask update) has the same shapes every time; on CUDA that step is captured once in a CUDA graph and
replayed, with the host checking "all sequences finished?" only every ``sync_every`` steps. On the CPU, or
if capture fails, the same step runs eagerly; :func:`hf_generate` is the plain HF ``generate`` fallback.

Shapes are kept few: prompts are left-padded to the smallest of a few fixed widths (``buckets``,
:func:`bucket_width`) before generation, so GRPO's varying prompt lengths reuse a handful of captured
graphs. Each (batch, width, new tokens, sampling) shape owns a static KV cache, its buffers and, on CUDA,
its graph; at most ``max_cached`` shapes are kept, least recently used first out, and an evicted shape's
graph and cache are released (``torch.cuda.empty_cache`` on CUDA).

Sampling semantics follow HF's warpers (temperature, then top-k, then top-p); a token is drawn with the
Gumbel-max trick (argmax of logits + Gumbel noise), which samples exactly from the softmax and needs no
host synchronisation. Greedy decoding (``do_sample=False``) in fp32 matches HF ``generate`` token for token
(tested); after a sequence emits an EOS token it is padded, as in HF.

Example::

    >>> roll = StaticRollout(model)
    >>> out = roll.generate(input_ids, attention_mask, max_new_tokens=64, sampling=Sampling(do_sample=False),
    ...                     eos_token_ids=[tok.eos_token_id], pad_token_id=tok.pad_token_id)   # [B, <=64]
"""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sampling:
    """Decoding settings (HF ``generate`` meaning)."""

    do_sample: bool = True
    temperature: float = 1.0
    top_k: int = 0          # 0: off
    top_p: float = 1.0      # 1.0: off


def warp_logits(logits: torch.Tensor, s: Sampling) -> torch.Tensor:
    """Temperature, top-k, top-p on [B, V] float logits (HF order); filtered entries become -inf. [B, V]"""
    logits = logits / s.temperature if s.temperature != 1.0 else logits
    if s.top_k and s.top_k < logits.shape[-1]:
        kth = torch.topk(logits, s.top_k, dim=-1).values[:, -1:]                  # [B, 1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if s.top_p < 1.0:
        sorted_logits, idx = torch.sort(logits, dim=-1, descending=False)
        cum = sorted_logits.softmax(-1).cumsum(-1)                                 # [B, V] ascending
        remove_sorted = cum <= (1 - s.top_p)
        remove_sorted[:, -1] = False                                               # keep at least one token
        remove = remove_sorted.scatter(1, idx, remove_sorted)
        logits = logits.masked_fill(remove, float("-inf"))
    return logits


def sample_tokens(logits: torch.Tensor, s: Sampling, generator: torch.Generator | None = None) -> torch.Tensor:
    """Next tokens [B] from [B, V] logits: argmax when greedy, else Gumbel-max over the warped logits."""
    logits = logits.float()
    if not s.do_sample:
        return logits.argmax(-1)
    warped = warp_logits(logits, s)
    u = torch.rand(warped.shape, device=warped.device, generator=generator).clamp_(1e-20, 1.0)
    return (warped - torch.log(-torch.log(u))).argmax(-1)


DEFAULT_BUCKETS = (64, 128, 256, 512, 1024, 2048)


def bucket_width(width: int, buckets: Sequence[int] | None) -> int:
    """The padded prompt width for a batch whose longest prompt has ``width`` tokens: the smallest bucket
    that holds it; past the largest bucket, the next multiple of the largest; ``width`` itself when
    ``buckets`` is empty or None."""
    if not buckets:
        return width
    for b in sorted(buckets):
        if width <= b:
            return b
    top = max(buckets)
    return -(-width // top) * top


def left_pad(input_ids: torch.Tensor, attention_mask: torch.Tensor, width: int,
             pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad [B, P] ids and mask to [B, width] (pad token, mask 0); unchanged when P >= width."""
    extra = width - input_ids.shape[1]
    if extra <= 0:
        return input_ids, attention_mask
    return (torch.nn.functional.pad(input_ids, (extra, 0), value=pad_token_id),
            torch.nn.functional.pad(attention_mask, (extra, 0), value=0))


def hf_generate(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, max_new_tokens: int,
                sampling: Sampling, eos_token_ids: list[int], pad_token_id: int, **kwargs: Any) -> torch.Tensor:
    """HF ``generate`` with the same settings; returns only the new tokens [B, <=max_new_tokens]."""
    out = model.generate(input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=max_new_tokens,
                         do_sample=sampling.do_sample, temperature=sampling.temperature if sampling.do_sample else None,
                         top_k=sampling.top_k if sampling.do_sample else None,
                         top_p=sampling.top_p if sampling.do_sample else None,
                         eos_token_id=list(eos_token_ids), pad_token_id=pad_token_id, **kwargs)
    return out[:, input_ids.shape[1]:]


@functools.cache
def _static_cache_class() -> type:
    """transformers' ``StaticCache`` that stores each update in the dtype its layer was allocated with.

    Under mixed precision (the trainers' bf16 autocast) the key/value states a Llama layer hands the cache are
    not of one dtype: with transformers 5.17 the keys are fp32 (the rotary product promotes them) and the values
    bf16, and an entry kept for reuse may meet the other autocast state. The static layers allocate both
    buffers in the first keys' dtype and ``index_copy_`` into them, which refuses another dtype (seen on an
    H200: "self and source expected to have the same dtype"). Casting to the buffers' dtype is exact for fp32
    runs (nothing to cast) and is what attention reads under autocast anyway."""
    from transformers import StaticCache

    class _Cache(StaticCache):
        def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args: Any,
                   **kwargs: Any) -> Any:
            layer = self.layers[layer_idx] if layer_idx < len(self.layers) else None
            keys = getattr(layer, "keys", None) if getattr(layer, "is_initialized", False) else None
            if isinstance(keys, torch.Tensor):
                key_states, value_states = key_states.to(keys.dtype), value_states.to(layer.values.dtype)
            else:  # the layer allocates both buffers in the keys' dtype
                value_states = value_states.to(key_states.dtype)
            return super().update(key_states, value_states, layer_idx, *args, **kwargs)

    return _Cache


def cache_positions(cache: Any) -> list[torch.Tensor | None]:
    """A copy of each cache layer's write position (``cumulative_length`` when it is a tensor), so steps run
    only to warm up a CUDA graph capture can be undone with :func:`restore_cache_positions`."""
    out: list[torch.Tensor | None] = []
    for layer in getattr(cache, "layers", []):
        pos = getattr(layer, "cumulative_length", None)
        out.append(pos.clone() if isinstance(pos, torch.Tensor) else None)
    return out


def restore_cache_positions(cache: Any, positions: list[torch.Tensor | None]) -> None:
    """Put back the write positions :func:`cache_positions` copied (in place: a captured graph holds them)."""
    for layer, pos in zip(getattr(cache, "layers", []), positions):
        if pos is not None:
            layer.cumulative_length.copy_(pos)


class StaticRollout:
    """Static-cache decoding with an optional CUDA-graph step (see the module docstring).

    ``use_cuda_graph``: None = on when the model is on CUDA. ``buckets``: prompt widths the prompts are
    left-padded to (None or empty: no padding). ``max_cached``: shapes whose cache, buffers and graph are
    kept for reuse (LRU); ``evictions`` counts the shapes released.
    """

    def __init__(self, model: Any, *, use_cuda_graph: bool | None = None, sync_every: int = 16,
                 buckets: Sequence[int] | None = DEFAULT_BUCKETS, max_cached: int = 4):
        if max_cached < 1:
            raise ValueError(f"max_cached must be at least 1, got {max_cached}")
        self.model = model
        device = next(model.parameters()).device
        self.use_cuda_graph = (device.type == "cuda") if use_cuda_graph is None else use_cuda_graph
        self.sync_every = max(1, sync_every)
        self.buckets = tuple(sorted(buckets)) if buckets else ()
        self.max_cached = max_cached
        self._entries: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
        self.graph_failures = 0
        self.evictions = 0

    def cached_shapes(self) -> list[tuple]:
        """Keys (batch, width, max new tokens, sampling) of the kept shapes, least recently used first."""
        return list(self._entries)

    def _entry(self, key: tuple, make: Any) -> tuple[dict[str, Any], bool]:
        """The kept entry for ``key`` (marked most recently used), or a new one from ``make()``, evicting
        the least recently used beyond ``max_cached``. Returns (entry, reused)."""
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key], True
        entry = make()
        self._entries[key] = entry
        while len(self._entries) > self.max_cached:
            _, old = self._entries.popitem(last=False)
            self._release(old)
        return entry, False

    def _release(self, entry: dict[str, Any]) -> None:
        graph = entry.pop("graph", None)
        if graph is not None:
            graph.reset()
        entry.clear()
        self.evictions += 1
        if torch.cuda.is_available() and self.use_cuda_graph:
            torch.cuda.empty_cache()

    # -- shared pieces -------------------------------------------------------------------------------

    def _new_cache(self, batch: int, max_len: int) -> Any:
        cfg = self.model.config.get_text_config() if hasattr(self.model.config, "get_text_config") else self.model.config
        return _static_cache_class()(config=cfg, max_cache_len=max_len)

    def _prefill(self, input_ids, attention_mask, cache, full_mask, sampling, generator):
        b, p = input_ids.shape
        position_ids = attention_mask.long().cumsum(-1) - 1
        position_ids.masked_fill_(attention_mask == 0, 1)
        out = self.model(input_ids=input_ids, attention_mask=full_mask[:, :p], position_ids=position_ids,
                         past_key_values=cache, cache_position=torch.arange(p, device=input_ids.device),
                         use_cache=True, logits_to_keep=1)
        next_tok = sample_tokens(out.logits[:, -1], sampling, generator)           # [B]
        last_pos = position_ids[:, -1:]                                            # [B, 1]
        return next_tok, last_pos

    def _step(self, buf: dict[str, torch.Tensor], cache: Any, sampling: Sampling, eos: torch.Tensor,
              pad_token_id: int, generator: torch.Generator | None) -> None:
        """One decoding step on fixed-shape buffers, in place (capturable in a CUDA graph)."""
        tok, pos, cpos, mask, done, out = buf["tok"], buf["pos"], buf["cpos"], buf["mask"], buf["done"], buf["out"]
        b = tok.shape[0]
        mask.scatter_(1, cpos.view(1, 1).expand(b, 1), 1)
        logits = self.model(input_ids=tok, attention_mask=mask, position_ids=pos, past_key_values=cache,
                            cache_position=cpos, use_cache=True).logits[:, -1]
        nxt = sample_tokens(logits, sampling, generator)
        nxt = torch.where(done, torch.full_like(nxt, pad_token_id), nxt)
        out.scatter_(1, (cpos - buf["prompt_len"]).view(1, 1).expand(b, 1), nxt.view(b, 1))
        done.logical_or_(torch.isin(nxt, eos))
        tok.copy_(nxt.view(b, 1))
        pos.add_(1)
        cpos.add_(1)

    # -- public --------------------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, max_new_tokens: int,
                 sampling: Sampling = Sampling(), eos_token_ids: list[int], pad_token_id: int,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """New tokens [B, <=max_new_tokens] for left-padded ``input_ids`` / ``attention_mask`` [B, P]."""
        device = input_ids.device
        input_ids, attention_mask = left_pad(input_ids, attention_mask,
                                             bucket_width(input_ids.shape[1], self.buckets), pad_token_id)
        b, p = input_ids.shape
        max_len = p + max_new_tokens
        eos = torch.tensor(list(eos_token_ids), device=device, dtype=torch.long)
        key = (b, p, max_new_tokens, sampling)

        def make() -> dict[str, Any]:
            return {"cache": self._new_cache(b, max_len), "graph": None, "buf": {
                "tok": torch.empty(b, 1, dtype=torch.long, device=device),
                "pos": torch.empty(b, 1, dtype=torch.long, device=device),
                "cpos": torch.empty(1, dtype=torch.long, device=device),
                "mask": torch.empty(b, max_len, dtype=attention_mask.dtype, device=device),
                "done": torch.empty(b, dtype=torch.bool, device=device),
                "out": torch.empty(b, max_new_tokens, dtype=torch.long, device=device),
                "prompt_len": torch.tensor(p - 1, device=device)}}

        entry, reused = self._entry(key, make)
        cache, buf = entry["cache"], entry["buf"]
        if reused:
            cache.reset()
        full_mask = torch.zeros(b, max_len, dtype=attention_mask.dtype, device=device)
        full_mask[:, :p] = attention_mask
        first, last_pos = self._prefill(input_ids, attention_mask, cache, full_mask, sampling, generator)
        done0 = torch.isin(first, eos)
        buf["tok"].copy_(first.view(b, 1))
        buf["pos"].copy_(last_pos + 1)
        buf["cpos"].fill_(p)
        buf["mask"].copy_(full_mask)
        buf["done"].copy_(done0)
        buf["out"].fill_(pad_token_id)
        buf["out"][:, 0] = first
        if max_new_tokens == 1 or bool(done0.all()):
            return buf["out"][:, :1].clone()
        graph = entry["graph"] if self.use_cuda_graph else None
        if graph is None and self.use_cuda_graph:
            graph = self._capture(entry, buf, cache, sampling, eos, pad_token_id)
        steps = 1
        while steps < max_new_tokens:
            if graph is not None:
                graph.replay()
            else:
                self._step(buf, cache, sampling, eos, pad_token_id, generator)
            steps += 1
            if steps % self.sync_every == 0 or graph is None:
                if bool(buf["done"].all()):
                    break
        out = buf["out"][:, :steps]
        # trim trailing all-pad columns (every sequence finished earlier)
        finished_at = self._length(out, eos)
        return out[:, :finished_at].clone()

    @staticmethod
    def _length(out: torch.Tensor, eos: torch.Tensor) -> int:
        """Columns up to the step where the last sequence emitted EOS (or all of them)."""
        is_eos = torch.isin(out, eos)
        has = is_eos.any(1)
        if not bool(has.all()):
            return out.shape[1]
        first = is_eos.float().argmax(1)
        return int(first.max()) + 1

    def _capture(self, entry, buf, cache, sampling, eos, pad_token_id):
        """Warm up and capture one decoding step in a CUDA graph; None (eager fallback) if that fails."""
        try:
            snapshot = {k: v.clone() for k, v in buf.items()}
            # the warm-up steps advance the cache's own write position (transformers' static layers keep
            # it in a tensor, ``cumulative_length``): put it back, or every replay writes past the prompt's
            # true end and the last ones past the cache (an index_copy_ device assert)
            positions = cache_positions(cache)
            # the warm-up steps draw random numbers: restore the generator afterwards, so a first call
            # (warm-up + capture) samples the same tokens as a later call that only replays the graph
            rng = torch.cuda.get_rng_state(buf["tok"].device)
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(2):  # warm-up on a side stream, as torch.cuda.graphs requires
                    self._step(buf, cache, sampling, eos, pad_token_id, None)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            for k, v in snapshot.items():
                buf[k].copy_(v)
            restore_cache_positions(cache, positions)
            with torch.cuda.graph(graph):
                self._step(buf, cache, sampling, eos, pad_token_id, None)
            for k, v in snapshot.items():  # restore what the warm-up steps consumed
                buf[k].copy_(v)
            torch.cuda.set_rng_state(rng, buf["tok"].device)
            entry["graph"] = graph
            return graph
        except Exception as exc:  # noqa: BLE001  any capture problem falls back to the eager step
            self.graph_failures += 1
            log.warning("CUDA graph capture failed (%s); decoding eagerly", exc)
            self.use_cuda_graph = False
            return None
