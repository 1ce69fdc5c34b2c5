"""A teacher's parsed answer + its seed -> a draft :class:`Item`, with the teacher-specific checks.

The gold answer is the graph's: an exam question's key is the one option the graph supports for the
seed's relation (the teacher's letter must equal it), a chain's answer is the path's last entity, a
vignette's diagnosis the seed disease. Checks, in order, each a drop reason when it fails:

``entity_unlinked``          an option does not link to any entity of the graph
``distractor_true``          a wrong option is supported by the graph (directly or by the true-path rule)
``teacher_answer_mismatch``  the teacher's answer is not the graph's (or no option is the graph's answer)
``entity_missing``           the question / request does not name the seed's focus entity
``answer_leaked``            the question (or vignette) names the answer it asks for
``step_entity_missing`` / ``steps_out_of_order``   a chain's steps do not name the path's entities in order

The draft then goes through :class:`~balancedbio.synth.validate.Validator` like every other example
(facts supported, reference answer scored, claims in the teacher's text checked by the fact checker).
"""

from __future__ import annotations

from balancedbio.synth.item import MCQ_SUFFIX, STEP_SUFFIX, Item, fact, format_choices
from balancedbio.synth.llm import LLMError
from balancedbio.synth.pools import Pools
from balancedbio.synth.seeds import Seed
from balancedbio.synth.teacher_schema import ChainAnswer, InstructionAnswer, MCQAnswer, VignetteAnswer
from balancedbio.synth.validate import Validator


def _names_in(text: str, names: list[str]) -> bool:
    low = text.lower()
    return any(n and n.lower() in low for n in names)


def _links(v: Validator, text: str, curie: str, names: list[str]) -> bool:
    return curie in v.graph.link_curies(text) or any(text.strip().lower() == n.lower() for n in names)


def mcq_item(seed: Seed, ans: MCQAnswer, v: Validator) -> Item:
    focus, rel = seed.focus, seed.relation
    linked = {}
    for letter, text in ans.options.items():
        curies = sorted(v.graph.link_curies(text))
        if not curies:
            raise LLMError("entity_unlinked")
        linked[letter] = curies
    true = [k for k, cs in linked.items() if any(v.supported(fact(focus, rel, c, "")) for c in cs)]
    wrong = [k for k in linked if k not in true]
    for k in wrong:
        if not all(v.refuted(fact(focus, rel, c, "")) for c in linked[k]):
            raise LLMError("distractor_true")
    if len(true) > 1:
        raise LLMError("distractor_true")
    if not true or ans.answer.strip().upper()[:1] != true[0]:
        raise LLMError("teacher_answer_mismatch")
    focus_name = seed.names[focus]
    if not _names_in(ans.question, [focus_name]):
        raise LLMError("entity_missing")
    gold = true[0]
    gold_curie = next(c for c in linked[gold] if v.supported(fact(focus, rel, c, "")))
    answer_fact = next((f for f in seed.facts if f["relation"] == rel and f["object"] == gold_curie), None)
    item = Item("expertise", f"teacher_{seed.kind}_{rel}",
                f"{ans.question}\n\n{format_choices(ans.options)}\n\n{MCQ_SUFFIX}",
                f"{ans.explanation}\nAnswer: {gold}", answer=gold, choices=dict(ans.options), answer_type="mcq",
                facts=[answer_fact or fact(focus, rel, gold_curie, "graph")],
                negatives=[fact(focus, rel, linked[k][0], "graph") for k in wrong],
                mentions=[(focus_name, focus)] + [(ans.options[k], linked[k][0]) for k in "ABCD"],
                entities=list(seed.entities), seed_answer=ans.options[gold])
    return item


def chain_item(seed: Seed, ans: ChainAnswer, v: Validator, pools: Pools) -> Item:
    gold = seed.gold
    gold_name = seed.names[gold]
    aliases = pools.aliases(gold) if gold in pools.disease_name else []
    if not _links(v, ans.answer, gold, [gold_name, *aliases]):
        raise LLMError("teacher_answer_mismatch")
    if _names_in(ans.question, [gold_name]):
        raise LLMError("answer_leaked")
    text = "\n".join(ans.steps).lower()
    last = -1
    for curie in seed.path:
        pos = text.find(seed.names[curie].lower())
        if pos < 0:
            raise LLMError("step_entity_missing")
        if pos < last:
            raise LLMError("steps_out_of_order")
        last = pos
    return Item("reasoning", f"teacher_path_{len(seed.path) - 1}hop",
                f"{ans.question}\n\n{STEP_SUFFIX}", "\n".join(ans.steps) + f"\nAnswer: {gold_name}",
                answer=gold_name, aliases=[a for a in aliases if a.lower() != gold_name.lower()],
                answer_type="short", facts=list(seed.facts),
                mentions=[(seed.names[c], c) for c in seed.path], entities=list(seed.entities),
                seed_answer=gold_name)


def instruction_item(seed: Seed, ans: InstructionAnswer) -> Item:
    name = seed.names[seed.focus]
    if not _names_in(ans.request, [name]):
        raise LLMError("entity_missing")
    return Item("instruction", "teacher_constraints", f"{ans.request} {seed.constraints}", ans.response,
                answer="", answer_type="free", checks=list(seed.checks), facts=list(seed.facts),
                mentions=[(name, seed.focus)], entities=list(seed.entities))


def vignette_item(seed: Seed, ans: VignetteAnswer, v: Validator, pools: Pools) -> Item:
    draft = seed.item
    assert draft is not None
    dn = seed.names[seed.focus]
    names = [dn, *pools.aliases(seed.focus)]
    if not _links(v, ans.diagnosis, seed.focus, names):
        raise LLMError("teacher_answer_mismatch")
    if _names_in(ans.vignette, [n for n in names if len(n) > 3]):
        raise LLMError("answer_leaked")
    task = draft.prompt[draft.prompt.index("\n\nWork through"):]

    def flat(s: str) -> str:
        return " ".join(s.split())

    response = (f"Differential: {flat(ans.differential)}\nWork-up: {flat(ans.workup)}\nDiagnosis: {dn}\n"
                f"Management: {flat(ans.management)}")
    return Item("integration", "teacher_vignette", flat(ans.vignette) + task, response, answer=dn,
                aliases=list(draft.aliases), answer_type="short", checks=list(draft.checks),
                facts=list(draft.facts), negatives=list(draft.negatives), mentions=list(draft.mentions),
                entities=list(draft.entities), seed_answer=dn)


def build_item(seed: Seed, ans, v: Validator, pools: Pools) -> tuple[Item, str]:
    """(draft item, the teacher-written text the fact checker reads)."""
    if isinstance(ans, MCQAnswer):
        return mcq_item(seed, ans, v), f"{ans.question}\n{ans.explanation}"
    if isinstance(ans, ChainAnswer):
        return chain_item(seed, ans, v, pools), "\n".join([ans.question, *ans.steps])
    if isinstance(ans, InstructionAnswer):
        return instruction_item(seed, ans), f"{ans.request}\n{ans.response}"
    return vignette_item(seed, ans, v, pools), "\n".join([ans.vignette, ans.differential, ans.workup,
                                                          ans.management])
