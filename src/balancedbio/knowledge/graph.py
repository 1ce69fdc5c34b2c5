"""The on-disk medical knowledge graph: one SQLite file of entities, names and typed relations.

Built once by :func:`balancedbio.knowledge.build.build_graph` (``balancedbio kg build``) into
``$BALANCEDBIO_HOME/kg/graph.sqlite``; opening it is instant (read-only, nothing is loaded into memory).

Tables::

    entities(curie PK, type, name, synonyms JSON, definition, source, extra JSON)
    names(norm, curie, preferred)           -- every name and synonym, normalised, for linking
    edges(subject, relation, object, source, evidence JSON)
    meta(key PK, value)                     -- sources, versions, counts, build time

Relations (subject -> object; the therapy layer's are listed in :data:`INVERSE`): ``has_phenotype`` (disease -> HP), ``has_inheritance`` (disease -> HP
mode of inheritance), ``associated_with_gene`` (disease -> HGNC), ``has_icd10cm`` (MONDO/DOID -> ICD10CM),
``is_a`` (child -> parent, within one ontology), ``part_of`` (GO), ``xref`` (MONDO/DOID -> an equivalent
OMIM/ORPHA/DOID/MeSH id). Each has an inverse name (``phenotype_of``, ``gene_associated_with``, ...)
accepted by :meth:`KnowledgeGraph.verify` and :meth:`KnowledgeGraph.neighbors`. Relations of imported
graphs that map to none of ours are stored under their own name (listed in ``meta.relations``) and
accepted too.

Example::

    kg = KnowledgeGraph.open()
    kg.link("cystic fibrosis")[0].curie                     # 'MONDO:0009061' (or OMIM:219700, ...)
    kg.verify("OMIM:219700", "has_phenotype", "HP:0002110").supported   # True
    kg.verify("imatinib", "targets", "ABL1").supported       # True when a targets source was built
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from balancedbio.errors import DataError
from balancedbio.knowledge.schema import (  # noqa: F401  (re-exported: the graph's public schema)
    CURIE_PATTERN,
    GRAPH_FILE,
    INDEXES,
    INVERSE,
    PREFIX_RANK,
    RELATIONS,
    SCHEMA,
    SCHEMA_VERSION,
    Entity,
    Verdict,
    canonical_relation,
    default_graph_dir,
    entity_from_row,
    normalize_name,
)


class KnowledgeGraph:
    """Read-only access to a built graph. Cheap to open; safe to share between threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        self._parents: dict[tuple[str, str], tuple[str, ...]] = {}
        self._closures: dict[tuple[str, str], frozenset[str]] = {}
        self._meta = dict(self._conn().execute("SELECT key, value FROM meta"))
        if self._meta.get("schema_version") != SCHEMA_VERSION:
            raise DataError(f"{self.path}: knowledge graph schema {self._meta.get('schema_version')!r} is not "
                            f"{SCHEMA_VERSION!r}; rebuild it with 'balancedbio kg build --force'")

    # ---------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike | None = None) -> KnowledgeGraph:
        """Open a built graph: ``path`` is a graph directory or ``graph.sqlite``; default the user's cache."""
        p = Path(path) if path is not None else default_graph_dir()
        if p.is_dir():
            p = p / GRAPH_FILE
        if not p.is_file():
            hint = "run 'balancedbio kg build' first" if path is None else "build it with 'balancedbio kg build'"
            raise DataError(f"no knowledge graph at {p}; {hint}")
        try:
            return cls(p)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{p}: not a readable knowledge graph ({exc}); rebuild with "
                            "'balancedbio kg build --force'") from None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path)}          # picklable for worker processes: reopened lazily

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(Path(state["path"]))

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @property
    def meta(self) -> dict[str, str]:
        return dict(self._meta)

    @property
    def sources(self) -> dict[str, str]:
        """Source name -> version string."""
        return json.loads(self._meta.get("sources", "{}"))

    @property
    def licences(self) -> dict[str, str]:
        """Source name -> licence line (graphs built before licences were recorded: empty)."""
        return json.loads(self._meta.get("licences", "{}"))

    # ---------------------------------------------------------------------------------------------
    def entity(self, curie: str) -> Entity | None:
        row = self._conn().execute("SELECT curie, type, name, synonyms, definition, source, extra FROM entities "
                                   "WHERE curie = ?", (curie,)).fetchone()
        return entity_from_row(row) if row else None

    def entities(self, curies: list[str]) -> dict[str, Entity]:
        out: dict[str, Entity] = {}
        for i in range(0, len(curies), 500):
            chunk = curies[i:i + 500]
            q = ("SELECT curie, type, name, synonyms, definition, source, extra FROM entities WHERE curie IN "
                 f"({','.join('?' * len(chunk))})")
            for row in self._conn().execute(q, chunk):
                out[row[0]] = entity_from_row(row)
        return out

    def link(self, name: str, *, types: tuple[str, ...] | None = None) -> list[Entity]:
        """Entities whose name or synonym equals ``name`` (case-insensitive), or the entity ``name`` as a CURIE.

        Ordered: preferred-name matches first, then by source (MONDO, OMIM, ORPHA, DOID, HP, HGNC, ..., CHEBI,
        DRUGBANK, UBERON, ..., MESH).
        """
        if CURIE_PATTERN.match(name.strip()):
            e = self.entity(name.strip())
            if e is not None and (types is None or e.type in types):
                return [e]
        rows = self._conn().execute("SELECT curie, MAX(preferred) FROM names WHERE norm = ? GROUP BY curie",
                                    (normalize_name(name),)).fetchall()
        ents = self.entities([r[0] for r in rows])
        pref = dict(rows)
        out = [e for e in ents.values() if types is None or e.type in types]
        out.sort(key=lambda e: (-pref[e.curie], PREFIX_RANK.get(e.curie.split(":")[0], 99), e.curie))
        return out

    def link_curies(self, name: str) -> frozenset[str]:
        """CURIEs whose name or synonym equals ``name`` (case-insensitive); no entity rows fetched."""
        rows = self._conn().execute("SELECT curie FROM names WHERE norm = ?", (normalize_name(name),))
        return frozenset(r[0] for r in rows)

    def link_many(self, norms: list[str]) -> dict[str, list[tuple[str, int]]]:
        """Normalised names -> [(curie, preferred)] for those that match; one query per 500 names."""
        out: dict[str, list[tuple[str, int]]] = {}
        for i in range(0, len(norms), 500):
            chunk = norms[i:i + 500]
            q = f"SELECT norm, curie, preferred FROM names WHERE norm IN ({','.join('?' * len(chunk))})"
            for norm, curie, pref in self._conn().execute(q, chunk):
                out.setdefault(norm, []).append((curie, pref))
        return out

    def canonical_relation(self, relation: str) -> tuple[str, bool]:
        """:func:`canonical_relation`, also accepting relation names stored in this graph (imported types)."""
        try:
            return canonical_relation(relation)
        except DataError:
            if relation in json.loads(self._meta.get("relations", "[]")):
                return relation, False
            raise

    def neighbors(self, curie: str, relation: str | None = None) -> list[str]:
        """Objects of ``curie``'s outgoing edges (or subjects, for an inverse relation name), sorted."""
        if relation is None:
            rows = self._conn().execute("SELECT DISTINCT object FROM edges WHERE subject = ?", (curie,))
            return sorted(r[0] for r in rows)
        rel, inverse = self.canonical_relation(relation)
        if inverse:
            rows = self._conn().execute("SELECT DISTINCT subject FROM edges WHERE object = ? AND relation = ?",
                                        (curie, rel))
        else:
            rows = self._conn().execute("SELECT DISTINCT object FROM edges WHERE subject = ? AND relation = ?",
                                        (curie, rel))
        return sorted(r[0] for r in rows)

    def edges(self, subject: str, relation: str, obj: str) -> list[dict[str, Any]]:
        """Stored edges exactly matching the triple (canonical relation direction)."""
        rows = self._conn().execute("SELECT subject, relation, object, source, evidence FROM edges WHERE "
                                    "subject = ? AND relation = ? AND object = ?", (subject, relation, obj))
        return [{"subject": s, "relation": r, "object": o, "source": src,
                 "evidence": json.loads(ev) if ev else {}} for s, r, o, src, ev in rows]

    def has_edge(self, subject: str, relation: str, obj: str) -> bool:
        return self._conn().execute("SELECT 1 FROM edges WHERE subject = ? AND relation = ? AND object = ? "
                                    "LIMIT 1", (subject, relation, obj)).fetchone() is not None

    def equivalents(self, curie: str) -> list[str]:
        """``curie`` and the ids cross-referenced with it by MONDO/DOID (``xref``), within two hops.

        MeSH and ICD-10-CM ids are never passed through (they are broader than the diseases they map).
        """
        seen = {curie}
        frontier = [curie]
        for _ in range(2):
            nxt = []
            for c in frontier:
                if c.startswith(("MESH:", "ICD10CM:")):
                    continue
                for other in self.neighbors(c, "xref") + self.neighbors(c, "xref_of"):
                    if other not in seen:
                        seen.add(other)
                        nxt.append(other)
            frontier = nxt
        return [curie] + sorted(seen - {curie})

    def ancestors(self, curie: str, relation: str = "is_a") -> set[str]:
        """All ``is_a`` ancestors (transitive), not including ``curie`` itself."""
        return self.ancestors_of_many([curie], relation) - {curie}

    # ---------------------------------------------------------------------------------------------
    def resolve(self, ref: str) -> list[str]:
        """A CURIE (if in the graph, or an id the graph cross-references, e.g. a drug's DrugBank or
        ChEMBL id) or a name -> candidate CURIEs."""
        ref = ref.strip()
        if CURIE_PATTERN.match(ref):
            if self.entity(ref) is not None:
                return [ref]
            via = self.neighbors(ref, "xref_of")
            if via:
                return via
        return [e.curie for e in self.link(ref)]

    def verify(self, subject: str, relation: str, obj: str, *, true_path: bool = False) -> Verdict:
        """Does the graph support ``subject -relation-> obj``? Subject/object are CURIEs or names.

        A stored edge supports it directly. If the subject has no edge of that relation at all, its
        cross-referenced equivalents are tried (e.g. ``MONDO:0009061 has_phenotype`` is answered by
        ``OMIM:219700``'s annotations). ``is_a`` holds transitively. With ``true_path`` an annotation
        also supports every ``is_a`` ancestor of its object (HPO's true-path rule).
        """
        rel, inverse = self.canonical_relation(relation)
        subs, objs = self.resolve(subject), self.resolve(obj)
        if inverse:
            subs, objs = objs, subs
        if not subs or not objs:
            missing = [r for r, c in ((subject, subs), (obj, objs)) if not c]
            return Verdict(False, [], tuple(subs), tuple(objs), f"not in the graph: {', '.join(missing)}")
        return self.verify_ids(subs, rel, objs, true_path=true_path)

    def verify_ids(self, subs: list[str], rel: str, objs: list[str], *, true_path: bool = False) -> Verdict:
        """:meth:`verify` on candidate CURIE lists and a stored (canonical) relation name."""
        evidence = self._direct(subs, rel, objs)
        if not evidence:
            via = [e for s in subs if not self._has_relation(s, rel) for e in self.equivalents(s)[1:]]
            evidence = self._direct(list(dict.fromkeys(via)), rel, objs)
            subs_all = list(dict.fromkeys([*subs, *via]))
        else:
            subs_all = list(subs)
        if not evidence and rel in ("is_a", "has_icd10cm"):
            # is_a is transitive; a more specific ICD-10-CM code lies within the stored category
            for s in subs_all:
                if rel == "is_a":
                    ups = self.ancestors(s)
                    hits = [o for o in objs if o in ups]
                else:
                    stored = set(self.neighbors(s, "has_icd10cm"))
                    hits = [o for o in objs if stored and self.ancestors(o) & stored]
                evidence = [{"subject": s, "relation": rel, "object": o, "source": "inferred",
                             "evidence": {"transitive": True}} for o in hits]
                if evidence:
                    break
        if not evidence and true_path and rel in ("has_phenotype", "has_inheritance"):
            annotated = [o for s in subs_all for o in self.neighbors(s, rel)]
            closure = self.ancestors_of_many(annotated)
            evidence = [{"subject": subs_all[0], "relation": rel, "object": o, "source": "inferred",
                         "evidence": {"true_path": True}} for o in objs if o in closure]
        reason = "supported" if evidence else f"no '{rel}' edge between the linked entities"
        return Verdict(bool(evidence), evidence, tuple(subs), tuple(objs), reason)

    def parents(self, curie: str, relation: str = "is_a") -> tuple[str, ...]:
        """Direct ``relation`` objects of ``curie``, memoised (the cache is bounded by the graph's size)."""
        key = (curie, relation)
        got = self._parents.get(key)
        if got is None:
            got = tuple(r[0] for r in self._conn().execute(
                "SELECT object FROM edges WHERE subject = ? AND relation = ?", key))
            self._parents[key] = got
        return got

    def ancestors_of_many(self, curies: list[str], relation: str = "is_a") -> set[str]:
        """Union of the transitive ancestors of ``curies`` (memoised per node, bounded by the graph).

        (A recursive CTE would be shorter, but SQLite plans it with a Bloom filter over the whole edge
        table at every step, which is ~1000x slower on the full graph.)
        """
        out: set[str] = set()
        for c in curies:
            out |= self._closure(c, relation)
        return out

    def _closure(self, curie: str, relation: str) -> frozenset[str]:
        key = (curie, relation)
        got = self._closures.get(key)
        if got is not None:
            return got
        acc: set[str] = set()
        stack, seen = [curie], {curie}
        while stack:                                   # iterative DFS; reuses finished closures
            node = stack.pop()
            for parent in self.parents(node, relation):
                acc.add(parent)
                done = self._closures.get((parent, relation))
                if done is not None:
                    acc |= done
                elif parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        got = frozenset(acc)
        self._closures[key] = got
        return got

    def _direct(self, subs: list[str], rel: str, objs: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for s in subs:
            for o in objs:
                out += self.edges(s, rel, o)
        return out

    def _has_relation(self, curie: str, rel: str) -> bool:
        return self._conn().execute("SELECT 1 FROM edges WHERE subject = ? AND relation = ? LIMIT 1",
                                    (curie, rel)).fetchone() is not None

    # ---------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        c = self._conn()
        return {"path": str(self.path), "sources": self.sources, "licences": self.licences,
                "entities": dict(c.execute("SELECT type, COUNT(*) FROM entities GROUP BY type ORDER BY type")),
                "edges": dict(c.execute("SELECT relation, COUNT(*) FROM edges GROUP BY relation ORDER BY relation")),
                "built_at": self._meta.get("built_at"), "build_seconds": float(self._meta.get("build_seconds", 0))}

    def iter_edges(self, relation: str, source: str | None = None):
        """All (subject, object) pairs of one stored relation, ordered, optionally from one source."""
        q = "SELECT subject, object FROM edges WHERE relation = ?" + (" AND source = ?" if source else "")
        yield from self._conn().execute(q + " ORDER BY subject, object", (relation, source) if source else
                                        (relation,))

    def iter_entities(self, type_: str | None = None):
        q = "SELECT curie, type, name, synonyms, definition, source, extra FROM entities"
        rows = self._conn().execute(q + (" WHERE type = ?" if type_ else "") + " ORDER BY curie",
                                    (type_,) if type_ else ())
        for row in rows:
            yield entity_from_row(row)
