"""A small real-data knowledge graph for tests and examples: a few dozen well-known genetic diseases.

The data is a snapshot (``toy_data.json.gz``, next to this module) extracted from the same source readers
as the full graph: the seed diseases below with all their HPO annotations and genes, their MONDO/DOID
equivalents and ICD-10-CM codes (with code ancestors), the phenotypes' HPO ancestors, MeSH
cross-references and a handful of GO terms; and the therapy layer around them (``toy_therapy.py``): drugs
targeting the diseases' genes, their ChEBI roles and ATC classes, ANSM interactions among them, and the
UBERON sites of the phenotypes' HPO organ systems. :func:`build_toy_graph` writes it to SQLite in well under a
second. Regenerate the snapshot after a source update with ``python -m balancedbio.knowledge.toy``.

Example::

    from balancedbio.knowledge.toy import build_toy_graph
    from balancedbio.knowledge.graph import KnowledgeGraph
    kg = KnowledgeGraph.open(build_toy_graph(tmp_path / "kg"))
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

from balancedbio.knowledge.graph import GRAPH_FILE
from balancedbio.knowledge.sources import EdgeRecord, EntityRecord, SourceData
from balancedbio.knowledge.toy_therapy import extract_therapy

SNAPSHOT = Path(__file__).with_name("toy_data.json.gz")

SEED_DISEASES = (
    "OMIM:219700",  # cystic fibrosis
    "OMIM:154700",  # Marfan syndrome
    "OMIM:143100",  # Huntington disease
    "OMIM:261600",  # phenylketonuria
    "OMIM:603903",  # sickle cell anemia
    "OMIM:310200",  # Duchenne muscular dystrophy
    "OMIM:162200",  # neurofibromatosis type 1
    "OMIM:272800",  # Tay-Sachs disease
    "OMIM:235200",  # hemochromatosis type 1
    "OMIM:277900",  # Wilson disease
    "OMIM:230800",  # Gaucher disease type I
    "OMIM:301500",  # Fabry disease
    "OMIM:232300",  # glycogen storage disease II (Pompe)
    "OMIM:100800",  # achondroplasia
    "OMIM:253300",  # spinal muscular atrophy type 1
    "OMIM:300624",  # fragile X syndrome
    "OMIM:312750",  # Rett syndrome
    "OMIM:301050",  # Alport syndrome
    "OMIM:173900",  # polycystic kidney disease 1
    "OMIM:143890",  # familial hypercholesterolemia
    "OMIM:191100",  # tuberous sclerosis 1
    "OMIM:193300",  # von Hippel-Lindau syndrome
    "OMIM:160900",  # myotonic dystrophy 1
    "OMIM:229300",  # Friedreich ataxia
    "OMIM:306700",  # hemophilia A
    "OMIM:166200",  # osteogenesis imperfecta type I
    "OMIM:176270",  # Prader-Willi syndrome
    "OMIM:105830",  # Angelman syndrome
    "OMIM:163950",  # Noonan syndrome 1
    "OMIM:192500",  # long QT syndrome 1
    "OMIM:171400",  # multiple endocrine neoplasia 2A
    "OMIM:130000",  # Ehlers-Danlos syndrome, classic type 1
)
GO_KEYWORDS = ("chloride channel", "collagen fibril", "heme biosynthetic", "insulin secretion",
               "glycogen catabolic", "copper ion transport")


def extract_toy(datasets: dict[str, SourceData], seeds: tuple[str, ...] = SEED_DISEASES) -> dict:
    """Select the toy subset from fully read sources (``{name: SourceData}``); JSON-ready dict."""
    ents = {e.curie: e for d in datasets.values() for e in d.entities}
    keep_e: set[str] = set()
    keep_d: list[EdgeRecord] = []
    by_subject: dict[str, list[EdgeRecord]] = {}
    by_object: dict[str, list[EdgeRecord]] = {}
    for d in datasets.values():
        for e in d.edges:
            by_subject.setdefault(e.subject, []).append(e)
            by_object.setdefault(e.object, []).append(e)

    def add_edges(curie: str, relations: tuple[str, ...]) -> list[str]:
        targets = []
        for e in by_subject.get(curie, []):
            if e.relation in relations:
                keep_d.append(e)
                targets.append(e.object)
        return targets

    diseases = [s for s in seeds if s in ents]
    keep_e.update(diseases)
    phenos: set[str] = set()
    for did in diseases:
        for t in add_edges(did, ("has_phenotype", "has_inheritance", "associated_with_gene")):
            keep_e.add(t)
            if t.startswith("HP:"):
                phenos.add(t)
    todo, done = sorted(phenos), set()
    while todo:                               # the phenotypes' full is_a ancestry (true-path rule)
        hp = todo.pop()
        if hp in done:
            continue
        done.add(hp)
        for parent in add_edges(hp, ("is_a",)):
            keep_e.add(parent)
            todo.append(parent)
    mondos = sorted({e.subject for did in diseases for e in by_object.get(did, [])
                     if e.relation == "xref" and e.subject.startswith("MONDO:")})
    doids = sorted({e.subject for did in diseases for e in by_object.get(did, [])
                    if e.relation == "xref" and e.subject.startswith("DOID:")})
    for m in mondos:
        keep_e.add(m)
        for t in add_edges(m, ("xref", "has_icd10cm", "is_a")):
            keep_e.add(t)
            if t.startswith("DOID:"):
                doids.append(t)
    for d in sorted(set(doids)):
        keep_e.add(d)
        keep_e.update(add_edges(d, ("xref", "has_icd10cm")))
    for c in sorted(c for c in keep_e if c.startswith("ICD10CM:")):
        for e in by_object.get(c, []):          # the disease code's direct sub-codes
            if e.relation == "is_a" and e.source == "icd10cm":
                keep_d.append(e)
                keep_e.add(e.subject)
    for c in sorted(c for c in keep_e if c.startswith("ICD10CM:")):
        cur = c
        while True:
            parents = add_edges(cur, ("is_a",))
            if not parents:
                break
            cur = parents[0]
            keep_e.add(cur)
    gos = sorted(e.curie for e in ents.values() if e.type == "go" and any(k in e.name for k in GO_KEYWORDS))
    for g in gos:
        keep_e.add(g)
        keep_e.update(add_edges(g, ("is_a",)))
    curated = extract_therapy(datasets, keep_e, keep_d)
    datasets = {**datasets, curated.name: curated}
    ents.update({e.curie: e for e in curated.entities})
    keep_e.update(e.curie for e in curated.entities)
    keep_d += curated.edges
    kept = {(e.subject, e.relation, e.object): e for e in keep_d      # a drug's other ids: xref, not entities
            if e.subject in keep_e and (e.object in keep_e or (e.relation, e.source) == ("xref", "drugs"))}
    edges = sorted(kept.values(),
                   key=lambda e: (e.source, e.subject, e.relation, e.object))
    by_source: dict[str, dict] = {}
    for name, d in datasets.items():
        by_source[name] = {"version": d.version, "entities": [], "edges": []}
    src_of = {e.curie: e.source for e in ents.values()}
    for c in sorted(keep_e):
        if c in ents:
            e = ents[c]
            by_source[src_of[c]]["entities"].append([e.curie, e.type, e.name, list(e.synonyms), e.definition,
                                                     e.extra])
    for e in edges:
        by_source[e.source]["edges"].append([e.subject, e.relation, e.object, e.evidence])
    return {"seeds": list(diseases), "sources": by_source}


def load_snapshot(path: Path = SNAPSHOT) -> list[SourceData]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        raw = json.load(fh)
    out = []
    for name, d in raw["sources"].items():
        sd = SourceData(name, d["version"])
        sd.entities = [EntityRecord(c, t, n, tuple(s), df, name, x) for c, t, n, s, df, x in d["entities"]]
        sd.edges = [EdgeRecord(s, r, o, name, ev) for s, r, o, ev in d["edges"]]
        out.append(sd)
    return out


def build_toy_graph(dest: str | os.PathLike) -> Path:
    """Write the toy graph into directory ``dest`` (created); returns the ``graph.sqlite`` path."""
    from balancedbio.knowledge.build import write_graph

    dest = Path(dest)
    path = dest / GRAPH_FILE if dest.suffix != ".sqlite" else dest
    return write_graph(path, load_snapshot(), extra_meta={"toy": "1"})


def regenerate_snapshot(path: Path = SNAPSHOT) -> Path:
    """Re-extract the snapshot from the installed sources (slow: reads every source)."""
    from balancedbio.atomic import atomic_path
    from balancedbio.knowledge.sources import READERS

    data = extract_toy({name: reader() for name, reader in READERS.items()})
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fh:
            # no name or time in the gzip header: the same data gives the same bytes
            fh.write(json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode())
        os.chmod(tmp, 0o644)
    return path


if __name__ == "__main__":  # pragma: no cover
    print(regenerate_snapshot(Path(sys.argv[1]) if len(sys.argv) > 1 else SNAPSHOT))
