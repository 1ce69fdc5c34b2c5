"""The CUDA-graph decoding step: same tokens as HF generate and as the eager step (CUDA only, skipped elsewhere)."""

from __future__ import annotations

import pytest
import torch
from test_rollout import PROMPTS

from balancedbio.train.rollout import Sampling, StaticRollout, hf_generate

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

@pytest.fixture(scope="module")
def tiny_cuda(tiny_model_dir):
    from balancedbio.models import load_model

    model, tok = load_model(str(tiny_model_dir), dtype="float32")
    model.to("cuda").eval()
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok


def _graphs(engine):
    return sum(entry.get("graph") is not None for entry in engine._entries.values())


def _greedy(engine, tok, enc, n):
    return engine.generate(enc.input_ids, enc.attention_mask, max_new_tokens=n, sampling=Sampling(do_sample=False),
                           eos_token_ids=[tok.eos_token_id], pad_token_id=tok.pad_token_id)


def test_graph_greedy_matches_hf_generate_and_replays(tiny_cuda):
    model, tok = tiny_cuda
    enc = tok(PROMPTS, return_tensors="pt", padding=True).to("cuda")
    ref = hf_generate(model, enc.input_ids, enc.attention_mask, max_new_tokens=16,
                      sampling=Sampling(do_sample=False), eos_token_ids=[tok.eos_token_id],
                      pad_token_id=tok.pad_token_id)
    engine = StaticRollout(model, use_cuda_graph=True, sync_every=4)
    first = _greedy(engine, tok, enc, 16)
    assert engine.graph_failures == 0 and _graphs(engine) == 1  # captured, not the eager fallback
    assert torch.equal(first, ref)
    second = _greedy(engine, tok, enc, 16)                   # replays the captured graph
    assert torch.equal(second, ref) and _graphs(engine) == 1
    eager = _greedy(StaticRollout(model, use_cuda_graph=False), tok, enc, 16)
    assert torch.equal(eager, ref)


def test_graph_sampling_follows_the_seeded_default_generator(tiny_cuda):
    model, tok = tiny_cuda
    enc = tok(PROMPTS, return_tensors="pt", padding=True).to("cuda")
    engine = StaticRollout(model, use_cuda_graph=True)
    outs = []
    for _ in range(2):
        torch.manual_seed(7)
        outs.append(engine.generate(enc.input_ids, enc.attention_mask, max_new_tokens=12,
                                    sampling=Sampling(do_sample=True, temperature=1.0),
                                    eos_token_ids=[tok.eos_token_id], pad_token_id=tok.pad_token_id))
    assert engine.graph_failures == 0
    assert torch.equal(outs[0], outs[1])
    assert int(outs[0].max()) < model.config.vocab_size
