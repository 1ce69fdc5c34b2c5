"""Per-capability gradients through the training engine, and gradient surgery on each rank's own shard.

One backward pass per capability present in the global batch runs through the *wrapped* model (the engine's
``backward``: ``accelerator.backward`` in the trainer), so the engine's hooks do their usual work:

- 1 process: ``.grad`` is the capability's gradient;
- DDP: the backward all-reduces (averages) ``.grad`` over ranks, so every rank holds the same full gradient;
- FSDP2 (``fully_shard``): the backward reduce-scatters (averages) it, so ``.grad`` is a DTensor whose local
  tensor is this rank's shard.

After each pass the rank moves its *local* gradient (its shard under FSDP2) into row k of a [K, D_local]
float32 buffer and clears ``.grad`` for the next capability. Every rank runs the same passes in the same order
(a rank without rows of a capability runs a zero-weighted loss), because each pass is a collective.

Surgery then needs only the K x K Gram matrix: each rank computes it over its buffer; under a sharded engine
the partial matrices are summed (one all-reduce of K*K numbers), under a replicated one (1 process, DDP) the
local matrix already is the full one and is not summed. The coefficients (:func:`balancedbio.surgery.
surgery_coefficients`) are therefore the same on every rank, and each rank writes ``coeffs @ buffer`` into its
own ``.grad`` (shard). Memory per rank: K x D / N float32 for the buffer (N = 1 unless sharded) plus one
gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from balancedbio.surgery import surgery_coefficients


def _dtensor_type():
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # pragma: no cover - torch without DTensor
        return None
    return DTensor


def local_tensor(t: torch.Tensor) -> torch.Tensor:
    """The part of ``t`` this rank holds: a DTensor's local shard, any other tensor itself."""
    dt = _dtensor_type()
    return t.to_local() if dt is not None and isinstance(t, dt) else t


def is_sharded(params: Sequence[torch.Tensor]) -> bool:
    """True when the parameters are DTensor shards (FSDP2), i.e. each rank holds only part of a gradient."""
    dt = _dtensor_type()
    return dt is not None and any(isinstance(p, dt) for p in params)


def buffer_numel(params: Sequence[torch.Tensor]) -> int:
    """D_local: the number of gradient entries this rank holds (D / N under FSDP2, D otherwise)."""
    return sum(local_tensor(p).numel() for p in params)


@dataclass
class CapabilityGrads:
    """The result of :func:`collect`: the [K, D_local] buffer and the summed per-capability losses."""

    buffer: torch.Tensor
    loss: torch.Tensor
    sharded: bool


def collect(params: Sequence[torch.nn.Parameter], num_caps: int,
            loss_for: Callable[[int], torch.Tensor], backward: Callable[[torch.Tensor], None]) -> CapabilityGrads:
    """Run ``backward(loss_for(k))`` for k = 0..K-1 and keep each pass's local gradient in a [K, D_local] buffer.

    ``loss_for(k)`` must return a loss on every rank (a zero-weighted one where the rank holds no row of the
    k-th capability). ``.grad`` is left as None on return; any gradient present on entry (accumulated from an
    earlier micro-batch) is restored by :func:`apply` after the combined gradient is added.
    """
    params = list(params)
    sizes = [local_tensor(p).numel() for p in params]
    device = params[0].device if params else torch.device("cpu")
    buffer = torch.zeros(num_caps, sum(sizes), device=device, dtype=torch.float32)
    total = torch.zeros((), device=device)
    for k in range(num_caps):
        loss = loss_for(k)
        backward(loss)
        total = total + loss.detach().float()
        offset = 0
        for p, n in zip(params, sizes):
            if p.grad is not None:
                buffer[k, offset: offset + n] = local_tensor(p.grad).reshape(-1).float()
                p.grad = None
            offset += n
    return CapabilityGrads(buffer=buffer, loss=total, sharded=is_sharded(params))


def gram(grads: CapabilityGrads) -> torch.Tensor:
    """The full K x K Gram matrix (float64): local for replicated gradients, summed over ranks for shards."""
    g = grads.buffer.double()
    partial = g @ g.T
    if grads.sharded and torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(partial, op=torch.distributed.ReduceOp.SUM)   # K*K numbers
    return partial


def combine(grads: CapabilityGrads, method: str, *, seed: int | None = None, c: float = 0.5,
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Surgery on this rank's buffer: (combined [D_local], gram [K, K] float64, coeffs [K] float64)."""
    full = gram(grads)
    coeffs = surgery_coefficients(full, method, seed=seed, c=c)
    combined = coeffs.to(grads.buffer.device, torch.float32) @ grads.buffer
    return combined, full, coeffs


def apply(params: Sequence[torch.nn.Parameter], combined: torch.Tensor,
          previous: Sequence[torch.Tensor | None] | None = None) -> None:
    """Write the combined local gradient into ``.grad`` (a DTensor shard under FSDP2), plus ``previous``."""
    dt = _dtensor_type()
    offset = 0
    for i, p in enumerate(params):
        local = local_tensor(p)
        g = combined[offset: offset + local.numel()].view_as(local).to(local.dtype)
        offset += local.numel()
        if dt is not None and isinstance(p, dt):
            g = dt.from_local(g.clone(), p.device_mesh, p.placements, run_check=False, shape=p.shape,
                              stride=p.stride())
        else:
            g = g.clone()
        prev = previous[i] if previous is not None else None
        p.grad = g if prev is None else prev + g


def take_grads(params: Sequence[torch.nn.Parameter]) -> list[torch.Tensor | None]:
    """Detach and return the gradients already present (gradient accumulation), leaving ``.grad`` None."""
    out = []
    for p in params:
        out.append(p.grad)
        p.grad = None
    return out


def collect_and_combine(params: Sequence[torch.nn.Parameter], num_caps: int,
                        loss_for: Callable[[int], torch.Tensor], backward: Callable[[torch.Tensor], None],
                        method: str, *, seed: int | None = None, c: float = 0.5,
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """The whole step: K backward passes, Gram, coefficients, combined ``.grad``.

    Returns (summed loss, gram [K, K], coeffs [K], buffer bytes on this rank).
    """
    params = list(params)
    previous = take_grads(params)
    grads = collect(params, num_caps, loss_for, backward)
    combined, full, coeffs = combine(grads, method, seed=seed, c=c)
    apply(params, combined, previous if any(g is not None for g in previous) else None)
    return grads.loss, full, coeffs, grads.buffer.numel() * grads.buffer.element_size()
