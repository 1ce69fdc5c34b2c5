"""PrimeKG and KGX importers: id and relation mapping, unmapped types kept, bad files refused early."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from balancedbio.cli import main
from balancedbio.errors import DataError
from balancedbio.knowledge.build import parse_sources, write_graph
from balancedbio.knowledge.graph import KnowledgeGraph
from balancedbio.knowledge.importers import IdMapper, read_kgx, read_primekg
from balancedbio.knowledge.records import EntityRecord, SourceData

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "kg"
IDS = IdMapper(ncbi={"25": "HGNC:76", "1080": "HGNC:1884", "1576": "HGNC:2637"},
               drugbank={"DB00619": "CHEBI:45783", "DB00682": "CHEBI:10033"})


def _ours() -> SourceData:
    """What the built-in sources would already hold: CFTR and imatinib under our ids and names."""
    return SourceData("hgnc", "t", [EntityRecord("HGNC:1884", "gene", "CFTR", ("ABC35",)),
                                    EntityRecord("CHEBI:45783", "drug", "Imatinib", ("Gleevec",))])


def test_primekg_mapping(tmp_path):
    data = read_primekg(FIX / "primekg_kg.csv", IDS)
    ents = {e.curie: e for e in data.entities}
    assert ents["HGNC:76"].type == "gene" and ents["CHEBI:45783"].type == "drug"
    assert ents["HP:0002110"].type == "phenotype" and ents["MONDO:0009061"].name == "cystic fibrosis"
    assert ents["MESH:D000082"].type == "exposure"                       # unmapped type kept under its name
    edges = {(e.subject, e.relation, e.object) for e in data.edges}
    assert {("CHEBI:45783", "targets", "HGNC:76"), ("CHEBI:45783", "indicated_for", "MONDO:0005543"),
            ("CHEBI:10033", "contraindicated_for", "MONDO:0005090"),
            ("CHEBI:45783", "off_label_for", "MONDO:0099999"), ("CHEBI:10033", "has_side_effect", "HP:0002239"),
            ("MONDO:0009061", "has_phenotype", "HP:0002110"), ("MONDO:0009061", "associated_with_gene", "HGNC:1884"),
            ("HGNC:76", "gene_in_pathway", "REACTOME:R-HSA-1"), ("CHEBI:45783", "interacts_with", "CHEBI:10033"),
            ("CHEBI:10033", "interacts_with", "CHEBI:45783"), ("CHEBI:45783", "drug_enzyme", "HGNC:2637"),
            ("HGNC:76", "protein_protein", "HGNC:1884"), ("MESH:D000082", "exposure_disease", "MONDO:0009061"),
            ("UBERON:0002107", "anatomy_protein_present", "HGNC:1884")} <= edges
    assert ("HGNC:76", "targets", "CHEBI:45783") not in edges            # the reversed listing is not kept
    kg = KnowledgeGraph.open(write_graph(tmp_path / "g.sqlite", [_ours(), data]))
    assert kg.entity("HGNC:1884").synonyms == ("ABC35",)                  # our entity kept, merged by id
    assert kg.verify("Gleevec", "targets", "ABL1").supported
    assert kg.verify("chronic myelogenous leukemia", "treated_by", "imatinib").supported
    assert kg.verify("ABL1", "protein_protein", "CFTR").supported          # an unmapped relation, by name
    assert kg.neighbors("MONDO:0009061", "exposure_disease") == []
    assert kg.neighbors("MESH:D000082", "exposure_disease") == ["MONDO:0009061"]
    assert "primekg" in kg.licences and "MIT" in kg.licences["primekg"]
    with pytest.raises(DataError, match="unknown relation 'eats'"):
        kg.verify("ABL1", "eats", "CFTR")


def test_kgx_mapping(tmp_path):
    data = read_kgx(FIX, IDS)
    ents = {e.curie: e for e in data.entities}
    assert ents["HGNC:1884"].type == "gene" and ents["CHEBI:45783"].synonyms == ("Gleevec",)
    assert ents["GO:0006811"].type == "biological_process" and ents["REACTOME:R-HSA-1"].type == "pathway"
    assert ents["CHEBI:99999"].name == '5"-odd "name'                   # TSV: quotes are plain characters
    edges = {(e.subject, e.relation, e.object) for e in data.edges}
    assert {("MONDO:0009061", "has_phenotype", "HP:0002110"), ("MONDO:0009061", "associated_with_gene", "HGNC:1884"),
            ("CHEBI:45783", "targets", "HGNC:76"), ("HGNC:76", "gene_in_pathway", "REACTOME:R-HSA-1"),
            ("HGNC:1884", "actively_involved_in", "GO:0006811"),
            ("CHEBI:45783", "indicated_for", "MONDO:0011996")} == edges
    kg = KnowledgeGraph.open(write_graph(tmp_path / "g.sqlite", [_ours(), data]))
    assert kg.verify("cystic fibrosis", "associated_with_gene", "CFTR").supported
    assert kg.verify("CFTR", "actively_involved_in", "ion transport").supported


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "fx"
    shutil.copytree(FIX, dest)
    return dest


def test_bad_primekg_files(tmp_path):
    fx = _copy(tmp_path)
    with pytest.raises(DataError, match="missing.csv: PrimeKG kg.csv file not found"):
        read_primekg(fx / "missing.csv", IDS)
    bad = fx / "primekg_kg.csv"
    bad.write_text("relation,x_id,y_id\nindication,1,2\n")
    with pytest.raises(DataError, match=r"primekg_kg.csv: unknown PrimeKG kg.csv column layout"):
        read_primekg(bad, IDS)
    rows = (FIX / "primekg_kg.csv").read_text().splitlines()
    bad.write_text("\n".join(rows[:4] + [rows[4][:30]] + rows[5:]) + "\n")       # a truncated row 5
    with pytest.raises(DataError, match=r"primekg_kg.csv:5: .* fields, 12 expected"):
        read_primekg(bad, IDS)


def test_bad_kgx_files(tmp_path):
    fx = _copy(tmp_path)
    with open(fx / "kgx_edges.tsv", "a") as fh:
        fh.write("e7\tMONDO:0009061\tbiolink:has_phenotype\tHP:9999999\tx\n")
    with pytest.raises(DataError, match=r"kgx_edges.tsv:8: edge names node 'HP:9999999'"):
        read_kgx(fx, IDS)
    (fx / "kgx_nodes.tsv").write_text("identifier\tname\nX:1\tx\n")
    with pytest.raises(DataError, match=r"kgx_nodes.tsv: unknown KGX nodes column layout"):
        read_kgx(fx, IDS)
    (fx / "kgx_nodes.tsv").unlink()
    with pytest.raises(DataError, match=r"one \*_nodes.tsv and one \*_edges.tsv expected"):
        read_kgx(fx, IDS)


def test_import_specs():
    assert parse_sources("hgnc,kgx:/x,primekg:/y/kg.csv") == ["hgnc", "kgx:/x", "primekg:/y/kg.csv"]
    with pytest.raises(DataError, match="kgx needs its folder"):
        parse_sources("kgx")
    with pytest.raises(DataError, match="unknown knowledge source"):
        parse_sources("hetionet:/x")


def test_cli_bad_import_exits_2_and_writes_nothing(tmp_path, isolated_home, capsys):
    fx = _copy(tmp_path)
    rows = (FIX / "primekg_kg.csv").read_text().splitlines()
    (fx / "primekg_kg.csv").write_text("\n".join(rows[:8] + [rows[8].rsplit(",", 3)[0]] + rows[9:]) + "\n")
    dest = tmp_path / "kg"
    assert main(["kg", "build", "--sources", f"hgnc,primekg:{fx / 'primekg_kg.csv'}", "--dest", str(dest)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "primekg_kg.csv:9:" in err[0]
    assert not dest.exists() or not any(dest.iterdir())
    assert main(["kg", "build", "--sources", "primekg", "--dest", str(dest)]) == 2     # not cached, offline
    assert "--allow-download" in capsys.readouterr().err
    assert main(["kg", "build", "--sources", f"kgx:{tmp_path / 'nope'}", "--dest", str(dest), "--dry-run"]) == 2
    assert "kgx import not found" in capsys.readouterr().err


def test_cli_build_with_import(tmp_path, isolated_home, capsys):
    """An import merged with a built-in source through the CLI; the licence lines name both."""
    dest = tmp_path / "kg"
    assert main(["kg", "build", "--sources", f"hgnc,kgx:{FIX}", "--dest", str(dest)]) == 0
    err = capsys.readouterr().err
    assert "kg build: hgnc: HGNC" in err and "kg build: kgx:" in err
    kg = KnowledgeGraph.open(dest)
    assert kg.entity("HGNC:1884").source == "hgnc"                 # the built-in record wins; facts merge
    assert kg.verify("CFTR", "gene_associated_with", "cystic fibrosis").supported
