"""Gene profiles: fixed descriptions from curated files, generated ones cached by (model, gene, prompt)."""

from __future__ import annotations

import pytest

import balancedbio.embed.profiles as profiles
from balancedbio.embed.genes import gobp_sets
from balancedbio.embed.profiles import ProfileCache, fixed_profile_from_files, gene_profiles, require_profiles
from balancedbio.errors import DataError


def test_fixed_profiles_from_files():
    text = fixed_profile_from_files("BRCA1")
    assert text.startswith("BRCA1 (BRCA1 DNA repair associated)") and "Breast cancer" in text
    assert "now SEPTIN2" in fixed_profile_from_files("SEPT2")   # an old symbol resolves through HGNC
    assert fixed_profile_from_files("NOTAGENE123") is None
    got = gene_profiles(["TP53", "NOTAGENE123"], use_graph=False)
    assert list(got) == ["TP53"]


def test_fixed_profiles_hold_no_multiword_gobp_name_beyond_gene_names():
    names = {s.name.lower() for s in gobp_sets() if len(s.name.split()) >= 4}
    for gene in ("TP53", "BRCA1", "MAPK1", "INS", "HDAC4"):
        text = fixed_profile_from_files(gene).lower()
        assert not [n for n in names if n in text]


def test_require_profiles_names_missing_genes():
    with pytest.raises(DataError, match="2 of 3 genes have no profile: B, C"):
        require_profiles(["A", "B", "C"], {"A": "x"})


def test_cache_skips_torn_lines(tmp_path):
    cache = ProfileCache(tmp_path, "m", "p {gene}")
    cache.put_many({"A": "alpha"})
    with cache.path.open("a") as fh:
        fh.write('{"gene": "B", "te')
    reopened = ProfileCache(tmp_path, "m", "p {gene}")
    assert reopened.entries == {"A": "alpha"}
    assert ProfileCache(tmp_path, "m", "other {gene}").entries == {}
    reopened.put_many({"C": "gamma"})                    # the append after a torn line is not lost
    assert ProfileCache(tmp_path, "m", "p {gene}").entries == {"A": "alpha", "C": "gamma"}


def test_generated_profiles_are_cached(tiny_model_dir, tmp_path, monkeypatch):
    calls = []
    real = profiles.generate_answers

    def counting(lm, tok, prompts, **kw):
        calls.append(list(prompts))
        return real(lm, tok, prompts, **kw)

    monkeypatch.setattr(profiles, "generate_answers", counting)
    spec = str(tiny_model_dir)
    first = gene_profiles(["TP53", "EGFR"], source="generated", model=spec, cache_root=tmp_path,
                          max_new_tokens=6, batch_size=2)
    assert calls == [["Describe the gene TP53: function, pathways, associated diseases.",
                      "Describe the gene EGFR: function, pathways, associated diseases."]]
    assert set(first) <= {"TP53", "EGFR"}
    again = gene_profiles(["TP53", "EGFR"], source="generated", model=spec, cache_root=tmp_path,
                          max_new_tokens=6)
    assert again == first and len(calls) == 1          # served from the cache
    gene_profiles(["TP53"], source="generated", model=spec, cache_root=tmp_path, prompt="About {gene}?",
                  max_new_tokens=4)
    assert len(calls) == 2                              # another prompt is another cache entry
    with pytest.raises(DataError, match="must contain"):
        gene_profiles(["TP53"], source="generated", model=spec, prompt="no placeholder")


def test_fixed_profiles_from_the_knowledge_graph(toy_graph, monkeypatch):
    from balancedbio.embed.profiles import fixed_profile_from_graph

    text = fixed_profile_from_graph(toy_graph, "BMP2")
    assert text.startswith("BMP2 (bone morphogenetic protein 2) is a gene with protein product.")
    assert "Associated diseases: " in text and "GO:" not in text
    assert fixed_profile_from_graph(toy_graph, "NOTAGENE123") is None
    monkeypatch.setattr(profiles, "open_graph_or_none", lambda: toy_graph)
    got = gene_profiles(["BMP2", "TP53"], use_graph=True)   # TP53 is not in the toy graph: files fill in
    assert got["BMP2"] == text and got["TP53"] == fixed_profile_from_files("TP53")
