"""Clinical-workflow vignettes for the ``integration`` capability.

MKGSG (BalancedBio, Wu et al., arXiv 2508.04278) constrains generation by the clinical workflow; the
abstract gives no details, so the workflow below is our design and every step is a graph fact:

1. presentation      two presenting phenotypes of the seed disease (HPO ``has_phenotype``)
2. history/exam      one or two further phenotypes, and the mode of inheritance when HPO records one
3. differential      two other diseases sharing a presenting phenotype but lacking another finding
                     (the shared feature is a fact; the missing one is a negative the validator checks)
4. work-up           genetic testing for the associated gene(s); assessment by the organ systems involved
                     (phenotype ``is_a`` an HPO organ-system class)
5. diagnosis         the seed disease (the row's ``answer``; aliases are its synonyms)
6. management        the drugs the graph gives for the disease (:mod:`balancedbio.synth.workflow_management`):
                     indicated drugs (``indicated_for``) when the graph has them, otherwise drugs whose
                     target is the product of the disease's gene, stated as such; contraindicated drugs and
                     an interacting drug to avoid; or, when the graph has none, a sentence saying so. Then
                     referral to the specialties of the organ systems involved, genetic counselling when
                     the disease is inherited, and the ICD-10-CM code for documentation. The drugs are
                     facts (validated) and the row's ``balancedbio:management`` check, which the scorer
                     uses to judge a completion's Management section (:mod:`balancedbio.scoring.management`)

The answer format is fixed: sections ``Differential:``, ``Work-up:``, ``Diagnosis:``, ``Management:``.
"""

from __future__ import annotations

import random

from balancedbio.scoring.instructions import SECTIONS_ID
from balancedbio.synth.item import Item, fact, join_names
from balancedbio.synth.pools import Closures, Pools
from balancedbio.synth.templates import INHERITANCE_MODES, lc_first
from balancedbio.synth.workflow_management import management_plan

STAGES = ("presentation", "history", "differential", "work-up", "diagnosis", "management")
SECTIONS = ["Differential", "Work-up", "Diagnosis", "Management"]
SECTIONS_CHECK = {"id": SECTIONS_ID, "kwargs": {"names": SECTIONS}}

# HPO organ-system classes (children of HP:0000118 Phenotypic abnormality) -> specialty for referral.
SYSTEM_SPECIALTY = {
    "HP:0000119": "nephrology and urology", "HP:0000478": "ophthalmology", "HP:0000598": "otolaryngology",
    "HP:0000707": "neurology", "HP:0000818": "endocrinology", "HP:0001574": "dermatology",
    "HP:0001626": "cardiology", "HP:0001871": "haematology", "HP:0001939": "metabolic medicine",
    "HP:0002086": "respiratory medicine", "HP:0002664": "oncology", "HP:0002715": "immunology",
    "HP:0025031": "gastroenterology", "HP:0033127": "orthopaedics and musculoskeletal medicine",
    "HP:0001507": "paediatric growth services", "HP:0000152": "craniofacial services",
}


def organ_systems(cl: Closures, phenotype: str) -> list[str]:
    """The organ-system classes a phenotype belongs to (sorted CURIEs)."""
    return sorted(s for s in SYSTEM_SPECIALTY if s in cl.up(phenotype))


def clinical_vignette(rng: random.Random, p: Pools, cl: Closures, side: str) -> Item | None:
    d = p.pick(rng, side, "disease")
    if d is None or len(p.phenotypes[d]) < 4:
        return None
    n_hist = 1 + rng.randrange(2)
    phs = cl.distinct_phenotypes(rng, d, 2 + n_hist)
    if len(phs) < 2 + n_hist:
        return None
    present, history = phs[:2], phs[2:]
    dn = p.disease_name[d]
    name = {h: p.pheno_name[h] for h in phs}
    facts = [fact(d, "has_phenotype", h, "hpo") for h in phs]
    negatives = []
    mentions = [(dn, d)] + [(name[h], h) for h in phs]
    entities = [d]

    # differential: same-side diseases sharing a presenting feature but lacking another of the findings
    diffs: list[tuple[str, str, str]] = []
    tried: set[str] = {d}
    for _ in range(40):
        pool = p.pheno_diseases.get(present[rng.randrange(len(present))], [])
        x = pool[rng.randrange(len(pool))] if pool else d
        if x in tried:
            continue
        tried.add(x)
        if p.side[x] != side or p.disease_name[x].lower() == dn.lower():
            continue
        shared = [h for h in present if h in p.phenotypes.get(x, []) or h in cl.annotated_closure(x)]
        missing = [h for h in phs if cl.phenotype_unrelated([x], h)]
        direct = [h for h in shared if h in p.phenotypes.get(x, [])]
        if direct and missing:
            diffs.append((x, direct[0], missing[0]))
        if len(diffs) == 2:
            break
    if len(diffs) < 2:
        return None
    for x, sh, miss in diffs:
        facts.append(fact(x, "has_phenotype", sh, "hpo"))
        negatives.append(fact(x, "has_phenotype", miss, "hpo"))
        mentions.append((p.disease_name[x], x))
        entities.append(x)

    genes = p.genes_on_side(d, side)
    if len(genes) != len(p.genes.get(d, [])):
        return None                                  # a gene of the other split would leak
    for g in genes:
        facts.append(fact(d, "associated_with_gene", g, "hpo"))
        mentions.append((p.gene_symbol[g], g))
        entities.append(g)
    systems = sorted({s for h in phs for s in organ_systems(cl, h)})
    for s in systems:
        h = next(h for h in phs if s in cl.up(h))
        facts.append(fact(h, "is_a", s, "hpo"))
    modes = [m for m in p.inheritance.get(d, []) if m in INHERITANCE_MODES]
    for m in modes[:1]:
        facts.append(fact(d, "has_inheritance", m, "hpo"))
    codes = p.icd.get(d, [])[:1]
    for code in codes:
        facts.append(fact(d, "has_icd10cm", code, "mondo"))

    # ---- prompt (presentation + history) --------------------------------------------------------
    lines = [f"A patient presents with {join_names([lc_first(name[h]) for h in present])}."]
    lines.append(f"History and examination also reveal {join_names([lc_first(name[h]) for h in history])}.")
    if modes:
        lines.append(f"The family history suggests {lc_first(INHERITANCE_MODES[modes[0]])}.")
    prompt = (" ".join(lines) + "\n\nWork through this case following the clinical workflow. Answer in four "
              "sections, each starting on its own line with its header, in this order: Differential:, "
              "Work-up:, Diagnosis:, Management:.")

    # ---- reference answer ----------------------------------------------------------------------
    diff_txt = "; ".join(
        [f"{dn} (explains {join_names([lc_first(name[h]) for h in phs])})"]
        + [f"{p.disease_name[x]} (shares {lc_first(name[sh])} but does not explain {lc_first(name[miss])})"
           for x, sh, miss in diffs])
    work = []
    if genes:
        work.append(f"genetic testing for variants in {join_names([p.gene_symbol[g] for g in genes])}")
    if systems:
        work.append("assessment of the " + join_names(
            [p.pheno_name.get(s, s).removeprefix("Abnormality of the ").removeprefix("Abnormality of ").lower()
             for s in systems]) + " involvement")
    if not work:
        work.append("targeted clinical and laboratory assessment of each finding")
    plan = management_plan(rng, p, d, genes)
    facts += plan.facts
    negatives += plan.negatives
    mentions += plan.mentions
    mgmt = list(plan.clauses)
    specialties = sorted({SYSTEM_SPECIALTY[s] for s in systems})
    if specialties:
        mgmt.append(f"referral to {join_names(specialties)}")
    if modes:
        mgmt.append("genetic counselling for the family")
    if codes:
        mgmt.append(f"document the diagnosis as ICD-10-CM {codes[0].split(':', 1)[1]}")
    response = (f"Differential: {diff_txt}.\nWork-up: {'; '.join(work)}.\nDiagnosis: {dn}.\n"
                f"Management: {'; '.join(mgmt)}.")
    item = Item("integration", "clinical_vignette", prompt, response, answer=dn,
                aliases=[a for a in p.aliases(d) if a.lower() != dn.lower()], answer_type="short",
                checks=[SECTIONS_CHECK] + ([plan.check] if plan.check else []), facts=facts, negatives=negatives, mentions=mentions, entities=entities,
                seed_answer=dn, evidence=plan.evidence)
    return item


INTEGRATION = (clinical_vignette,)
