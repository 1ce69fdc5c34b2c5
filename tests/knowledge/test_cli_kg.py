"""``balancedbio kg`` verbs: JSON output, exit codes, one-line errors."""

from __future__ import annotations

import json

from balancedbio.cli import main


def test_kg_verify_exit_codes(toy_graph, capsys):
    g = str(toy_graph.path.parent)
    assert main(["kg", "verify", "OMIM:219700", "has_phenotype", "HP:0002110", "--graph", g]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["supported"] is True and out["evidence"][0]["source"] == "hpo"
    assert main(["kg", "verify", "cystic fibrosis", "has_phenotype", "chorea", "--graph", g]) == 1
    assert json.loads(capsys.readouterr().out)["supported"] is False
    assert main(["kg", "verify", "OMIM:219700", "eats", "HP:0002110", "--graph", g]) == 2
    assert "unknown relation" in capsys.readouterr().err


def test_kg_link_stats_check(toy_graph, capsys):
    g = str(toy_graph.path.parent)
    assert main(["kg", "link", "CFTR", "--graph", g]) == 0
    assert "HGNC:1884" in [e["curie"] for e in json.loads(capsys.readouterr().out)]
    assert main(["kg", "stats", "--graph", g]) == 0
    assert json.loads(capsys.readouterr().out)["entities"]["disease"] > 0
    assert main(["kg", "check", "Cystic fibrosis causes bronchiectasis.", "--graph", g]) == 0
    assert json.loads(capsys.readouterr().out)["precision"] == 1.0


def test_kg_build_errors_and_toy(isolated_home, capsys):
    assert main(["kg", "verify", "a", "is_a", "b"]) == 2
    assert "balancedbio kg build" in capsys.readouterr().err
    assert main(["kg", "build", "--sources", "hpo,nonsense"]) == 2
    err = capsys.readouterr().err
    assert "unknown knowledge source(s) nonsense" in err and len(err.strip().splitlines()) == 1
    assert main(["kg", "build", "--toy"]) == 0
    assert json.loads(capsys.readouterr().out)["entities"]["gene"] > 0
    assert main(["kg", "verify", "CFTR", "gene_associated_with", "cystic fibrosis"]) == 0


def test_build_over_a_graph_of_other_sources_is_one_line_exit_2(tmp_path, capsys):
    from balancedbio.cli import main

    dest = tmp_path / "kg"
    assert main(["kg", "build", "--sources", "doid", "--dest", str(dest)]) == 0
    capsys.readouterr()
    assert main(["kg", "build", "--sources", "doid", "--dest", str(dest)]) == 0     # same set: kept
    assert "exists; use --force" in capsys.readouterr().err
    assert main(["kg", "build", "--sources", "doid,hgnc", "--dest", str(dest)]) == 2
    err = capsys.readouterr().err.strip()
    assert "a graph built from doid is there; --force rebuilds it from doid, hgnc" in err and "\n" not in err
