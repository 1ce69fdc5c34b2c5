"""The gradient engine in one process: buffers, surgery on the Gram matrix, write-back, accumulation."""

from __future__ import annotations

import pytest
import torch

from balancedbio.surgery import combine_gradients
from balancedbio.train import capability_grads as cg


def _model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    model[0].bias.requires_grad_(False)         # a frozen parameter stays out of the buffer
    return model


def _losses(model):
    gen = torch.Generator().manual_seed(1)
    xs = [torch.randn(3, 5, generator=gen) for _ in range(3)]
    targets = [torch.randn(3, 3, generator=gen) for _ in range(3)]
    return lambda k: ((model(xs[k]) - targets[k]) ** 2).mean() * (1 if k != 1 else -1)   # k = 1 conflicts


@pytest.mark.parametrize("method", ["none", "pcgrad", "cagrad"])
def test_collect_combine_apply_equals_direct_surgery(method):
    model = _model()
    params = [p for p in model.parameters() if p.requires_grad]
    loss_for = _losses(model)
    direct = []
    for k in range(3):
        grads = torch.autograd.grad(loss_for(k), params)
        direct.append(torch.cat([g.reshape(-1) for g in grads]))
    expected = combine_gradients(torch.stack(direct), method, seed=4)
    loss, gram, coeffs, nbytes = cg.collect_and_combine(params, 3, loss_for, lambda x: x.backward(), method, seed=4)
    got = torch.cat([p.grad.reshape(-1) for p in params])
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-7)
    assert nbytes == 3 * cg.buffer_numel(params) * 4 and cg.buffer_numel(params) < sum(
        p.numel() for p in model.parameters())
    assert model[0].bias.grad is None
    assert gram.shape == (3, 3) and coeffs.shape == (3,)
    with torch.no_grad():
        assert float(loss) == pytest.approx(sum(float(loss_for(k)) for k in range(3)), rel=1e-6)
    if method != "none":
        assert not torch.allclose(got, torch.stack(direct).sum(0))       # the conflict changed the update


def test_gradient_from_an_earlier_micro_batch_is_kept():
    """With accumulation, .grad already holds earlier micro-batches: the combined gradient is added to it."""
    model = _model()
    params = [p for p in model.parameters() if p.requires_grad]
    earlier = [torch.full_like(p, 0.5) for p in params]
    for p, g in zip(params, earlier):
        p.grad = g.clone()
    cg.collect_and_combine(params, 3, _losses(model), lambda x: x.backward(), "none")
    fresh = _model()
    fresh_params = [p for p in fresh.parameters() if p.requires_grad]
    cg.collect_and_combine(fresh_params, 3, _losses(fresh), lambda x: x.backward(), "none")
    for p, q, e in zip(params, fresh_params, earlier):
        assert torch.allclose(p.grad, q.grad + e, atol=1e-7)
