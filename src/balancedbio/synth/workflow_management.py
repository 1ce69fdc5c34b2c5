"""The drug part of an integration vignette's ``Management:`` section, drawn from the graph's therapy layer.

For the seed disease (our design; BalancedBio, arXiv 2508.04278, publishes no workflow details):

1. **treat**: drugs with an ``indicated_for`` edge to the disease (or its MONDO cluster) when the graph has
   any (imported graphs such as PrimeKG), plus ``off_label_for`` ones; otherwise drugs whose ``targets`` edge
   reaches the product of one of the disease's genes, stated as such ("drugs targeting the product of
   GENE: ..."), never as an indication;
2. **avoid**: drugs with a ``contraindicated_for`` edge to the disease, and one drug recorded to interact
   with the first treatment named (``interacts_with``, with its severity);
3. **nothing**: when the graph gives no drug, the section says so ("no drug in the knowledge graph ...")
   instead of inventing one.

Every drug named is a fact of the item (validated against the graph). The row also gets the check
``balancedbio:management`` whose kwargs list the drugs the graph supports for the disease (``supported``)
and those it refutes (``refuted``: the contraindicated drugs and three drugs of the graph with no indication
for the disease and no target among its genes, each a validated negative), each as a list of names; the
scorer judges a completion's Management section with it (:mod:`balancedbio.scoring.management`).

Example::

    plan = management_plan(random.Random(0), pools, "OMIM:219700", ["HGNC:1884"])
    plan.clauses        # ['drugs targeting the product of CFTR: ivacaftor, lumacaftor', ...]
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from balancedbio.scoring.answers import normalize_answer
from balancedbio.synth.item import fact, join_names, sample_distinct
from balancedbio.synth.pools import Pools
from balancedbio.synth.templates_therapy import drug_stem
from balancedbio.verifiers import MANAGEMENT_ID

MAX_LISTED = 4              # drugs written per treat / avoid clause
MAX_SUPPORTED = 12          # drugs listed in the check's ``supported`` (the written ones first)
MAX_NAMES = 4               # names per drug in the check (the preferred name first)


@dataclass
class ManagementPlan:
    """The drug clauses of a Management section with the facts they state and the scoring check."""

    clauses: list[str] = field(default_factory=list)
    facts: list[dict[str, str]] = field(default_factory=list)
    negatives: list[dict[str, str]] = field(default_factory=list)
    mentions: list[tuple[str, str]] = field(default_factory=list)
    evidence: list[tuple[dict[str, str], str, str]] = field(default_factory=list)
    check: dict[str, Any] | None = None


def _by_name(p: Pools, drugs) -> list[str]:
    return sorted(dict.fromkeys(drugs), key=lambda x: (p.therapy.drug_name[x].lower(), x))


def _one_per_stem(p: Pools, drugs: list[str]) -> list[str]:
    """One drug per first word (no 'Capmatinib and Capmatinib hydrochloride'), in order."""
    seen: set[str] = set()
    out = []
    for x in drugs:
        stem = drug_stem(p.therapy.drug_name[x])
        if stem not in seen:
            seen.add(stem)
            out.append(x)
    return out


def drug_names(p: Pools, drug: str) -> list[str]:
    """The drug's preferred name and up to ``MAX_NAMES - 1`` short synonyms (what the scorer matches)."""
    ent = p.graph.entity(drug)
    out = [p.therapy.drug_name[drug]]
    for syn in (ent.synonyms if ent else ()):
        norm = normalize_answer(syn)
        if len(out) >= MAX_NAMES:
            break
        if 4 <= len(syn) <= 40 and not norm.replace(" ", "").isdigit() and \
                norm not in {normalize_answer(n) for n in out}:
            out.append(syn)
    return out


def management_plan(rng: random.Random, p: Pools, disease: str, genes: list[str]) -> ManagementPlan:
    """The drug clauses of the Management section for ``disease`` (module docstring)."""
    t, plan = p.therapy, ManagementPlan()
    dn = p.disease_name[disease]
    indicated = t.drugs_for("indicated_for", disease)
    off_label = t.drugs_for("off_label_for", disease)
    contra = t.drugs_for("contraindicated_for", disease)
    conflicted = {x for x, _ in contra} & {x for x, _ in indicated + off_label}   # the graph says both: skip
    indicated = [(x, o) for x, o in indicated if x not in conflicted]
    off_label = [(x, o) for x, o in off_label if x not in conflicted]
    contra = [(x, o) for x, o in contra if x not in conflicted]
    name = t.drug_name

    def state(drug: str, rel: str, obj: str) -> None:
        plan.facts.append(fact(drug, rel, obj, t.source(drug, rel, obj)))
        plan.mentions.append((name[drug], drug))

    def state_each(pairs: list[tuple[str, str]], rel: str) -> list[str]:
        """State up to MAX_LISTED of the (drug, object) pairs, one drug per name stem, by name."""
        obj = dict(pairs)
        shown = _one_per_stem(p, _by_name(p, obj))[:MAX_LISTED]
        for x in shown:
            state(x, rel, obj[x])
        return shown

    listed: list[str] = []
    if indicated:
        obj = dict(indicated)
        listed = state_each(indicated, "indicated_for")
        plan.clauses.append(f"indicated drugs: {join_names([name[x] for x in listed])}")
        if off_label:
            obj_off = dict(off_label)
            extra = _one_per_stem(p, [x for x in _by_name(p, obj_off) if x not in obj])[:2]
            for x in extra:
                state(x, "off_label_for", obj_off[x])
            if extra:
                plan.clauses.append(f"used off-label: {join_names([name[x] for x in extra])}")
                listed += extra
        supported = _by_name(p, [x for x, _ in indicated + off_label])
    else:
        avoid = {x for x, _ in contra}
        for g in sorted(genes, key=lambda g: p.gene_symbol[g]):
            drugs = _one_per_stem(p, [x for x in _by_name(p, t.targeted_by.get(g, []))
                                      if x not in avoid and x not in listed])[:MAX_LISTED]
            for x in drugs:
                state(x, "targets", g)
            if drugs:
                plan.clauses.append(f"drugs targeting the product of {p.gene_symbol[g]}: "
                                    f"{join_names([name[x] for x in drugs])}")
                listed += [x for x in drugs if x not in listed]
        supported = _by_name(p, [x for g in genes for x in t.targeted_by.get(g, []) if x not in avoid])
    if not listed:
        what = f"the product of {join_names([p.gene_symbol[g] for g in genes])}" if genes else "a gene of it"
        plan.clauses.append(f"no drug in the knowledge graph is indicated for {dn} or targets {what}")
    if contra:
        shown = state_each(contra, "contraindicated_for")
        plan.clauses.append(f"avoid {join_names([name[x] for x in shown])} (contraindicated in {dn})")
    for a in listed[:1]:
        partners = [b for b in _by_name(p, t.interactions.get(a, {})) if b not in supported]
        if partners:
            b = partners[rng.randrange(len(partners))]
            f = fact(a, "interacts_with", b, t.source(a, "interacts_with", b))
            plan.facts.append(f)
            plan.mentions.append((name[b], b))
            sev = t.interactions[a][b]
            if sev:
                plan.evidence.append((f, "severity", sev))
            plan.clauses.append(f"avoid combining {name[a]} with {name[b]} (recorded interaction"
                                f"{', severity: ' + sev if sev else ''})")
    if not t.has_drugs:
        return plan
    # the scoring key: supported drugs (written ones first) and refuted ones (contraindicated + distractors)
    supported = listed + [x for x in supported if x not in listed]
    known = {x for x, _ in indicated + off_label + contra} | set(supported) | conflicted
    # a drug recorded for a broader disease (a MONDO ancestor: PrimeKG groups diseases) is no distractor
    if t.has_indications:
        for up in sorted(p.graph.ancestors(p.cluster.get(disease, disease))):
            for rel in ("treated_by", "has_off_label_use"):
                known.update(p.graph.neighbors(up, rel))
    gene_set = set(p.genes.get(disease, []))
    objs = sorted({disease, p.cluster.get(disease, disease)} | {o for _, o in indicated + off_label + contra})
    taken = {normalize_answer(n) for x in supported[:MAX_SUPPORTED] for n in drug_names(p, x)}
    stems = {drug_stem(name[x]) for x in supported + [x for x, _ in indicated + off_label]}
    pool = t.target_drugs or t.interacting_drugs or t.drug_pool     # medicines first, not allergens or foods
    distractors = sample_distinct(
        rng, pool, 3, known,
        accept=lambda x: not (set(t.targets.get(x, [])) & gene_set) and drug_stem(name[x]) not in stems
        and not ({normalize_answer(n) for n in drug_names(p, x)} & taken))
    for x in distractors:
        plan.negatives += [fact(x, rel, o, "graph") for rel in ("indicated_for", "off_label_for") for o in objs]
        plan.negatives += [fact(x, "targets", g, "graph") for g in sorted(gene_set)]
        plan.mentions.append((name[x], x))
    refuted = [x for x, _ in contra] + distractors
    for x in [x for x, _ in contra]:
        plan.negatives += [fact(x, rel, o, "graph") for rel in ("indicated_for", "off_label_for") for o in objs]
    refuted_names = []
    for x in refuted:
        names = [n for n in drug_names(p, x) if normalize_answer(n) not in taken]
        if names:
            refuted_names.append(names)
    plan.check = {"id": MANAGEMENT_ID, "kwargs": {
        "supported": [drug_names(p, x) for x in supported[:MAX_SUPPORTED]], "refuted": refuted_names}}
    return plan
