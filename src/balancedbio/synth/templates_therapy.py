"""MKGSG templates on the graph's therapy layer: drugs, targets, roles, ATC classes, interactions, pathways, anatomy.

Our templates (BalancedBio, Wu et al., arXiv 2508.04278, publishes none), written like
:mod:`balancedbio.synth.templates`: each samples a seed on one side of the split, records the facts it states
(``facts``) and the facts its distractors imply to be false (``negatives``), all checked by
:mod:`balancedbio.synth.validate`. Distractors are of the same type (genes for a target, drugs for a drug,
roles for a role, ...) and refuted by the graph, including through ``is_a`` / ``part_of`` closures where the
relation has a hierarchy (a role's ancestor or an organ's containing structure is never a distractor).
Every template returns ``None`` when the graph lacks the layer it needs (no drugs, no pathways, no UBERON),
so a rare-disease-only graph keeps working. Relation names: docs/knowledge.md (the therapy layer).

Expertise: drug -> target gene, target gene -> drug, drug -> ChEBI role (mechanism / application), drug ->
ATC class, drug -> interacting drug (with the recorded severity), interaction severity, anatomy ``part_of``,
gene -> pathway. Reasoning (2 hops): phenotypes -> disease -> gene -> drug targeting its product;
drug -> target -> pathway; disease -> finding -> organ system -> anatomy.

Example::

    item = drug_target_mcq(random.Random(0), pools, closures, "train")   # None on a graph without drugs
"""

from __future__ import annotations

import random

from balancedbio.synth.item import (
    MCQ_SUFFIX,
    STEP_SUFFIX,
    Item,
    fact,
    format_choices,
    join_names,
    sample_distinct,
)
from balancedbio.synth.pools import Closures, Pools
from balancedbio.synth.templates import _mcq, lc_first

MAX_TARGETS = 8          # a drug with more targets is skipped where every target's pathways must be excluded


def _pick(rng: random.Random, xs: list[str]) -> str:
    return xs[rng.randrange(len(xs))]


def _distinct_names(names: dict[str, str], correct: str):
    low = names[correct].lower()
    return lambda x: names.get(x, "").lower() not in ("", low)


def drug_stem(name: str) -> str:
    """The first word of a drug name, lower case: 'Capmatinib' and 'Capmatinib hydrochloride' share it."""
    return name.split(" ", 1)[0].lower()


def _other_drug(names: dict[str, str], correct: str):
    """Accepts a distractor drug that is not the answer under another name or salt form."""
    stem = drug_stem(names[correct])
    return lambda x: x in names and drug_stem(names[x]) != stem


def _finish(item: Item, rng: random.Random, correct: str, options: list[str], prompt: str, response: str,
            suffix: str = MCQ_SUFFIX) -> Item | None:
    if _mcq(item, rng, correct, options) is None:
        return None
    item.prompt = f"{prompt}\n\n{format_choices(item.choices)}\n\n{suffix}"
    item.response = response.format(answer=item.answer)
    return item


# ------------------------------------------------------------------------------------------ expertise
def drug_target_mcq(rng: random.Random, p: Pools, cl: Closures, side: str) -> Item | None:
    """drug -> target gene (``targets``); distractors: genes of the same side the drug does not target."""
    t = p.therapy
    g = p.pick(rng, side, "target_gene")
    if g is None:
        return None
    d = _pick(rng, t.targeted_by[g])
    dis = sample_distinct(rng, p.by_side[side]["target_gene"], 3, set(t.targets[d]),
                          accept=_distinct_names(p.gene_symbol, g))
    dn, gs = t.drug_name[d], p.gene_symbol[g]
    item = Item("expertise", "drug_target_mcq", "", "", facts=[fact(d, "targets", g, t.source(d, "targets", g))],
                negatives=[fact(d, "targets", x, "graph") for x in dis],
                mentions=[(dn, d), (gs, g)] + [(p.gene_symbol[x], x) for x in dis], entities=[g, *dis])
    return _finish(item, rng, gs, [p.gene_symbol[x] for x in dis],
                   f"Which of the following genes encodes a molecular target of {dn}?",
                   f"{dn} targets the product of {gs}.\nAnswer: {{answer}}")


def target_drug_mcq(rng: random.Random, p: Pools, cl: Closures, side: str) -> Item | None:
    """target gene -> drug (``targeted_by``); distractors: drugs that do not target the gene."""
    t = p.therapy
    g = p.pick(rng, side, "target_gene")
    if g is None:
        return None
    d = _pick(rng, t.targeted_by[g])
    dis = sample_distinct(rng, t.target_drugs, 3, set(t.targeted_by[g]), accept=_other_drug(t.drug_name, d))
    dn, gs = t.drug_name[d], p.gene_symbol[g]
    item = Item("expertise", "target_drug_mcq", "", "", facts=[fact(d, "targets", g, t.source(d, "targets", g))],
                negatives=[fact(x, "targets", g, "graph") for x in dis],
                mentions=[(dn, d), (gs, g)] + [(t.drug_name[x], x) for x in dis], entities=[g])
    return _finish(item, rng, dn, [t.drug_name[x] for x in dis],
                   f"Which of the following drugs acts on the product of the {gs} gene?",
                   f"{dn} targets the product of {gs}.\nAnswer: {{answer}}")


def _hierarchy_mcq(rng: random.Random, p: Pools, cl: Closures, side: str, *, kind: str, relation: str,
                   template: str) -> tuple[Item, str, list[str]] | None:
    """A drug and one of its direct roles / ATC classes, with three classes it is not in (nor under, nor above)."""
    t = p.therapy
    d = p.pick(rng, side, kind)
    if d is None:
        return None
    direct, names, pool = ((t.roles[d], t.role_name, t.role_pool) if relation == "has_role" else
                           (t.classes[d], t.atc_name, t.atc_pool))
    c = _pick(rng, direct)
    held = set(direct) | {a for x in direct for a in cl.up(x)}
    same_level = (lambda x: len(x) == len(c)) if relation == "in_class" else (lambda x: True)
    own = set(direct)
    dis = sample_distinct(rng, pool, 3, held, tries=80,
                          accept=lambda x: same_level(x) and not (cl.up(x) & own) and _distinct_names(names, c)(x))
    item = Item("expertise", template, "", "", facts=[fact(d, relation, c, t.source(d, relation, c))],
                negatives=[fact(d, relation, x, "graph") for x in dis],
                mentions=[(t.drug_name[d], d), (names[c], c)] + [(names[x], x) for x in dis])
    return item, c, dis


def drug_mechanism_mcq(rng: random.Random, p: Pools, cl: Closures, side: str) -> Item | None:
    """drug -> ChEBI role (``has_role``: mechanism or application)."""
    got = _hierarchy_mcq(rng, p, cl, side, kind="role_drug", relation="has_role", template="drug_mechanism_mcq")
    if got is None:
        return None
    item, c, dis = got
    t = p.therapy
    dn, cn = t.drug_name[item.facts[0]["subject"]], t.role_name[c]
    return _finish(item, rng, cn, [t.role_name[x] for x in dis],
                   f"Which of the following is a role (mechanism of action or application) of {dn} in ChEBI?",
                   f"ChEBI records {dn} as having the role {lc_first(cn)}.\nAnswer: {{answer}}")


def _atc_label(t, code: str) -> str:
    """``L01 Antineoplastic agents``, or the bare code when the graph names the class by its code only."""
    short = code.split(":", 1)[1]
    name = t.atc_name[code]
    return short if name.replace("ATC", "").strip() == short else f"{short} {name}"


def drug_atc_mcq(rng: random.Random, p: Pools, cl: Closures, side: str) -> Item | None:
    """drug -> ATC class (``in_class``); distractors: classes of the same ATC level."""
    got = _hierarchy_mcq(rng, p, cl, side, kind="atc_drug", relation="in_class", template="drug_atc_mcq")
    if got is None:
        return None
    item, c, dis = got
    t = p.therapy
    dn = t.drug_name[item.facts[0]["subject"]]
    return _finish(item, rng, _atc_label(t, c), [_atc_label(t, x) for x in dis],
                   f"In the Anatomical Therapeutic Chemical (ATC) classification, which class does {dn} belong to?",
                   f"{dn} is classified under ATC {_atc_label(t, c)}.\nAnswer: {{answer}}")


def _severity_text(sev: str) -> str:
    return f" (severity: {sev})" if sev else ""


def drug_interaction_mcq(rng: random.Random, p: Pools, cl: Closures, side: str) -> Item | None:
    """drug -> interacting drug (``interacts_with``), the recorded severity stated and checked."""
    t = p.therapy
    a = p.pick(rng, side, "interacting_drug")
    if a is None:
        return None
    partners = [b for b in sorted(t.interactions[a]) if p.entity_side(b) == side]
    if not partners:
        return None
    b = _pick(rng, partners)
    sev = t.interactions[a][b]
    dis = sample_distinct(rng, p.by_side[side]["interacting_drug"], 3, set(t.interactions[a]) | {a},
                          accept=_other_drug(t.drug_name, b))
    an, bn = t.drug_name[a], t.drug_name[b]
    f = fact(a, "interacts_with", b, t.source(a, "interacts_with", b))
    item = Item("expertise", "drug_interaction_mcq", "", "", facts=[f],
                negatives=[fact(a, "interacts_with", x, "graph") for x in dis],
                mentions=[(an, a), (bn, b)] + [(t.drug_name[x], x) for x in dis],
                evidence=[(f, "severity", sev)] if sev else [])
    return _finish(item, rng, bn, [t.drug_name[x] for x in dis],
                   f"Which of the following drugs has a recorded interaction with {an}?",
                   f"{an} interacts with {bn}{_severity_text(sev)}.\nAnswer: {{answer}}")


def interaction_severity_mcq(rng: random.Random, p: Pools, cl: Closures, side: str) -> Item | None:
    """drug pair -> severity of their interaction (the edge's ``severity``; needs four recorded levels)."""
    t = p.therapy
    if len(t.severities) < 4:
        return None
    a = p.pick(rng, side, "interacting_drug")
    if a is None:
        return None
    partners = [b for b in sorted(t.interactions[a]) if p.entity_side(b) == side and t.interactions[a][b]]
    if not partners:
        return None
    b = _pick(rng, partners)
    sev = t.interactions[a][b]
    recorded = {str(e["evidence"]["severity"]) for e in p.graph.edges(a, "interacts_with", b)
                if e["evidence"].get("severity")}
    if len(recorded) != 1:
        return None                           # two sources disagree: no single right answer
    dis = sample_distinct(rng, t.severities, 3, {sev})
    an, bn = t.drug_name[a], t.drug_name[b]
    f = fact(a, "interacts_with", b, t.source(a, "interacts_with", b))
    item = Item("expertise", "interaction_severity_mcq", "", "", facts=[f], mentions=[(an, a), (bn, b)],
                evidence=[(f, "severity", sev)], evidence_negatives=[(f, "severity", x) for x in dis])
    return _finish(item, rng, sev, dis,
                   f"How severe is the recorded interaction between {an} and {bn}?",
                   f"The interaction between {an} and {bn} is recorded with severity {sev}.\nAnswer: {{answer}}")


def anatomy_part_mcq(rng: random.Random, p: Pools, cl: Closures, side: str) -> Item | None:
    """anatomy -> the structure it is part of (UBERON ``part_of``)."""
    t = p.therapy
    a = p.pick(rng, side, "part_anatomy")
    if a is None:
        return None
    whole = _pick(rng, t.wholes[a])
    up = cl.anatomy_up(a)
    dis = sample_distinct(rng, t.anatomy_pool, 3, up | {a}, tries=80,
                          accept=lambda x: a not in cl.anatomy_up(x) and _distinct_names(t.anatomy_name, whole)(x))
    an, wn = t.anatomy_name[a], t.anatomy_name[whole]
    item = Item("expertise", "anatomy_part_mcq", "", "", facts=[fact(a, "part_of", whole, t.source(a, "part_of", whole))],
                negatives=[fact(a, "part_of", x, "graph") for x in dis],
                mentions=[(an, a), (wn, whole)] + [(t.anatomy_name[x], x) for x in dis])
    return _finish(item, rng, wn, [t.anatomy_name[x] for x in dis],
                   f"In human anatomy (UBERON), the {lc_first(an)} is part of which of the following structures?",
                   f"In UBERON, the {lc_first(an)} is part of the {lc_first(wn)}.\nAnswer: {{answer}}")


def gene_pathway_mcq(rng: random.Random, p: Pools, cl: Closures, side: str) -> Item | None:
    """gene -> pathway (``gene_in_pathway``); distractors: pathways without the gene."""
    t = p.therapy
    g = p.pick(rng, side, "pathway_gene")
    if g is None:
        return None
    pw = _pick(rng, t.pathways[g])
    dis = sample_distinct(rng, t.pathway_pool, 3, set(t.pathways[g]), accept=_distinct_names(t.pathway_name, pw))
    gs, pn = p.gene_symbol[g], t.pathway_name[pw]
    item = Item("expertise", "gene_pathway_mcq", "", "",
                facts=[fact(g, "gene_in_pathway", pw, t.source(g, "gene_in_pathway", pw))],
                negatives=[fact(g, "gene_in_pathway", x, "graph") for x in dis],
                mentions=[(gs, g), (pn, pw)] + [(t.pathway_name[x], x) for x in dis], entities=[g])
    return _finish(item, rng, pn, [t.pathway_name[x] for x in dis],
                   f"Which of the following pathways includes the product of the {gs} gene?",
                   f"The product of {gs} takes part in {pn}.\nAnswer: {{answer}}")


EXPERTISE_THERAPY = (drug_target_mcq, target_drug_mcq, drug_mechanism_mcq, drug_atc_mcq, drug_interaction_mcq,
                     interaction_severity_mcq, anatomy_part_mcq, gene_pathway_mcq)


# ------------------------------------------------------------------------------------------ reasoning
def phenotypes_to_drug(rng: random.Random, p: Pools, cl: Closures, side: str) -> Item | None:
    """phenotypes -> disease -> gene -> a drug that targets the gene's product (3 findings, 3 hops)."""
    t = p.therapy
    if not t.targeted_by:
        return None
    d = p.pick(rng, side, "disease_gene")
    if d is None:
        return None
    genes = [g for g in p.genes_on_side(d, side) if g in t.targeted_by]
    if not genes or len(p.genes_on_side(d, side)) != len(p.genes.get(d, [])):
        return None
    phs = cl.distinct_phenotypes(rng, d, 3)
    if len(phs) < 3:
        return None
    g = _pick(rng, genes)
    drug = _pick(rng, t.targeted_by[g])

    def unrelated(x: str) -> bool:          # no target of x is a gene of a disease with all three findings
        return all(not all(h in cl.annotated_closure(dd) for h in phs)
                   for tg in t.targets.get(x, []) for dd in p.gene_diseases.get(tg, []))

    own = set().union(*(t.targeted_by[x] for x in p.genes[d] if x in t.targeted_by))
    dis = sample_distinct(rng, t.target_drugs, 3, own, accept=lambda x: unrelated(x)
                          and _other_drug(t.drug_name, drug)(x))
    dn, gs, drn = p.disease_name[d], p.gene_symbol[g], t.drug_name[drug]
    names = [p.pheno_name[h] for h in phs]
    item = Item("reasoning", "phenotypes_to_drug", "", "",
                facts=[fact(d, "has_phenotype", h, "hpo") for h in phs]
                + [fact(d, "associated_with_gene", g, "hpo"), fact(drug, "targets", g, t.source(drug, "targets", g))],
                negatives=[fact(x, "targets", y, "graph") for x in dis for y in p.genes[d]],
                mentions=[(dn, d), (gs, g), (drn, drug)] + list(zip(names, phs))
                + [(t.drug_name[x], x) for x in dis], entities=[d, g])
    return _finish(item, rng, drn, [t.drug_name[x] for x in dis],
                   f"A patient presents with {join_names([lc_first(n) for n in names])}. Which of the following drugs "
                   f"acts on the product of the gene most likely implicated?",
                   f"Step 1: {join_names(names)} are all annotated features of {dn}.\n"
                   f"Step 2: {dn} is associated with variants in {gs}.\n"
                   f"Step 3: {drn} targets the product of {gs}; none of the other drugs targets a gene of a disease "
                   f"with all three findings.\nAnswer: {{answer}}", STEP_SUFFIX)


def drug_target_pathway(rng: random.Random, p: Pools, cl: Closures, side: str) -> Item | None:
    """drug -> target gene -> pathway (2 hops); distractors contain none of the drug's targets."""
    t = p.therapy
    g = p.pick(rng, side, "target_pathway_gene")
    if g is None:
        return None
    drug = _pick(rng, t.targeted_by[g])
    targets = t.targets[drug]
    if len(targets) > MAX_TARGETS or any(p.entity_side(x) != side for x in targets):
        return None
    pw = _pick(rng, t.pathways[g])
    held = {x for tg in targets for x in t.pathways.get(tg, [])}
    dis = sample_distinct(rng, t.pathway_pool, 3, held, accept=_distinct_names(t.pathway_name, pw))
    drn, gs, pn = t.drug_name[drug], p.gene_symbol[g], t.pathway_name[pw]
    item = Item("reasoning", "drug_target_pathway", "", "",
                facts=[fact(drug, "targets", g, t.source(drug, "targets", g)),
                       fact(g, "gene_in_pathway", pw, t.source(g, "gene_in_pathway", pw))],
                negatives=[fact(tg, "gene_in_pathway", x, "graph") for tg in targets for x in dis],
                mentions=[(drn, drug), (gs, g), (pn, pw)] + [(t.pathway_name[x], x) for x in dis],
                entities=list(targets))
    return _finish(item, rng, pn, [t.pathway_name[x] for x in dis],
                   f"Which of the following pathways contains a molecular target of {drn}?",
                   f"Step 1: {drn} targets the product of {gs}.\n"
                   f"Step 2: {gs} takes part in {pn}; none of the other pathways contains a target of {drn}.\n"
                   f"Answer: {{answer}}", STEP_SUFFIX)


def disease_organ_anatomy(rng: random.Random, p: Pools, cl: Closures, side: str) -> Item | None:
    """disease -> finding -> HPO organ system -> UBERON anatomy (``located_in``)."""
    t = p.therapy
    if not t.located_in:
        return None
    d = p.pick(rng, side, "disease")
    if d is None:
        return None
    order = list(p.phenotypes[d])
    rng.shuffle(order)
    for h in order:
        systems = [s for s in sorted(t.located_in) if s in cl.up(h)]
        if systems:
            break
    else:
        return None
    s = _pick(rng, systems)
    anat = _pick(rng, t.located_in[s])
    held = {a for x in systems for a in t.located_in[x]}
    held |= {u for a in held for u in cl.anatomy_up(a)}
    pool = sorted({a for xs in t.located_in.values() for a in xs} | set(t.anatomy_pool))
    dis = sample_distinct(rng, pool, 3, held, tries=80, accept=lambda x: not (cl.anatomy_up(x) & held)
                          and _distinct_names(t.anatomy_name, anat)(x))
    dn, pn, sn, an = p.disease_name[d], p.pheno_name[h], p.pheno_name.get(s, s), t.anatomy_name[anat]
    item = Item("reasoning", "disease_organ_anatomy", "", "",
                facts=[fact(d, "has_phenotype", h, "hpo"), fact(h, "is_a", s, "hpo"),
                       fact(s, "located_in", anat, t.source(s, "located_in", anat))],
                negatives=[fact(x, "located_in", y, "graph") for x in systems for y in dis],
                mentions=[(dn, d), (pn, h), (sn, s), (an, anat)] + [(t.anatomy_name[x], x) for x in dis],
                entities=[d])
    return _finish(item, rng, an, [t.anatomy_name[x] for x in dis],
                   f"A patient with {dn} shows {lc_first(pn)}. In which anatomical structure lies the organ system "
                   f"this finding belongs to?",
                   f"Step 1: {pn} is an annotated clinical feature of {dn}.\n"
                   f"Step 2: In HPO, {lc_first(pn)} is a kind of {lc_first(sn)}.\n"
                   f"Step 3: {sn} is located in the {lc_first(an)}; none of the other structures holds an organ system "
                   f"of this finding.\nAnswer: {{answer}}", STEP_SUFFIX)


REASONING_THERAPY = (phenotypes_to_drug, drug_target_pathway, disease_organ_anatomy)
