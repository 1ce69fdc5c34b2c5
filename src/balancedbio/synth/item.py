"""The draft example every generator produces before validation, and small helpers shared by templates."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

LETTERS = "ABCD"
MCQ_SUFFIX = "Answer with the letter of the correct option."
STEP_SUFFIX = "Think step by step, then finish with a line of the form 'Answer: <answer>'."


@dataclass
class Item:
    """A grounded draft: text plus the graph facts it states and the facts it claims to be false.

    ``facts`` become the row's ``facts``; ``negatives`` (distractors, excluded differentials) must NOT be
    supported by the graph; ``mentions`` are ``(surface name, CURIE)`` pairs written into the text, each
    of which must link back to its CURIE.
    """

    capability: str
    template: str
    prompt: str
    response: str
    answer: str = ""
    aliases: list[str] = field(default_factory=list)
    choices: dict[str, str] | None = None
    answer_type: str = "short"
    checks: list[dict[str, Any]] = field(default_factory=list)
    facts: list[dict[str, str]] = field(default_factory=list)
    negatives: list[dict[str, str]] = field(default_factory=list)
    mentions: list[tuple[str, str]] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)          # diseases and genes (for the split audit)
    seed_answer: str = ""                                       # the answer text the seed fact implies
    # edge attributes stated (``evidence``) or denied (``evidence_negatives``): (fact, key, value), e.g. the
    # severity of an interaction; the validator reads them from the stored edges' evidence
    evidence: list[tuple[dict[str, str], str, str]] = field(default_factory=list)
    evidence_negatives: list[tuple[dict[str, str], str, str]] = field(default_factory=list)


def fact(subject: str, relation: str, obj: str, source: str) -> dict[str, str]:
    return {"subject": subject, "relation": relation, "object": obj, "source": source}


def make_choices(rng: random.Random, correct: str, distractors: list[str]) -> tuple[dict[str, str], str]:
    """Shuffle the correct option among three distractors -> (choices A-D, gold letter)."""
    options = [correct, *distractors[:3]]
    order = list(range(4))
    rng.shuffle(order)
    choices = {LETTERS[i]: options[j] for i, j in enumerate(order)}
    gold = LETTERS[order.index(0)]
    return choices, gold


def format_choices(choices: dict[str, str]) -> str:
    return "\n".join(f"{k}. {v}" for k, v in choices.items())


def sample_distinct(rng: random.Random, pool: list[str], n: int, exclude: set[str], *, tries: int = 40,
                    accept=None) -> list[str]:
    """Up to ``n`` distinct draws from ``pool`` avoiding ``exclude`` and passing ``accept``."""
    out: list[str] = []
    if not pool:
        return out
    for _ in range(tries):
        x = pool[rng.randrange(len(pool))]
        if x in exclude or x in out:
            continue
        if accept is not None and not accept(x):
            continue
        out.append(x)
        if len(out) == n:
            break
    return out


def join_names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
