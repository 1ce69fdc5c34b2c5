"""``kg verify`` / ``kg link`` exit codes as docs/knowledge.md states them."""

from __future__ import annotations

import json

import pytest

from balancedbio.cli import main


@pytest.mark.parametrize("triple,code", [
    (["OMIM:219700", "has_phenotype", "HP:0002110"], 0),      # supported
    (["OMIM:219700", "has_phenotype", "HP:0000001"], 1),      # both in the graph, no such edge
    (["no such disease", "has_phenotype", "HP:0002110"], 1),  # not in the graph: still a verdict
    (["OMIM:219700", "bogus_relation", "HP:0002110"], 2),     # bad input
    (["OMIM:219700", "has_phenotype", " "], 2),
    (["imatinib", "targets", "ABL1"], 0),                     # a drug by name, a gene by symbol
    (["DRUGBANK:DB00619", "targets", "ABL1"], 0),             # a drug by a cross-referenced id
    (["ABL1", "targeted_by", "imatinib"], 0),
    (["imatinib", "targets", "CFTR"], 1),
    (["warfarin", "interacts_with", "imatinib"], 0),          # stored both ways (ANSM)
])
def test_verify_exit_codes(toy_graph, capsys, triple, code):
    assert main(["kg", "verify", *triple, "--graph", str(toy_graph.path)]) == code
    out, err = capsys.readouterr()
    if code == 2:
        assert out == "" and len(err.strip().splitlines()) == 1
    else:
        assert json.loads(out)["supported"] is (code == 0)


def test_verify_without_a_graph_is_bad_input(tmp_path, capsys):
    assert main(["kg", "verify", "OMIM:219700", "has_phenotype", "HP:0002110", "--graph",
                 str(tmp_path / "none")]) == 2


def test_link_exit_codes(toy_graph, capsys):
    assert main(["kg", "link", "cystic fibrosis", "--graph", str(toy_graph.path)]) == 0
    assert main(["kg", "link", "zzzz not a disease", "--graph", str(toy_graph.path)]) == 1
