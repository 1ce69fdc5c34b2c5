"""Static-cache rollout: greedy equals HF generate token for token (fp32), also with prompts left-padded to a
bucket and with kept (LRU) caches reused; sampling follows the softmax."""

from __future__ import annotations

import pytest
import torch

from balancedbio.train.rollout import (
    Sampling,
    StaticRollout,
    bucket_width,
    hf_generate,
    left_pad,
    sample_tokens,
    warp_logits,
)


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from balancedbio.models import load_model

    model, tok = load_model(str(tiny_model_dir), dtype="float32")
    model.eval()
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok


PROMPTS = ["Which gene is mutated in Marfan syndrome?", "Hi", "List three causes of anemia, briefly and clearly.",
           "Answer: B"]


def test_greedy_matches_hf_generate(tiny):
    model, tok = tiny
    enc = tok(PROMPTS, return_tensors="pt", padding=True)
    # make some token an EOS that the random model actually emits, so early stopping is exercised
    probe = hf_generate(model, enc.input_ids, enc.attention_mask, max_new_tokens=12,
                        sampling=Sampling(do_sample=False), eos_token_ids=[tok.eos_token_id],
                        pad_token_id=tok.pad_token_id)
    eos_ids = [tok.eos_token_id, int(probe[1, 5])]
    ref = hf_generate(model, enc.input_ids, enc.attention_mask, max_new_tokens=12,
                      sampling=Sampling(do_sample=False), eos_token_ids=eos_ids, pad_token_id=tok.pad_token_id)
    ours = StaticRollout(model, use_cuda_graph=False, buckets=None).generate(
        enc.input_ids, enc.attention_mask, max_new_tokens=12, sampling=Sampling(do_sample=False),
        eos_token_ids=eos_ids, pad_token_id=tok.pad_token_id)
    assert ours.shape == ref.shape
    assert torch.equal(ours, ref)
    # and with prompts left-padded to a bucket (the CUDA-graph shape), same tokens, first call and reuse
    engine = StaticRollout(model, use_cuda_graph=False, buckets=(enc.input_ids.shape[1] + 3, 64))
    for _ in range(2):
        fixed = engine.generate(enc.input_ids, enc.attention_mask, max_new_tokens=12,
                                sampling=Sampling(do_sample=False), eos_token_ids=eos_ids,
                                pad_token_id=tok.pad_token_id)
        assert torch.equal(fixed, ref)
    assert [k[1] for k in engine.cached_shapes()] == [enc.input_ids.shape[1] + 3]


def test_sampled_token_frequencies_match_the_distribution():
    probs = torch.tensor([0.5, 0.25, 0.15, 0.07, 0.03])
    logits = probs.log().repeat(40000, 1)
    gen = torch.Generator().manual_seed(0)
    draws = sample_tokens(logits, Sampling(do_sample=True), gen)
    freq = torch.bincount(draws, minlength=5).float() / draws.numel()
    assert torch.allclose(freq, probs, atol=0.01)
    # temperature 0.5 squares the probabilities (renormalised); top-k 2 keeps the two largest
    draws = sample_tokens(logits, Sampling(temperature=0.5, top_k=2), gen)
    p2 = probs[:2] ** 2 / (probs[:2] ** 2).sum()
    freq = torch.bincount(draws, minlength=5).float() / draws.numel()
    assert torch.allclose(freq[:2], p2, atol=0.01) and freq[2:].sum() == 0


def test_top_p_matches_hf_warper():
    from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

    logits = torch.randn(6, 50, generator=torch.Generator().manual_seed(1))
    ours = warp_logits(logits, Sampling(top_p=0.8, top_k=20))
    ref = TopPLogitsWarper(0.8)(None, TopKLogitsWarper(20)(None, logits.clone()))
    assert torch.equal(torch.isinf(ours), torch.isinf(ref))


@pytest.mark.parametrize(("width", "expected"), [(1, 64), (64, 64), (65, 128), (300, 512), (2048, 2048),
                                                 (2049, 4096), (5000, 6144)])
def test_bucket_width_picks_a_few_fixed_sizes(width, expected):
    assert bucket_width(width, (2048, 64, 128, 256, 512, 1024)) == expected
    assert bucket_width(width, None) == width == bucket_width(width, ())


def test_left_pad_to_the_bucket():
    ids, mask = torch.tensor([[5, 6, 7], [0, 8, 9]]), torch.tensor([[1, 1, 1], [0, 1, 1]])
    pids, pmask = left_pad(ids, mask, 5, pad_token_id=0)
    assert pids.tolist() == [[0, 0, 5, 6, 7], [0, 0, 0, 8, 9]]
    assert pmask.tolist() == [[0, 0, 1, 1, 1], [0, 0, 0, 1, 1]]
    assert left_pad(ids, mask, 3, 0)[0] is ids


def test_kept_shapes_are_bounded_lru_and_released(tiny):
    """Three prompt widths in three buckets with room for two: the least recently used shape goes, and
    its cache is freed (no reference left); a reused shape keeps its cache object."""
    import gc
    import weakref

    model, tok = tiny
    engine = StaticRollout(model, use_cuda_graph=False, buckets=(8, 16, 32), max_cached=2)

    def run(n_tokens):
        ids = torch.randint(10, 200, (2, n_tokens), generator=torch.Generator().manual_seed(n_tokens))
        return engine.generate(ids, torch.ones_like(ids), max_new_tokens=3, sampling=Sampling(do_sample=False),
                               eos_token_ids=[tok.eos_token_id], pad_token_id=tok.pad_token_id)

    run(5)
    first_cache = weakref.ref(engine._entries[engine.cached_shapes()[0]]["cache"])
    run(12)
    out_a = run(5)                                  # reuse: width 8 becomes the most recently used
    assert [k[1] for k in engine.cached_shapes()] == [16, 8] and first_cache() is not None
    assert torch.equal(out_a, run(5))               # a reset, reused cache decodes the same tokens
    run(20)                                         # width 32 evicts width 16, the least recently used
    assert [k[1] for k in engine.cached_shapes()] == [8, 32] and engine.evictions == 1
    assert engine._entries[engine.cached_shapes()[0]]["cache"] is first_cache()  # still the first one
    run(14)                                         # back to 16: evicts 8, whose cache is released
    gc.collect()
    assert first_cache() is None and engine.evictions == 2
    assert [k[1] for k in engine.cached_shapes()] == [32, 16]
    with pytest.raises(ValueError, match="max_cached"):
        StaticRollout(model, max_cached=0)


def test_cache_positions_undo_warm_up_steps(tiny):
    """What a CUDA graph capture's warm-up steps advance (the static cache's own write position) is put back:
    without it every replay wrote one slot late per warm-up step and the last ones past the cache."""
    from balancedbio.train.rollout import cache_positions, restore_cache_positions

    model, _ = tiny
    engine = StaticRollout(model, use_cuda_graph=False, buckets=None)
    cache = engine._new_cache(2, 16)
    ids = torch.tensor([[5, 6, 7], [8, 9, 10]])
    with torch.no_grad():
        model(input_ids=ids, past_key_values=cache, use_cache=True)            # prefill: 3 positions
        saved = cache_positions(cache)
        assert saved and all(p is not None and int(p) == 3 for p in saved)
        for _ in range(2):                                                    # two warm-up steps
            model(input_ids=ids[:, :1], past_key_values=cache, use_cache=True)
    assert all(int(layer.cumulative_length) == 5 for layer in cache.layers)
    restore_cache_positions(cache, saved)
    assert all(int(layer.cumulative_length) == 3 for layer in cache.layers)
    assert cache.get_seq_length() == 3


def test_rollout_under_bf16_autocast_and_after_it(tiny):
    """The trainers decode under bf16 autocast (a GPU's mixed precision): the static cache takes the
    prefill's and the steps' key/value states whatever their dtype, also when a kept cache meets the
    other autocast state (transformers 5.17 failed here with an index_copy_ dtype error)."""
    model, tok = tiny
    enc = tok(PROMPTS, return_tensors="pt", padding=True)
    engine = StaticRollout(model, use_cuda_graph=False, buckets=None)
    outs = []
    for autocast in (True, False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            outs.append(engine.generate(enc.input_ids, enc.attention_mask, max_new_tokens=6,
                                        sampling=Sampling(do_sample=False), eos_token_ids=[tok.eos_token_id],
                                        pad_token_id=tok.pad_token_id))
    assert len(engine._entries) == 1                                   # one kept cache, reused
    assert outs[0].shape[0] == len(PROMPTS) and int(outs[0].max()) < model.config.vocab_size
    ref = hf_generate(model, enc.input_ids, enc.attention_mask, max_new_tokens=6, sampling=Sampling(do_sample=False),
                      eos_token_ids=[tok.eos_token_id], pad_token_id=tok.pad_token_id)
    assert torch.equal(outs[1], ref)                                   # fp32 after autocast: still exact
