"""experiments/bft_mechanism.py: the fact object's tokens are the ones marked, and each method's share of
the training signal is read from the project's loss (NLL's share is the objects' share of target tokens)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))

import bft_mechanism  # noqa: E402

FACTS = [{"kind": "gene_disease", "subject": "STAB1", "object": "Hyperferritinemia", "distractors": []},
         {"kind": "disease_phenotype", "subject": "Prune belly syndrome", "object": "Megacystis",
          "distractors": []}]


def test_object_tokens_are_the_facts_object(default_tokenizer):
    for (row, obj), fact in zip(bft_mechanism.fact_rows(FACTS), FACTS):
        ids, labels, marks = bft_mechanism.token_kinds(default_tokenizer, row["messages"], obj)
        assert default_tokenizer.decode([t for t, m in zip(ids, marks) if m]).strip() == fact["object"]
        assert all(labels[i] != -100 for i, m in enumerate(marks) if m)       # only answer tokens
    _, _, none = bft_mechanism.token_kinds(default_tokenizer, bft_mechanism.fact_rows(FACTS)[0][0]["messages"], None)
    assert not any(none)


def test_shares_from_the_loss(tiny_model_dir):
    from balancedbio.models import load_model

    model, tok = load_model(str(tiny_model_dir), dtype="float32")
    rows = [(f"fact:{f['kind']}", row, obj) for (row, obj), f in zip(bft_mechanism.fact_rows(FACTS), FACTS)]
    rows.append(("expertise", {"messages": [{"role": "user", "content": "Q?"},
                                            {"role": "assistant", "content": "A longer answer here."}]}, None))
    out = bft_mechanism.measure(model, tok, rows, group_size=4, batch=2)
    kinds = out["kinds"]
    total = sum(k["mean_target_tokens"] * k["rows"] for k in kinds.values())
    objects = sum(k["object_tokens"] for k in kinds.values())
    assert out["object_share"]["nll"] == pytest.approx(objects / total, abs=1e-4)
    assert 0 < out["object_share"]["dft"] < 1 and 0 < out["object_share"]["bft"] < 1
    assert kinds["expertise"]["object_tokens"] == 0 and kinds["expertise"]["mean_p_object"] is None
    assert 0 < kinds["expertise"]["mean_bft_sample_weight"] <= 1
