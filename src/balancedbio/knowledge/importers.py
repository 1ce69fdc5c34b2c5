"""Importers for graphs users already have: PrimeKG's ``kg.csv`` and KGX TSV (``*_nodes.tsv``/``*_edges.tsv``).

``balancedbio kg build --sources hpo,...,primekg:PATH`` or ``kgx:DIR`` (a path may not contain a comma).
Every node id is mapped onto the graph's CURIEs (NCBI gene -> ``HGNC:``, DrugBank -> the drug's ``CHEBI:``
key, PrimeKG's bare HPO/MONDO/GO/UBERON numbers -> ``HP:0000118`` etc.), so imported facts land on the
entities the built-in sources already hold; an entity the graph has is kept with its own names. Relations
and node types that map to ours (docs/knowledge.md) are renamed; every other one is kept under its own
name (``protein_protein``, ``exposure``, ``drug_enzyme``, ``expressed_in``...), never dropped, and
:meth:`KnowledgeGraph.verify` accepts those names.

A file is checked row by row before anything is written (:meth:`Import.check`): a missing file, an
unknown column layout, a short row or a KGX edge naming an unknown node is a :class:`DataError` naming the
file and row. Edges are then streamed into SQLite without being held in memory (PrimeKG lists its ~4M
edges in both directions: ~8M rows).

Example::

    data = read_primekg("kg.csv")          # SourceData; data.edges re-reads the file when iterated
    data = read_kgx("monarch-kg/")         # the folder holding one *_nodes.tsv and one *_edges.tsv
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from balancedbio.errors import DataError
from balancedbio.knowledge.records import EdgeRecord, EntityRecord, SourceData

PRIMEKG_COLUMNS = ("relation", "display_relation", "x_index", "x_id", "x_type", "x_name", "x_source",
                   "y_index", "y_id", "y_type", "y_name", "y_source")
PRIMEKG_TYPES = {"gene/protein": "gene", "drug": "drug", "effect/phenotype": "phenotype", "disease": "disease",
                 "biological_process": "go", "molecular_function": "go", "cellular_component": "go",
                 "anatomy": "anatomy", "pathway": "pathway"}
# PrimeKG relation -> (our relation, subject type, object type); symmetric ones are stored both ways
PRIMEKG_RELATIONS = {
    "drug_protein:target": ("targets", "drug", "gene"),
    "indication": ("indicated_for", "drug", "disease"),
    "contraindication": ("contraindicated_for", "drug", "disease"),
    "off-label use": ("off_label_for", "drug", "disease"),
    "drug_drug": ("interacts_with", "drug", "drug"),
    "drug_effect": ("has_side_effect", "drug", "phenotype"),
    "disease_phenotype_positive": ("has_phenotype", "disease", "phenotype"),
    "disease_protein": ("associated_with_gene", "disease", "gene"),
    "pathway_protein": ("gene_in_pathway", "gene", "pathway"),
}
_PADDED = {"HPO": ("HP", 7), "MONDO": ("MONDO", 7), "GO": ("GO", 7), "UBERON": ("UBERON", 7)}

BIOLINK_TYPES = {"Disease": "disease", "PhenotypicFeature": "phenotype", "Gene": "gene", "Protein": "gene",
                 "Drug": "drug", "SmallMolecule": "drug", "ChemicalEntity": "drug", "MolecularMixture": "drug",
                 "AnatomicalEntity": "anatomy", "GrossAnatomicalStructure": "anatomy", "Pathway": "pathway"}
# biolink predicate -> our relation (and whether subject/object swap)
BIOLINK_PREDICATES = {
    "subclass_of": ("is_a", False), "part_of": ("part_of", False), "has_phenotype": ("has_phenotype", False),
    "treats": ("indicated_for", False), "treats_or_applied_or_studied_to_treat": ("indicated_for", False),
    "contraindicated_in": ("contraindicated_for", False), "contraindicated_for": ("contraindicated_for", False),
    "has_side_effect": ("has_side_effect", False), "has_adverse_event": ("has_side_effect", False),
    "located_in": ("located_in", False), "same_as": ("xref", False), "exact_match": ("xref", False),
    "close_match": ("xref", False), "has_role": ("has_role", False),
    "gene_associated_with_condition": ("associated_with_gene", True), "causes": ("associated_with_gene", True),
}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class IdMapper:
    """Maps other graphs' node ids onto ours: NCBI gene -> HGNC, DrugBank -> the drug's CURIE."""

    def __init__(self, ncbi: dict[str, str] | None = None, drugbank: dict[str, str] | None = None):
        if ncbi is None:
            from balancedbio.knowledge.sources import ncbi_to_hgnc

            ncbi = ncbi_to_hgnc()
        if drugbank is None:
            from balancedbio.knowledge.drugs import drug_index

            drugbank = drug_index().by_drugbank
        self.ncbi, self.drugbank = ncbi, drugbank
        self._cache: dict[tuple[str, str], str] = {}

    def primekg(self, source: str, ident: str) -> str:
        key = (source, ident)
        got = self._cache.get(key)
        if got is None:
            got = self._cache[key] = self._primekg(source, ident)
        return got

    def _primekg(self, source: str, ident: str) -> str:
        if source == "NCBI":
            return self.ncbi.get(ident) or f"NCBIGene:{ident}"
        if source == "DrugBank":
            return self.drugbank.get(ident) or f"DRUGBANK:{ident}"
        if source in _PADDED and ident.isdigit():
            prefix, width = _PADDED[source]
            return f"{prefix}:{int(ident):0{width}d}"
        if source == "REACTOME":
            return f"REACTOME:{ident}"
        if source == "CTD":
            return f"MESH:{ident}"
        return f"{source}:{ident}"

    def curie(self, ident: str) -> str:
        """A KGX CURIE -> ours (``NCBIGene:1080`` -> ``HGNC:1884``, ``DRUGBANK:DB00619`` -> ``CHEBI:45783``)."""
        prefix, _, local = ident.partition(":")
        up = prefix.upper()
        if up == "NCBIGENE":
            return self.ncbi.get(local) or ident
        if up == "DRUGBANK":
            return self.drugbank.get(local) or f"DRUGBANK:{local}"
        if up in ("ORPHANET", "ORPHA"):
            return f"ORPHA:{local}"
        if up == "REACT":
            return f"REACTOME:{local}"
        return ident


class _Stream:
    """Re-iterable edges: each iteration re-reads the file (nothing held in memory)."""

    def __init__(self, make: Callable[[], Iterator[EdgeRecord]]):
        self._make = make

    def __iter__(self) -> Iterator[EdgeRecord]:
        return self._make()


def _open_table(path: Path, delimiter: str, need: tuple[str, ...], what: str):
    if not path.is_file():
        raise DataError(f"{path}: {what} file not found")
    fh = open(path, encoding="utf-8", newline="")
    # KGX TSV does not quote (a name may hold a lone '"'); PrimeKG's CSV quotes names with commas
    reader = csv.reader(fh, delimiter=delimiter, quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL)
    header = next(reader, None)
    if header is None or not set(need) <= set(header):
        fh.close()
        raise DataError(f"{path}: unknown {what} column layout (columns {', '.join(need)} expected, found "
                        f"{', '.join((header or [])[:12]) or 'nothing'})")
    return fh, reader, {c: header.index(c) for c in header}


# --------------------------------------------------------------------------------------------------
# PrimeKG


def _primekg_rows(path: Path) -> Iterator[tuple[int, list[str], dict[str, int]]]:
    fh, reader, col = _open_table(path, ",", PRIMEKG_COLUMNS, "PrimeKG kg.csv")
    with fh:
        width = len(col)
        try:
            for row in reader:
                if len(row) != width:
                    raise DataError(f"{path}:{reader.line_num}: {len(row)} fields, {width} expected "
                                    "(truncated or malformed row)")
                yield reader.line_num, row, col
        except csv.Error as exc:
            raise DataError(f"{path}:{reader.line_num}: unreadable CSV ({exc})") from None


def _primekg_relation(rel: str, display: str) -> tuple[str, str | None, str | None]:
    if rel == "drug_protein":
        hit = PRIMEKG_RELATIONS.get(f"drug_protein:{display}")
        return hit if hit else (f"drug_{display.replace(' ', '_')}", None, None)
    return PRIMEKG_RELATIONS.get(rel, (rel, None, None))


def read_primekg(path: str | Path, ids: IdMapper | None = None) -> SourceData:
    """PrimeKG ``kg.csv`` -> entities (checked now, every row) and streamed edges."""
    path = Path(path)
    ids = ids or IdMapper()
    entities: dict[str, EntityRecord] = {}
    for lineno, row, c in _primekg_rows(path):
        for side in "xy":
            ident, source = row[c[f"{side}_id"]], row[c[f"{side}_source"]]
            if not ident or not source or not row[c[f"{side}_type"]]:
                raise DataError(f"{path}:{lineno}: empty {side}_id, {side}_type or {side}_source")
            curie = ids.primekg(source, ident)
            if curie not in entities:
                kind = row[c[f"{side}_type"]]
                entities[curie] = EntityRecord(curie, PRIMEKG_TYPES.get(kind, kind), row[c[f"{side}_name"]] or curie,
                                               (), "", "primekg", {"primekg_type": kind})

    def edges() -> Iterator[EdgeRecord]:
        for _, row, c in _primekg_rows(path):
            rel, subj_type, _ = _primekg_relation(row[c["relation"]], row[c["display_relation"]])
            x = ids.primekg(row[c["x_source"]], row[c["x_id"]])
            y = ids.primekg(row[c["y_source"]], row[c["y_id"]])
            if subj_type is not None and PRIMEKG_TYPES.get(row[c["x_type"]]) != subj_type:
                continue                      # PrimeKG lists each edge both ways: keep the oriented one
            ev = {"display_relation": row[c["display_relation"]]} if rel == "interacts_with" else None
            yield EdgeRecord(x, rel, y, "primekg", ev)

    return SourceData("primekg", f"{path.name} ({len(entities)} nodes)", list(entities.values()), _Stream(edges))


# --------------------------------------------------------------------------------------------------
# KGX TSV


def kgx_files(folder: Path) -> tuple[Path, Path]:
    nodes, edges = sorted(folder.glob("*nodes.tsv")), sorted(folder.glob("*edges.tsv"))
    if len(nodes) != 1 or len(edges) != 1:
        raise DataError(f"{folder}: one *_nodes.tsv and one *_edges.tsv expected (found {len(nodes)} and "
                        f"{len(edges)})")
    return nodes[0], edges[0]


def _biolink_type(categories: str) -> str:
    cats = [c.removeprefix("biolink:") for c in categories.split("|") if c]
    for c in cats:
        if c in BIOLINK_TYPES:
            return BIOLINK_TYPES[c]
    return _CAMEL.sub("_", cats[0]).lower() if cats else "named_thing"


def _kgx_edge_rows(path: Path, known: set[str], ids: IdMapper) -> Iterator[tuple[str, str, str]]:
    fh, reader, col = _open_table(path, "\t", ("subject", "predicate", "object"), "KGX edges")
    with fh:
        s, p, o = col["subject"], col["predicate"], col["object"]
        for row in reader:
            if len(row) <= max(s, p, o):
                raise DataError(f"{path}:{reader.line_num}: truncated row (subject, predicate, object expected)")
            subj, obj = ids.curie(row[s]), ids.curie(row[o])
            for ref, curie in ((row[s], subj), (row[o], obj)):
                if curie not in known:
                    raise DataError(f"{path}:{reader.line_num}: edge names node '{ref}', which is not in the "
                                    "nodes file")
            yield subj, row[p], obj


def read_kgx(folder: str | Path, ids: IdMapper | None = None) -> SourceData:
    """A KGX TSV pair -> entities (typed from their Biolink category) and streamed, mapped edges."""
    folder = Path(folder)
    nodes_path, edges_path = kgx_files(folder) if folder.is_dir() else (None, None)
    if nodes_path is None:
        raise DataError(f"{folder}: KGX folder not found")
    ids = ids or IdMapper()
    fh, reader, col = _open_table(nodes_path, "\t", ("id", "category"), "KGX nodes")
    entities: dict[str, EntityRecord] = {}
    with fh:
        for row in reader:
            if len(row) <= max(col["id"], col["category"]) or not row[col["id"]]:
                raise DataError(f"{nodes_path}:{reader.line_num}: truncated row (id, category expected)")
            curie = ids.curie(row[col["id"]])
            name = row[col["name"]] if "name" in col and len(row) > col["name"] and row[col["name"]] else curie
            syns = tuple(x for x in row[col["synonym"]].split("|") if x) if "synonym" in col and \
                len(row) > col["synonym"] else ()
            entities.setdefault(curie, EntityRecord(curie, _biolink_type(row[col["category"]]), name, syns, "",
                                                    "kgx", {"kgx_id": row[col["id"]]}))
    known = set(entities)
    types = {c: e.type for c, e in entities.items()}
    for _ in _kgx_edge_rows(edges_path, known, ids):       # check every edge before anything is written
        pass

    def edges() -> Iterator[EdgeRecord]:
        for subj, pred, obj in _kgx_edge_rows(edges_path, known, ids):
            name = pred.removeprefix("biolink:")
            rel, swap = BIOLINK_PREDICATES.get(name, (name, False))
            if name in ("interacts_with", "directly_physically_interacts_with", "physically_interacts_with"):
                pair = (types[subj], types[obj])
                rel = "targets" if pair == ("drug", "gene") else "interacts_with" if pair == ("drug", "drug") \
                    else name
            if name in ("participates_in", "member_of") and types[subj] == "gene" and types[obj] == "pathway":
                rel = "gene_in_pathway"
            a, b = (obj, subj) if swap else (subj, obj)
            yield EdgeRecord(a, rel, b, "kgx", {"predicate": pred})
            if rel == "interacts_with":
                yield EdgeRecord(b, rel, a, "kgx", {"predicate": pred})

    return SourceData("kgx", f"{folder.name} ({len(entities)} nodes)", list(entities.values()), _Stream(edges))
