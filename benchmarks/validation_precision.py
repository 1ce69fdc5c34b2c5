"""Validation precision: true graph facts must be accepted, corrupted ones rejected (>= 99% each).

For each relation, sample true facts from the graph; corrupt each by swapping its object for a random
entity of the same type (a phenotype for a phenotype, a gene for a gene, ...). The synth validator
(:class:`balancedbio.synth.validate.Validator`) must accept the true facts (``supported``) and reject the
corrupted ones (``refuted``: not stored and not implied by the HPO true-path rule / is_a transitivity).
A corruption that the source data itself supports (the random object happens to be annotated, or an
ancestor of an annotation) is not a false fact; those are counted separately and excluded from the
rejection rate, and the raw rate is reported too. A text-level check runs the same facts as sentences
through :func:`balancedbio.scoring.facts.check_claims`.

The therapy layer's relations are measured the same way where the graph holds them: ``targets`` (drug ->
gene), ``has_role`` (drug -> ChEBI role; a role's is_a ancestors hold too), ``in_class`` (drug -> ATC; the
level-1 class of a level-2 one holds too), ``interacts_with`` (drug -> drug), ``gene_in_pathway``,
``located_in`` (HPO system -> UBERON; a structure containing the stated one holds too) and anatomy
``part_of``; a relation the graph lacks (``targets`` without drug2cell or an import) is listed as absent.
Each relation also gets near-miss corruptions: the object swapped for an object the same relation has
elsewhere in the graph (another drug's target, a role some drug has), a harder negative than a random
entity; those the sources support are excluded as above.

    python benchmarks/validation_precision.py --graph ~/.cache/balancedbio/kg --per-relation 2000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

RARE_DISEASE = (("has_phenotype", "hpo", "phenotype"), ("associated_with_gene", "hpo", "gene"),
                ("has_inheritance", "hpo", "inheritance"), ("has_icd10cm", "mondo", "icd10cm"),
                ("is_a", "go", "go"), ("is_a", "hpo", "phenotype"))


def _key(r: dict) -> tuple[str, str, str]:
    return r["relation"], r["source"], r["object_type"]


def _totals(results: list[dict]) -> dict[str, float]:
    n = sum(r["n"] for r in results)
    return {"true_accept_rate": round(sum(r["true_accepted"] for r in results) / n, 5),
            "corrupted_rejected_rate_excluding_true": round(
                sum(r["corrupted_rejected"] for r in results)
                / sum(r["n"] - r["corruptions_supported_by_source"] for r in results), 5),
            "corrupted_rejected_raw_rate": round(sum(r["corrupted_rejected_raw_rate"] * r["n"] for r in results) / n, 5)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--graph", default=None)
    ap.add_argument("--per-relation", type=int, default=2000)
    ap.add_argument("--text-samples", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", default="benchmarks/results/synth_validation_precision.json")
    args = ap.parse_args()

    from balancedbio.knowledge.graph import KnowledgeGraph
    from balancedbio.scoring.facts import check_claims
    from balancedbio.synth.validate import Validator

    kg = KnowledgeGraph.open(args.graph)
    v = Validator(kg)
    rng = random.Random(args.seed)
    c = kg._conn()
    pools = {
        "phenotype": [r[0] for r in c.execute("SELECT curie FROM entities WHERE type='phenotype' ORDER BY curie")],
        "gene": [r[0] for r in c.execute("SELECT curie FROM entities WHERE type='gene' ORDER BY curie")],
        "inheritance": sorted({r[0] for r in c.execute("SELECT object FROM edges WHERE relation='has_inheritance'")}),
        "icd10cm": [r[0] for r in c.execute("SELECT curie FROM entities WHERE type='icd10cm' AND "
                                            "extra LIKE '%\"code\"%' ORDER BY curie")],
        "go": [r[0] for r in c.execute("SELECT curie FROM entities WHERE type='go' ORDER BY curie")],
    }
    for kind in ("drug", "role", "atc", "pathway", "anatomy"):
        pools[kind] = [r[0] for r in c.execute("SELECT curie FROM entities WHERE type=? ORDER BY curie", (kind,))]
    specs = list(RARE_DISEASE)
    therapy = [("targets", None, "gene"), ("has_role", "drugs", "role"), ("in_class", None, "atc"),
               ("interacts_with", None, "drug"), ("gene_in_pathway", None, "pathway"),
               ("located_in", "uberon", "anatomy"), ("part_of", "uberon", "anatomy")]
    absent = []
    for rel, source, kind in therapy:
        have = c.execute("SELECT source FROM edges WHERE relation = ? AND (? IS NULL OR source = ?) LIMIT 1",
                         (rel, source, source)).fetchone()
        if have is None or not pools[kind]:
            absent.append(rel)
        else:
            specs.append((rel, source or have[0], kind))
    results = []
    t0 = time.perf_counter()
    import networkx as nx

    hierarchies = {}
    for src in ("hpo", "go", "icd10cm", "drugs", "drug2cell", "curated"):
        g = nx.DiGraph()
        g.add_edges_from(kg.iter_edges("is_a", src))       # child -> parent
        hierarchies[src] = g
    g = nx.DiGraph()
    g.add_edges_from(kg.iter_edges("part_of", "uberon"))   # structure -> containing organ / system
    hierarchies["anatomy"] = g

    def ancestors(src: str, node: str) -> set[str]:
        g = hierarchies[src]
        return nx.descendants(g, node) if node in g else set()

    for rel, source, kind in specs:
        # the therapy relations draw from their own generator, so the rare-disease relations and the text
        # level sample exactly what they sampled before those relations were added
        r_rng = rng if (rel, source, kind) in RARE_DISEASE else random.Random(f"{args.seed}-{rel}-{source}")
        edges = list(kg.iter_edges(rel, source))
        stored: dict[str, set[str]] = {}
        for s_, o_ in edges:
            stored.setdefault(s_, set()).add(o_)

        def true_by_source(s_: str, o_: str, stored=stored, rel=rel, source=source) -> bool:
            """Independent of the validator: raw stored edges plus networkx closures."""
            objs = stored.get(s_, set())
            if o_ in objs:
                return True
            if rel in ("has_phenotype", "has_inheritance"):        # HPO true-path rule
                return any(o_ in ancestors("hpo", x) for x in objs)
            if rel == "is_a":
                return o_ in ancestors(source, s_)
            if rel == "has_icd10cm":                                # a sub-code of a stored code
                return bool(ancestors("icd10cm", o_) & objs)
            if rel in ("has_role", "in_class"):                     # a class of a stated class
                return any(o_ in ancestors(h, x) for x in objs for h in ("drugs", "drug2cell", "curated"))
            if rel in ("located_in", "part_of"):                    # a structure containing a stated one
                return any(o_ in ancestors("anatomy", x) for x in objs) or o_ in ancestors("anatomy", s_)
            return False

        sample = r_rng.sample(edges, min(args.per_relation, len(edges)))
        accepted = sum(v.supported({"subject": s, "relation": rel, "object": o}) for s, o in sample)
        rejected = actually_true = rejected_raw = wrongly_rejected = 0
        for s, o in sample:
            x = o
            while x == o:
                x = pools[kind][r_rng.randrange(len(pools[kind]))]
            f = {"subject": s, "relation": rel, "object": x}
            is_rejected = v.refuted(f)
            rejected_raw += is_rejected
            if true_by_source(s, x):
                actually_true += 1
                wrongly_rejected += is_rejected
            else:
                rejected += is_rejected
        # near misses: the object of the same relation for another subject (a real target, a real role, a
        # drug that does interact with others), drawn with their own generator so the above stays as it was
        near_pool = sorted({o_ for _, o_ in edges})
        near_rng = random.Random(args.seed + 1)
        near_rejected = near_true = near_n = 0
        for s, o in sample if len(near_pool) > 1 else ():
            x = o
            while x == o:
                x = near_pool[near_rng.randrange(len(near_pool))]
            if true_by_source(s, x):
                near_true += 1
                continue
            near_n += 1
            near_rejected += v.refuted({"subject": s, "relation": rel, "object": x})
        n = len(sample)
        results.append({"relation": rel, "source": source, "object_type": kind, "n": n,
                        "near_miss_false": near_n, "near_miss_true_by_source": near_true,
                        "near_miss_rejected_rate": round(near_rejected / max(1, near_n), 5),
                        "true_accepted": accepted, "true_accept_rate": round(accepted / n, 5),
                        "corrupted_rejected_raw_rate": round(rejected_raw / n, 5),
                        "corruptions_supported_by_source": actually_true, "corrupted_rejected": rejected,
                        "source_supported_corruptions_rejected": wrongly_rejected,
                        "corrupted_rejected_rate_excluding_true": round(rejected / max(1, n - actually_true), 5)})
        print(json.dumps(results[-1]), flush=True)

    # text level: "<disease> is characterised by <phenotype>." through check_claims
    names = dict(c.execute("SELECT curie, name FROM entities WHERE type IN ('disease', 'phenotype')"))
    edges = [e for e in kg.iter_edges("has_phenotype", "hpo") if e[0] in names and e[1] in names]
    sample = rng.sample(edges, min(args.text_samples, len(edges)))
    text = {"true_supported": 0, "true_refuted": 0, "true_no_claim": 0, "corrupt_refuted": 0,
            "corrupt_supported": 0, "corrupt_no_claim": 0}
    for d, h in sample:
        for label, obj in (("true", h), ("corrupt", pools["phenotype"][rng.randrange(len(pools["phenotype"]))])):
            rep = check_claims(f"{names[d]} is characterised by {names[obj].lower()}.", kg)
            key = "no_claim" if not rep.claims else ("supported" if rep.supported else "refuted")
            text[f"{label}_{key}"] += 1
    print(json.dumps(text), flush=True)
    out = {"benchmark": "synth_validation_precision", "seed": args.seed, "per_relation": args.per_relation,
           "relations": results, "relations_absent_from_graph": absent, "text_level": {"n": len(sample), **text},
           "totals": _totals([r for r in results if _key(r) in RARE_DISEASE]),
           "totals_therapy": _totals(therapy) if (therapy := [r for r in results if _key(r) not in RARE_DISEASE])
           else None,
           "seconds": round(time.perf_counter() - t0, 1),
           "machine": f"{platform.machine()} {os.cpu_count()} CPU cores (shared with other jobs)",
           "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
           "sources": kg.sources, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
