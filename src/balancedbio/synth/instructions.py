"""MKGSG templates for the ``instruction`` capability: biomedical prompts with verifiable constraints.

The constraints are IFEval instructions (Zhou et al., arXiv 2311.07911) written as verifier ids and
keyword arguments (``{"id": "length_constraints:number_words", "kwargs": {"relation": "less than",
"num_words": 60}}``), the language :mod:`balancedbio.scoring.instructions` judges with the maintained
verifiers - so training rows, the GRPO reward and the IFEval evaluation speak one language. Each prompt
asks about one disease of the graph (features, genes, inheritance), so the content is grounded too; the
reference response is built from the graph facts and then shaped to satisfy every constraint, and the
validator re-checks it with the shared scorer.

Formats: ``detectable_format:number_bullet_lists``, ``detectable_format:json_format``,
``length_constraints:number_paragraphs`` (``***`` dividers), ``length_constraints:number_sentences``,
``length_constraints:number_words``; add-ons: ``detectable_format:title``, ``startend:end_checker``,
``change_case:english_lowercase``, ``punctuation:no_comma``, ``keywords:existence``,
``keywords:forbidden_words``.
"""

from __future__ import annotations

import json
import random
import re

from balancedbio.scoring.instructions import count_sentences, count_words
from balancedbio.synth.item import Item, fact, join_names
from balancedbio.synth.pools import Closures, Pools
from balancedbio.synth.templates import INHERITANCE_MODES, lc_first

FORBIDDEN = ("cure", "always", "never", "definitely", "contagious", "miracle", "guaranteed")
ENDINGS = ("Confirm the diagnosis with a specialist.", "Seek genetic counselling for family planning.",
           "Management should be individualised.")
OPENINGS = ("Summary:", "Key facts:", "Overview:")
_PLAIN = re.compile(r"[\w\s-]+")  # keywords:existence matches its keyword as a regular expression


def _content(rng: random.Random, p: Pools, cl: Closures, d: str, side: str) -> dict:
    phs = cl.distinct_phenotypes(rng, d, 3 + rng.randrange(3))
    genes = p.genes_on_side(d, side)
    if len(genes) != len(p.genes.get(d, [])):
        genes = []                                    # never mention a gene of the other split
    modes = [m for m in p.inheritance.get(d, []) if m in INHERITANCE_MODES][:1]
    return {"d": d, "name": p.disease_name[d], "phs": phs, "features": [p.pheno_name[h] for h in phs],
            "genes": genes[:3], "symbols": [p.gene_symbol[g] for g in genes[:3]],
            "mode": modes[0] if modes else None}


def _summary_sentences(c: dict) -> list[str]:
    out = [f"{c['name']} is characterised by {join_names([lc_first(f) for f in c['features']])}."]
    if c["symbols"]:
        out.append(f"It is associated with variants in {join_names(c['symbols'])}.")
    if c["mode"]:
        out.append(f"It shows {lc_first(INHERITANCE_MODES[c['mode']])}.")
    return out


def constrained_prompt(rng: random.Random, p: Pools, cl: Closures, side: str) -> Item | None:
    d = p.pick(rng, side, "disease")
    if d is None:
        return None
    c = _content(rng, p, cl, d, side)
    name = c["name"]
    family = rng.choice(("bullets", "json", "paragraphs", "sentences", "words"))
    checks: list[dict] = []
    asks: list[str] = []
    if family == "bullets":
        n = len(c["features"])
        prompt = (f"List exactly {n} clinical features of {name} as a markdown bulleted list, one per line "
                  "starting with '- '.")
        body = "\n".join(f"- {f}" for f in c["features"])
        checks.append(_check("detectable_format:number_bullet_lists", num_bullets=n))
    elif family == "json":
        keys = ["disease", "features", "genes"] + (["inheritance"] if c["mode"] else [])
        prompt = (f"Describe {name} as a single JSON object with the keys {', '.join(repr(k) for k in keys)}. "
                  "Wrap the entire output in JSON format.")
        obj = {"disease": name, "features": c["features"], "genes": c["symbols"]}
        if c["mode"]:
            obj["inheritance"] = INHERITANCE_MODES[c["mode"]]
        body = json.dumps(obj, ensure_ascii=False)
        checks.append(_check("detectable_format:json_format"))
    elif family == "paragraphs":
        sents = _summary_sentences(c)
        if len(sents) < 2:
            return None
        prompt = (f"Write exactly 2 paragraphs about {name}: the first on its clinical features, the second on its "
                  "genetics. Separate the paragraphs with the markdown divider: ***")
        body = sents[0] + "\n***\n" + " ".join(sents[1:])
        checks.append(_check("length_constraints:number_paragraphs", num_paragraphs=2))
    else:
        body = " ".join(_summary_sentences(c))
        prompt = f"Summarise the key clinical and genetic facts about {name}."
    can_wrap = family != "json"
    if can_wrap and rng.random() < 0.3:
        title = rng.choice(OPENINGS).rstrip(":")
        asks.append(f"Give your answer a title wrapped in double angular brackets, such as <<{title}>>.")
        body = f"<<{title}>>\n{body}"
        checks.append(_check("detectable_format:title"))
    if can_wrap and rng.random() < 0.3:
        ending = rng.choice(ENDINGS)
        asks.append(f"Finish your response with this exact phrase: {ending}")
        body = f"{body}\n{ending}" if family == "bullets" else f"{body} {ending}"
        checks.append(_check("startend:end_checker", end_phrase=ending))
    if rng.random() < 0.2:
        asks.append("Your entire response should be in English, and in all lowercase letters.")
        body = body.lower()
        checks = [_lower_kwargs(ch) for ch in checks]
        checks.append(_check("change_case:english_lowercase"))
    if "," not in body and rng.random() < 0.3:
        asks.append("Do not use any commas in your response.")
        checks.append(_check("punctuation:no_comma"))
    if family == "sentences":
        k = count_sentences(body)
        asks.insert(0, f"Answer with less than {k + 1} sentences.")
        checks.append(_check("length_constraints:number_sentences", relation="less than", num_sentences=k + 1))
    elif family == "words":
        limit = count_words(body) + 5 + rng.randrange(15)
        asks.insert(0, f"Answer with less than {limit + 1} words.")
        checks.append(_check("length_constraints:number_words", relation="less than", num_words=limit + 1))
    if rng.random() < 0.4:
        options = [w for w in (*c["symbols"][:1], c["features"][0])
                   if w.lower() in body.lower() and _PLAIN.fullmatch(w)]
        if options:
            asks.append(f"Include the keywords {[options[0]]} in the response.")
            checks.append(_check("keywords:existence", keywords=[options[0]]))
    if rng.random() < 0.4:
        banned = [w for w in FORBIDDEN if w not in body.lower()][:1 + rng.randrange(2)]
        if banned:
            asks.append(f"Do not include keywords {banned} in the response.")
            checks.append(_check("keywords:forbidden_words", forbidden_words=banned))
    facts = [fact(d, "has_phenotype", h, "hpo") for h in c["phs"]]
    facts += [fact(d, "associated_with_gene", g, "hpo") for g in c["genes"]]
    if c["mode"]:
        facts.append(fact(d, "has_inheritance", c["mode"], "hpo"))
    mentions = [(name, d)] + list(zip(c["features"], c["phs"])) + list(zip(c["symbols"], c["genes"]))
    return Item("instruction", f"constrained_{family}", " ".join([prompt, *asks]), body, answer="",
                answer_type="free", checks=checks, facts=facts, mentions=mentions, entities=[d, *c["genes"]])


def _check(verifier_id: str, **kwargs) -> dict:
    return {"id": verifier_id, "kwargs": kwargs}


def _lower_kwargs(check: dict) -> dict:
    if check["id"] == "startend:end_checker":
        return _check(check["id"], end_phrase=check["kwargs"]["end_phrase"].lower())
    return check


INSTRUCTION = (constrained_prompt,)
