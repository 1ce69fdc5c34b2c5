"""Build the knowledge graph once: read every source, bulk-insert into SQLite, index, rename into place.

``balancedbio kg build [--sources hpo,mondo,...] [--force]`` calls :func:`build_graph`. The file is
written under a temporary name and renamed at the end, so an interrupted build leaves no half graph.

Example::

    from balancedbio.knowledge.build import build_graph
    path = build_graph()                       # all sources -> ~/.cache/balancedbio/kg/graph.sqlite
    path = build_graph(tmp, sources=["hpo", "hgnc"])
"""

from __future__ import annotations

import hashlib
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
from balancedbio.knowledge.importers import read_kgx, read_primekg
from balancedbio.knowledge.sources import LICENCES, OPT_IN, READERS, SourceData
from balancedbio.progress import phase

log = logging.getLogger(__name__)
ALL_SOURCES = tuple(READERS)
KNOWN = ALL_SOURCES + tuple(OPT_IN)
IMPORTERS = {"primekg": read_primekg, "kgx": read_kgx}


def _is_import(spec: str) -> bool:
    return spec.partition(":")[0] in IMPORTERS


def parse_sources(sources: str | Iterable[str] | None) -> list[str]:
    """``"hpo,mondo"`` or a list -> validated source names (default: every non-opt-in source, in order).

    ``default`` stands for the default set (``default,drug2cell`` adds an opt-in source to it). Opt-in sources
    (``drug2cell``: non-commercial licence) are read only when named. Imports are named
    ``primekg:PATH`` (or ``primekg``: the fetched release) and ``kgx:DIR``; they come last, in the order given.
    """
    if sources is None:
        return list(ALL_SOURCES)
    names = [s.strip() for s in (sources.split(",") if isinstance(sources, str) else sources) if s.strip()]
    if "default" in names:                        # 'default,drug2cell': the default set plus the named ones
        names = [n for s in names for n in (ALL_SOURCES if s == "default" else (s,))]
    unknown = [s for s in names if s not in KNOWN and not _is_import(s)]
    if unknown:
        raise DataError(f"unknown knowledge source(s) {', '.join(unknown)} (known: {', '.join(KNOWN)}, "
                        "primekg[:PATH], kgx:DIR)")
    if not names:
        raise DataError(f"no knowledge source given (known: {', '.join(KNOWN)})")
    bad = [s for s in names if s.partition(":")[0] == "kgx" and not s.partition(":")[2]]
    if bad:
        raise DataError("kgx needs its folder: --sources ...,kgx:DIR")
    return [s for s in KNOWN if s in names] + list(dict.fromkeys(s for s in names if _is_import(s)))


def prepare_import(spec: str, allow_download: bool = False) -> SourceData:
    """Locate and check one import (every row: bad input fails here, before any source is read)."""
    kind, _, arg = spec.partition(":")
    if kind == "primekg" and not arg:
        from balancedbio.knowledge.fetch import cached_primekg, fetch_primekg

        path = cached_primekg()
        if path is None:
            if not allow_download:
                raise DataError("PrimeKG is not in the cache: name the file (--sources ...,primekg:PATH) or "
                                "pass --allow-download to fetch the release")
            path = fetch_primekg()
        arg = str(path)
    return IMPORTERS[kind](Path(arg).expanduser())


def licences(names: Iterable[str]) -> dict[str, str]:
    """Source name -> its licence line (what ``kg build`` prints and stores in the graph's meta)."""
    return {n: LICENCES.get(n, "unknown: see the source's own terms") for n in names}


def _reader(name: str):
    return READERS.get(name) or OPT_IN[name]


STALE_TMP_SECONDS = 600   # a build in progress writes its temporary file all the time; one untouched this long was killed


def remove_stale_temporaries(path: Path, older_than: float = STALE_TMP_SECONDS) -> int:
    """Delete the temporary files that killed builds of ``path`` left beside it (untouched for ``older_than`` s)."""
    removed = 0
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if time.time() - tmp.stat().st_mtime > older_than:
                tmp.unlink()
                removed += 1
        except OSError:
            pass
    return removed


def write_graph(path: Path, datasets: Iterable[SourceData], *, extra_meta: dict[str, str] | None = None) -> Path:
    """Write source data into a new SQLite graph at ``path`` (atomically). Returns ``path``.

    A SIGKILLed build cannot remove its temporary file; the next build of ``path`` removes those left
    untouched for :data:`STALE_TMP_SECONDS`.
    """
    t0 = time.perf_counter()
    if path.parent.is_dir():
        remove_stale_temporaries(path)
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
                n_edges = _insert(conn, data, seen, relations)
                log.info("kg: %s (%s): %d entities, %d edges", data.name, data.version, len(data.entities),
                         n_edges)
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


def _insert(conn: sqlite3.Connection, data: SourceData, seen: set[str], relations: set[str]) -> int:
    """Insert one source's rows; ``data.edges`` may be any iterable (importers stream theirs).

    Adds the relation names met to ``relations``; returns the number of edges inserted.
    """
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
    count = 0

    def rows():
        nonlocal count
        for d in data.edges:
            count += 1
            relations.add(d.relation)
            yield (d.subject, d.relation, d.object, d.source,
                   json.dumps(d.evidence, sort_keys=True) if d.evidence else None)

    conn.executemany("INSERT INTO edges VALUES (?, ?, ?, ?, ?)", rows())
    return count


def cache_dir_for(names: list[str]) -> Path:
    """The cache folder of a graph built from ``names``: ``$BALANCEDBIO_HOME/kg`` for the default sources,
    ``$BALANCEDBIO_HOME/kg/sets/<names or hash>`` for any other set (so graphs of two sets never replace
    each other in the cache: the quickstart's graph with ``drug2cell`` beside the default one)."""
    root = default_graph_dir()
    if names == list(ALL_SOURCES):
        return root
    slug = "+".join(names)
    if len(slug) > 80 or not all(n in KNOWN for n in names):     # imports name paths: use a hash
        slug = "set-" + hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    return root / "sets" / slug


def built_source_set(path: Path) -> list[str] | None:
    """The source names a built graph records (``None`` for a file that is not a graph)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    if "source_set" in meta:
        return json.loads(meta["source_set"])
    return sorted(json.loads(meta.get("sources", "{}")))                # graphs built before source_set


def build_graph(dest: str | os.PathLike | None = None, sources: str | Iterable[str] | None = None,
                force: bool = False, allow_download: bool = False) -> Path:
    """Build the graph from ``sources`` (default all) into ``dest`` (a directory; default the user cache).

    Returns the path of ``graph.sqlite``. An existing graph built from the same sources is kept unless
    ``force``. In the cache (``dest=None``) each source set has its own folder (:func:`cache_dir_for`) and a
    cached graph built from other sources (an older release's default set) is rebuilt; an explicit ``dest``
    holding a graph of other sources is a :class:`DataError` unless ``force``.
    """
    names = parse_sources(sources)
    out_dir = Path(dest) if dest is not None else cache_dir_for(names)
    path = out_dir / GRAPH_FILE if out_dir.suffix != ".sqlite" else out_dir
    if path.exists() and not force:
        built = built_source_set(path)
        if built is not None and sorted(built) == sorted(names):
            log.info("kg: %s exists; use force=True (--force) to rebuild", path)
            return path
        if dest is not None:
            raise DataError(f"{path}: a graph built from {', '.join(built or ['unknown sources'])} is there; "
                            f"--force rebuilds it from {', '.join(names)}")
        phase(f"kg: the cached graph was built from {', '.join(built or ['unknown sources'])}; "
              f"rebuilding it from {', '.join(names)}")

    imports = {}
    for spec in (s for s in names if _is_import(s)):
        phase(f"kg: checking {spec}")
        imports[spec] = prepare_import(spec, allow_download)

    def read_all():
        for i, name in enumerate(names, 1):
            t = time.perf_counter()
            phase(f"kg: reading {name} ({i}/{len(names)})")
            data = imports[name] if name in imports else _reader(name)()
            log.info("kg: read %s in %.1fs", name, time.perf_counter() - t)
            yield data

    return write_graph(path, read_all(), extra_meta={"source_set": json.dumps(names)})
