"""Build the knowledge graph once: read every source, bulk-insert into SQLite, index, rename into place.

``balancedbio kg build [--sources hpo,mondo,...] [--force]`` calls :func:`build_graph`. The file is
written under a temporary name and renamed at the end, so an interrupted build leaves no half graph.

Example::

    from balancedbio.knowledge.build import build_graph
    path = build_graph()                       # all sources -> ~/.cache/balancedbio/kg/graph.sqlite
    path = build_graph(tmp, sources=["hpo", "hgnc"])
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from balancedbio.atomic import atomic_path
from balancedbio.errors import DataError
from balancedbio.knowledge.graph import (
    GRAPH_FILE,
    INDEXES,
    SCHEMA,
    SCHEMA_VERSION,
    default_graph_dir,
    normalize_name,
)
from balancedbio.knowledge.sources import LICENCES, OPT_IN, READERS, SourceData
from balancedbio.progress import phase

log = logging.getLogger(__name__)
ALL_SOURCES = tuple(READERS)
KNOWN = ALL_SOURCES + tuple(OPT_IN)


def parse_sources(sources: str | Iterable[str] | None) -> list[str]:
    """``"hpo,mondo"`` or a list -> validated source names (default: every non-opt-in source, in order).

    Opt-in sources (``drug2cell``: non-commercial licence) are read only when named.
    """
    if sources is None:
        return list(ALL_SOURCES)
    names = [s.strip() for s in (sources.split(",") if isinstance(sources, str) else sources) if s.strip()]
    unknown = [s for s in names if s not in KNOWN]
    if unknown:
        raise DataError(f"unknown knowledge source(s) {', '.join(unknown)} (known: {', '.join(KNOWN)})")
    if not names:
        raise DataError(f"no knowledge source given (known: {', '.join(KNOWN)})")
    return [s for s in KNOWN if s in names]


def licences(names: Iterable[str]) -> dict[str, str]:
    """Source name -> its licence line (what ``kg build`` prints and stores in the graph's meta)."""
    return {n: LICENCES.get(n, "unknown: see the source's own terms") for n in names}


def _reader(name: str):
    return READERS.get(name) or OPT_IN[name]


def write_graph(path: Path, datasets: Iterable[SourceData], *, extra_meta: dict[str, str] | None = None) -> Path:
    """Write source data into a new SQLite graph at ``path`` (atomically). Returns ``path``."""
    t0 = time.perf_counter()
    with atomic_path(path) as tmp:
        conn = sqlite3.connect(tmp)
        try:
            conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY;")
            conn.executescript(SCHEMA)
            seen: set[str] = set()
            licences_seen: dict[str, str] = {}
            relations: set[str] = set()
            versions: dict[str, str] = {}
            for data in datasets:
                versions[data.name] = data.version
                if data.name not in licences_seen:
                    licences_seen[data.name] = LICENCES.get(data.name, "unknown: see the source's own terms")
                _insert(conn, data, seen)
                relations.update(e.relation for e in data.edges)
                log.info("kg: %s (%s): %d entities, %d edges", data.name, data.version, len(data.entities),
                         len(data.edges))
            phase(f"kg: indexing {len(seen)} entities into {path.name}")
            conn.executescript(INDEXES)
            meta = {"schema_version": SCHEMA_VERSION, "sources": json.dumps(versions, sort_keys=True),
                    "licences": json.dumps(licences_seen, sort_keys=True),
                    "relations": json.dumps(sorted(relations)),
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "build_seconds": f"{time.perf_counter() - t0:.2f}", **(extra_meta or {})}
            conn.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
            conn.commit()
            conn.execute("ANALYZE")
            conn.commit()
        finally:
            conn.close()
        os.chmod(tmp, 0o644)
    return path


def _insert(conn: sqlite3.Connection, data: SourceData, seen: set[str]) -> None:
    ents, names = [], []
    for e in data.entities:
        if e.curie in seen:
            continue
        seen.add(e.curie)
        ents.append((e.curie, e.type, e.name, json.dumps(list(e.synonyms), ensure_ascii=False), e.definition,
                     e.source, json.dumps(e.extra, sort_keys=True, ensure_ascii=False) if e.extra else None))
        pref = normalize_name(e.name)
        names.append((pref, e.curie, 1))
        names += [(n, e.curie, 0) for n in {normalize_name(s) for s in e.synonyms} - {pref} if n]
    conn.executemany("INSERT INTO entities VALUES (?, ?, ?, ?, ?, ?, ?)", ents)
    conn.executemany("INSERT INTO names VALUES (?, ?, ?)", names)
    conn.executemany("INSERT INTO edges VALUES (?, ?, ?, ?, ?)",
                     ((d.subject, d.relation, d.object, d.source,
                       json.dumps(d.evidence, sort_keys=True) if d.evidence else None) for d in data.edges))


def build_graph(dest: str | os.PathLike | None = None, sources: str | Iterable[str] | None = None,
                force: bool = False) -> Path:
    """Build the graph from ``sources`` (default all) into ``dest`` (a directory; default the user cache).

    Returns the path of ``graph.sqlite``. An existing graph is kept unless ``force``.
    """
    names = parse_sources(sources)
    out_dir = Path(dest) if dest is not None else default_graph_dir()
    path = out_dir / GRAPH_FILE if out_dir.suffix != ".sqlite" else out_dir
    if path.exists() and not force:
        log.info("kg: %s exists; use force=True (--force) to rebuild", path)
        return path

    def read_all():
        for i, name in enumerate(names, 1):
            t = time.perf_counter()
            phase(f"kg: reading {name} ({i}/{len(names)})")
            data = _reader(name)()
            log.info("kg: read %s in %.1fs", name, time.perf_counter() - t)
            yield data

    return write_graph(path, read_all())
