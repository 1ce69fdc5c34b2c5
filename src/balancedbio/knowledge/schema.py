"""The graph's schema: SQLite tables, relation names and their inverses, entity and verdict records.

:mod:`balancedbio.knowledge.graph` re-exports everything here; the relation table is the one place a new
relation is named (docs/knowledge.md lists them with their sources).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from balancedbio.errors import DataError

GRAPH_FILE = "graph.sqlite"
SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entities(curie TEXT PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL, synonyms TEXT NOT NULL,
                      definition TEXT NOT NULL, source TEXT NOT NULL, extra TEXT) WITHOUT ROWID;
CREATE TABLE names(norm TEXT NOT NULL, curie TEXT NOT NULL, preferred INTEGER NOT NULL);
CREATE TABLE edges(subject TEXT NOT NULL, relation TEXT NOT NULL, object TEXT NOT NULL, source TEXT NOT NULL,
                   evidence TEXT);
"""
INDEXES = """
CREATE INDEX names_norm ON names(norm);
CREATE INDEX edges_spo ON edges(subject, relation, object);
CREATE INDEX edges_orel ON edges(object, relation);
"""

INVERSE = {
    "has_phenotype": "phenotype_of", "has_inheritance": "inheritance_of",
    "associated_with_gene": "gene_associated_with", "has_icd10cm": "icd10cm_of",
    "is_a": "has_subclass", "part_of": "has_part", "xref": "xref_of",
    # the therapy layer (drug entities keyed CHEBI:/DRUGBANK:/CHEMBL:; docs/knowledge.md)
    "targets": "targeted_by",                        # drug -> gene (HGNC)
    "has_role": "role_of",                           # drug -> ChEBI role (mechanism / application)
    "in_class": "class_has_member",                  # drug -> ATC class
    "interacts_with": "interacts_with_inverse",      # drug -> drug (stored both ways; evidence: severity)
    "gene_in_pathway": "pathway_has_gene",           # gene -> pathway
    "located_in": "location_of",                     # HPO organ-system class -> UBERON anatomy
    "indicated_for": "treated_by",                   # drug -> disease (imported graphs)
    "contraindicated_for": "has_contraindication",   # drug -> disease (imported graphs)
    "off_label_for": "has_off_label_use",            # drug -> disease (imported graphs)
    "has_side_effect": "side_effect_of",             # drug -> phenotype (imported graphs)
}
_FROM_INVERSE = {v: k for k, v in INVERSE.items()}
RELATIONS = tuple(INVERSE) + tuple(_FROM_INVERSE)
# Prefix order used to rank link() results: curated disease ontologies first.
# (drugs and anatomy before MeSH, whose descriptors repeat many drug and organ names)
PREFIX_RANK = {p: i for i, p in enumerate(["MONDO", "OMIM", "ORPHA", "DOID", "HP", "HGNC", "ICD10CM", "GO",
                                            "CHEBI", "DRUGBANK", "CHEMBL", "UBERON", "ATC", "MESH", "DECIPHER"])}
CURIE_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*:\S+$")
_SPACES = re.compile(r"\s+")


def normalize_name(name: str) -> str:
    """Case-insensitive, whitespace-collapsed form of a name, as stored in ``names.norm``."""
    return _SPACES.sub(" ", name.strip().lower())


def default_graph_dir() -> Path:
    """``$BALANCEDBIO_HOME/kg`` (default ``~/.cache/balancedbio/kg``)."""
    home = os.environ.get("BALANCEDBIO_HOME") or Path.home() / ".cache" / "balancedbio"
    return Path(home).expanduser() / "kg"


def canonical_relation(relation: str) -> tuple[str, bool]:
    """``relation`` -> (stored relation name, whether subject and object are swapped)."""
    if relation in INVERSE:
        return relation, False
    if relation in _FROM_INVERSE:
        return _FROM_INVERSE[relation], True
    raise DataError(f"unknown relation '{relation}' (known: {', '.join(sorted(RELATIONS))})")


@dataclass(frozen=True)
class Entity:
    """A graph entity: CURIE, type (disease/phenotype/gene/go/mesh/icd10cm), names and definition."""

    curie: str
    type: str
    name: str
    synonyms: tuple[str, ...] = ()
    definition: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"curie": self.curie, "type": self.type, "name": self.name, "synonyms": list(self.synonyms),
                "definition": self.definition, "source": self.source, "extra": self.extra}


@dataclass(frozen=True)
class Verdict:
    """Whether the graph supports a triple; ``evidence`` lists the stored edges that support it."""

    supported: bool
    evidence: list[dict[str, Any]] = field(default_factory=list)
    subjects: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"supported": self.supported, "evidence": self.evidence, "subjects": list(self.subjects),
                "objects": list(self.objects), "reason": self.reason}


def entity_from_row(row: tuple) -> Entity:
    curie, type_, name, syns, definition, source, extra = row
    return Entity(curie, type_, name, tuple(json.loads(syns)), definition, source,
                  json.loads(extra) if extra else {})
