"""Judging the ``Management:`` section of an integration answer against the drugs the graph gives for the case.

An integration row made from a knowledge graph with a therapy layer carries one check
``{"id": "balancedbio:management", "kwargs": {"supported": [[name, synonym, ...], ...], "refuted": [...]}}``:
``supported`` are the drugs the graph supports for the case's disease (``indicated_for`` / ``off_label_for``
edges, or, when there are none, drugs whose ``targets`` edge reaches the product of the disease's gene),
``refuted`` the drugs the graph refutes for it (``contraindicated_for`` edges, and drugs of the graph with no
indication for the disease and no target among its genes; synth's validator checks each against the graph
when the row is written). Each drug is a list of names (its preferred name first).

The section is split into clauses (at ``;``, ``.`` and line breaks). A clause with an avoidance cue
("avoid", "contraindicated", "do not", "interaction", ...) *warns* about the drugs it names; every other
clause *recommends* them. With ``supported`` drugs and ``R`` the recommended drugs::

    management = |R & supported| / |R & (supported | refuted)|      (0 when R names neither)

and, when the graph supports no drug for the disease, ``management = 0`` if a refuted drug is recommended,
else 1 (the section should say that the graph records no drug; inventing one the graph refutes costs the
score, a drug the graph does not know is not judged). Drugs named in no list are never judged: the graph
cannot tell, so the scorer does not guess.

Example::

    >>> kw = {"supported": [["imatinib", "Gleevec"]], "refuted": [["warfarin"]]}
    >>> management_score("Management: start imatinib; referral to oncology.", kw)
    1.0
    >>> management_score("Management: warfarin; avoid imatinib (contraindicated).", kw)
    0.0
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from balancedbio.scoring.answers import mentions_answer, parse_sections

__all__ = ["MANAGEMENT_SECTION", "management_score", "recommended_drugs", "section_text"]

MANAGEMENT_SECTION = "Management"
_CLAUSE_RE = re.compile(r"[;\n]+|\.(?:\s+|$)")
_AVOID_RE = re.compile(r"\b(avoid\w*|contra-?indicat\w*|do not|don't|never|not (?:be )?(?:used|given|recommended|"
                       r"prescribed)|interact\w*|caution)\b", re.IGNORECASE)


def section_text(completion: str, name: str = MANAGEMENT_SECTION) -> str | None:
    """The body of the ``name:`` section (a header at a line start), or None when there is none."""
    sections = parse_sections(completion, [name]) if completion and completion.strip() else None
    return None if sections is None else sections[name]


def _drugs(entry: Any) -> list[list[str]]:
    out = []
    for names in entry or []:
        names = [names] if isinstance(names, str) else [str(n) for n in names if str(n).strip()]
        if names:
            out.append(names)
    return out


def recommended_drugs(section: str, drugs: Sequence[Sequence[str]]) -> set[int]:
    """Indices of ``drugs`` named in a clause of ``section`` that carries no avoidance cue."""
    out: set[int] = set()
    for clause in _CLAUSE_RE.split(section):
        if not clause.strip() or _AVOID_RE.search(clause):
            continue
        for i, names in enumerate(drugs):
            if mentions_answer(clause, names[0], names[1:]):
                out.add(i)
    return out


def management_score(completion: str, kwargs: Mapping[str, Any], *, section: str | None = None) -> float:
    """The management score in [0, 1] of ``completion`` (module docstring); 0 without a Management section.

    ``section``: the Management body when the caller has parsed it already.
    """
    body = section if section is not None else section_text(completion)
    if not body:
        return 0.0
    supported, refuted = _drugs(kwargs.get("supported")), _drugs(kwargs.get("refuted"))
    named = recommended_drugs(body, supported + refuted)
    good = sum(1 for i in named if i < len(supported))
    bad = len(named) - good
    if not supported:
        return 0.0 if bad else 1.0
    return good / (good + bad) if good + bad else 0.0
