"""UBERON anatomy and the HPO organ-system -> UBERON table, on a fixture in the cellxgene layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import zstandard

from balancedbio.errors import DataError
from balancedbio.knowledge import anatomy
from balancedbio.knowledge.build import write_graph
from balancedbio.knowledge.graph import KnowledgeGraph


def write_uberon_fixture(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    terms = {
        "UBERON:0002107": {"label": "liver", "synonyms": ["iecur"], "description": "An exocrine gland.",
                           "ancestors": {"UBERON:0002365": 1, "UBERON:0001007": 3}, "deprecated": False},
        "UBERON:0002365": {"label": "exocrine gland", "ancestors": {}, "deprecated": False},
        "UBERON:0001007": {"label": "digestive system", "ancestors": {}, "deprecated": False},
        "UBERON:0004535": {"label": "cardiovascular system", "ancestors": {}, "deprecated": False},
        "UBERON:0000948": {"label": "heart", "ancestors": {"UBERON:0004535": 2}, "deprecated": False},
        "UBERON:9999999": {"label": "obsolete thing", "ancestors": {}, "deprecated": True},
    }
    raw = zstandard.ZstdCompressor().compress(json.dumps(terms).encode())
    (root / "UBERON-ontology-v2000-01-01.json.zst").write_bytes(raw)
    (root / "organ_list.json").write_text(json.dumps(["UBERON:0002107", "UBERON:0000948"]))
    (root / "system_list.json").write_text(json.dumps(["UBERON:0001007", "UBERON:0004535"]))
    return root


def test_uberon_part_of_organs_and_systems(tmp_path):
    data = anatomy.read_uberon(write_uberon_fixture(tmp_path / "cxg"))
    assert data.version.startswith("v2000-01-01")
    ents = {e.curie: e for e in data.entities}
    assert ents["UBERON:0002107"].type == "anatomy" and ents["UBERON:0002107"].synonyms == ("iecur",)
    assert "UBERON:9999999" not in ents
    edges = {(e.subject, e.relation, e.object) for e in data.edges}
    assert ("UBERON:0002107", "part_of", "UBERON:0001007") in edges
    assert ("UBERON:0002107", "part_of", "UBERON:0002365") not in edges   # not an organ or system
    assert ("HP:0001626", "located_in", "UBERON:0004535") in edges           # the curated table
    assert ("HP:0000478", "located_in", "UBERON:0000970") not in edges        # eye: not in this fixture
    kg = KnowledgeGraph.open(write_graph(tmp_path / "g.sqlite", [data]))
    assert kg.verify("heart", "part_of", "cardiovascular system").supported
    assert not kg.verify("heart", "part_of", "digestive system").supported
    assert kg.neighbors("UBERON:0004535", "location_of") == ["HP:0001626"]


def test_curated_table_names_real_uberon_terms():
    """Every UBERON id of the curated table is a live term of the installed UBERON release."""
    ents = {e.curie: e.name for e in anatomy.read_uberon().entities}
    sites = {s for v in anatomy.HPO_SYSTEM_ANATOMY.values() for s in v}
    assert sites <= set(ents)
    assert ents["UBERON:0004535"] == "cardiovascular system" and ents["UBERON:0000970"] == "eye"


def test_bad_uberon_files(tmp_path):
    root = write_uberon_fixture(tmp_path / "cxg")
    (root / "system_list.json").write_text('{"a": 1}')
    with pytest.raises(DataError, match="system_list.json: a JSON list of UBERON CURIEs expected"):
        anatomy.read_uberon(root)
    (root / "UBERON-ontology-v2000-01-01.json.zst").write_bytes(b"\x28\xb5\x2f\xfd truncated")
    with pytest.raises(DataError, match="UBERON-ontology-v2000-01-01.json.zst: unreadable ontology file"):
        anatomy.read_uberon(root)
    with pytest.raises(DataError, match="no UBERON-ontology"):
        anatomy.read_uberon(tmp_path)
