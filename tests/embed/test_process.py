"""Process naming: parsing, similarity/percentile scoring, the fixed test sample, a run on a tiny model."""

from __future__ import annotations

import numpy as np

from balancedbio.embed.genes import gobp_sets
from balancedbio.embed.process import (
    parse_process,
    process_test_ids,
    process_test_sets,
    run_process_naming,
    score_names,
)


def test_parse_process():
    assert parse_process("Process: DNA repair.\nBecause BRCA1 ...") == ("DNA repair", True)
    assert parse_process("The genes act in **Process:** glycolysis") == ("glycolysis", True)
    assert parse_process("\n  glucose metabolism\nmore") == ("glucose metabolism", False)
    assert parse_process("") == ("", False)


def test_score_names_percentile(fake_minilm):
    names = ["dna repair", "glycolysis", "t cell activation", "lipid transport"]
    sc = score_names(["dna repair", "lipid transport"], [0, 2], names, embed=fake_minilm)
    assert sc["percentile"][0] == 1.0 and np.isclose(sc["cosine"][0], 1.0)
    assert sc["percentile"][1] < 1.0 and sc["cosine"][1] < 0.5


def test_test_sample_is_fixed_and_capped():
    a = process_test_sets(20, max_genes=10)
    assert a == process_test_sets(20, max_genes=10) and len(a) == 20
    assert all(len(s.genes) <= 10 for s in a)
    full = {s.id: s for s in gobp_sets()}
    assert all(set(s.genes) <= set(full[s.id].genes) and s.name == full[s.id].name for s in a)
    assert process_test_ids(20) == {s.id for s in a}
    assert process_test_sets(20, seed=7) != a


def test_run_on_tiny_model(tiny_model_dir, fake_minilm):
    from balancedbio.embed.embed import load_for_embedding

    lm, tok = load_for_embedding(str(tiny_model_dir), device="cpu")
    sets = process_test_sets(3, max_genes=5)
    r = run_process_naming(lm, tok, sets, max_new_tokens=4, batch_size=2)
    assert r["n_sets"] == 3 and len(r["rows"]) == 3
    assert all(0.0 <= row["percentile"] <= 1.0 for row in r["rows"])
    assert [row["true"] for row in r["rows"]] == [s.name for s in sets]


def test_prefill_starts_every_answer_with_the_format(tiny_model_dir, fake_minilm):
    from balancedbio.embed.embed import load_for_embedding

    lm, tok = load_for_embedding(str(tiny_model_dir), device="cpu")
    sets = process_test_sets(3, max_genes=5)
    pre = run_process_naming(lm, tok, sets, max_new_tokens=4, batch_size=2, embed=fake_minilm, prefill=True)
    assert pre["prefill"] is True and pre["format_rate"] is None
    assert all(row["answer"].startswith("Process:") for row in pre["rows"])
    plain = run_process_naming(lm, tok, sets, max_new_tokens=4, batch_size=2, embed=fake_minilm)
    assert plain["prefill"] is False and 0.0 <= plain["format_rate"] <= 1.0
    # the prefill is a real prompt change: the generated continuations differ from the plain answers
    assert [r["answer"] for r in pre["rows"]] != [r["answer"] for r in plain["rows"]]
