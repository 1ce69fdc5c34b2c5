"""``score(row, completion)``: the one place a completion is judged, dispatched by capability.

GRPO rewards (``balancedbio.train.rewards``) and the evaluation suite (``balancedbio.eval.suite``) both
call :func:`score`, so the reward a policy optimises is the metric it is evaluated on (the nanochat habit
of ``reward()`` calling ``evaluate()``). Rows follow the synthetic data contract (``train.jsonl`` /
``test.jsonl``). How each capability is judged (our design for BalancedBio, arXiv 2508.04278, whose
scorer is not public):

* ``expertise``   MCQ: the committed letter (:func:`extract_choice`) equals ``answer``; if no letter is
                  found, a completion naming exactly the gold option's text also counts. Short answer:
                  the ``Answer:`` line (or the whole completion) matches ``answer``/``aliases``.
                  ``value = correct``; ``format_ok`` = an answer could be extracted.
* ``reasoning``   The final ``Answer: ...`` line is extracted and matched (letters for MCQ rows).
                  ``value = correct``; ``format_ok`` = an ``Answer:`` line exists.
* ``instruction`` Every check of the row (IFEval / IFBench verifier ids, :mod:`balancedbio.scoring.instructions`),
                  strict and loose. ``value`` = fraction of checks passed
                  strictly (instruction-level); ``correct`` = all passed strictly (prompt-level).
* ``integration`` ``format_ok`` = the required sections parse in order; ``correct`` = the gold diagnosis
                  (or an alias) appears in the ``Diagnosis:`` section; ``management`` = the drugs the
                  ``Management:`` section recommends against those the graph supports / refutes for the
                  disease (the row's ``balancedbio:management`` check; :mod:`balancedbio.scoring.management`).
                  ``value = 0.3*format_ok + 0.5*correct + 0.2*management``; a row without a management check
                  (a graph without drugs, older data) keeps ``0.3*format_ok + 0.7*correct``;
                  ``instructions`` = the row's checks (strict).

Example::

    >>> row = {"capability": "expertise", "answer": "B", "answer_type": "mcq", "choices": {...}}
    >>> score(row, "The answer is B.").value
    1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from balancedbio.errors import DataError
from balancedbio.rows import CAPABILITIES
from balancedbio.scoring.answers import (
    answer_matches,
    extract_choice,
    extract_final_answer,
    mentions_answer,
    normalize_answer,
    parse_sections,
)
from balancedbio.scoring.instructions import SECTIONS_ID, instruction_results
from balancedbio.scoring.management import MANAGEMENT_SECTION, management_score, section_text
from balancedbio.verifiers import MANAGEMENT_ID

__all__ = ["ScoreResult", "score", "CAPABILITIES", "INTEGRATION_SECTIONS", "INTEGRATION_FORMAT_WEIGHT",
           "INTEGRATION_MANAGEMENT_WEIGHT", "INTEGRATION_DIAGNOSIS_WEIGHT"]

INTEGRATION_SECTIONS = ("Differential", "Work-up", "Diagnosis", "Management")
INTEGRATION_FORMAT_WEIGHT = 0.3  # weight of section validity in the integration value
# rows with a management check: 0.3 format + 0.5 diagnosis + 0.2 management (the drugs in Management);
# rows without one: 0.3 format + 0.7 diagnosis
INTEGRATION_MANAGEMENT_WEIGHT = 0.2
INTEGRATION_DIAGNOSIS_WEIGHT = 0.5


@dataclass
class ScoreResult:
    """How well one completion answers one row.

    ``value`` in [0, 1] is the scalar used as reward and metric; ``correct`` / ``format_ok`` are None
    where they do not apply; ``instructions`` has one bool per row check (strict); ``details`` carries
    what was extracted (``pred``) and capability-specific extras (``loose``, ``sections``...).
    """

    capability: str
    value: float
    correct: float | None = None
    format_ok: float | None = None
    instructions: list[bool] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def _letters(row: Mapping[str, Any]) -> str:
    choices = row.get("choices") or {}
    return "".join(sorted(choices)) if choices else "ABCD"


def _choice_by_text(completion: str, choices: Mapping[str, str]) -> str | None:
    """The single option whose text the completion names, if exactly one is named."""
    named = [k for k, v in choices.items() if v and mentions_answer(completion, str(v))]
    return named[0] if len(named) == 1 else None


def _judge_mcq(row: Mapping[str, Any], text: str | None) -> tuple[str | None, bool]:
    gold = str(row.get("answer", "")).strip().upper()
    choices = row.get("choices") or {}
    pred = extract_choice(text, _letters(row))
    if pred is None and text and choices:
        pred = _choice_by_text(text, choices)
    return pred, pred is not None and pred == gold


def _judge_short(row: Mapping[str, Any], text: str | None) -> bool:
    return answer_matches(text, str(row.get("answer", "")), row.get("aliases") or ())


def _score_expertise(row: Mapping[str, Any], completion: str) -> ScoreResult:
    if row.get("answer_type") == "mcq" or row.get("choices"):
        pred, ok = _judge_mcq(row, completion)
    else:
        final = extract_final_answer(completion)
        pred = final if final is not None else completion.strip() or None
        ok = _judge_short(row, pred)
    return ScoreResult("expertise", float(ok), correct=float(ok), format_ok=float(pred is not None),
                       details={"pred": pred})


def _score_reasoning(row: Mapping[str, Any], completion: str) -> ScoreResult:
    final = extract_final_answer(completion)
    if final is None:
        ok = False
    elif row.get("answer_type") == "mcq" or row.get("choices"):
        _, ok = _judge_mcq(row, final)
    else:
        ok = _judge_short(row, final)
    return ScoreResult("reasoning", float(ok), correct=float(ok), format_ok=float(final is not None),
                       details={"pred": final})


def _prompt_text(row: Mapping[str, Any]) -> str:
    """The last user turn of the row's prompt (a few verifiers compare the response with the prompt)."""
    users = [m.get("content") or "" for m in row.get("messages") or [] if isinstance(m, Mapping) and m.get("role") == "user"]
    return str(users[-1]) if users else ""


def _score_instruction(row: Mapping[str, Any], completion: str) -> ScoreResult:
    checks = row.get("checks") or []
    results = instruction_results(completion, checks, prompt=_prompt_text(row))
    strict, loose = [s for s, _ in results], [lo for _, lo in results]
    value = sum(strict) / len(strict) if strict else 0.0
    return ScoreResult("instruction", value, correct=float(all(strict) and bool(strict)), format_ok=None,
                       instructions=strict,
                       details={"loose": loose, "prompt_strict": all(strict) and bool(strict),
                                "prompt_loose": all(loose) and bool(loose), "n_checks": len(checks)})


def _section_names(row: Mapping[str, Any]) -> list[str]:
    for check in row.get("checks") or []:
        if check.get("id") == SECTIONS_ID:
            return list((check.get("kwargs") or {}).get("names") or INTEGRATION_SECTIONS)
    return list(INTEGRATION_SECTIONS)


def _score_integration(row: Mapping[str, Any], completion: str) -> ScoreResult:
    names = _section_names(row)
    sections = parse_sections(completion, names) if completion.strip() else None
    diag_name = next((n for n in names if normalize_answer(n) == "diagnosis"), None)
    diagnosis = (sections or {}).get(diag_name, "") if diag_name else ""
    ok = bool(diagnosis) and mentions_answer(diagnosis, str(row.get("answer", "")), row.get("aliases") or ())
    fmt = sections is not None
    checks = row.get("checks") or []
    strict = [st for st, _ in instruction_results(completion, checks, prompt=_prompt_text(row))] if checks else []
    mgmt_kwargs = next((c.get("kwargs") or {} for c in checks if c.get("id") == MANAGEMENT_ID), None)
    details: dict[str, Any] = {"pred": diagnosis or None, "sections": sections}
    if mgmt_kwargs is None:
        value = INTEGRATION_FORMAT_WEIGHT * fmt + (1 - INTEGRATION_FORMAT_WEIGHT) * ok
    else:
        mgmt_name = next((n for n in names if normalize_answer(n) == "management"), MANAGEMENT_SECTION)
        body = (sections or {}).get(mgmt_name) if sections is not None else section_text(completion, mgmt_name)
        mgmt = management_score(completion, mgmt_kwargs, section=body or "")
        details["management"] = mgmt
        value = (INTEGRATION_FORMAT_WEIGHT * fmt + INTEGRATION_DIAGNOSIS_WEIGHT * ok
                 + INTEGRATION_MANAGEMENT_WEIGHT * mgmt)
    return ScoreResult("integration", value, correct=float(ok), format_ok=float(fmt), instructions=strict,
                       details=details)


_DISPATCH = {"expertise": _score_expertise, "reasoning": _score_reasoning,
             "instruction": _score_instruction, "integration": _score_integration}


def score(row: Mapping[str, Any], completion: str | None) -> ScoreResult:
    """Judge ``completion`` (the assistant's text) against a synthetic-data ``row``.

    A completion with nothing parseable scores 0 (never an exception); a row with an unknown
    capability, an MCQ answer key outside its choices, or malformed checks raises :class:`DataError`.
    """
    cap = row.get("capability")
    if cap not in _DISPATCH:
        raise DataError(f"row {row.get('id', '?')}: unknown capability {cap!r}; expected one of "
                        f"{', '.join(CAPABILITIES)}")
    if row.get("answer_type") == "mcq":
        gold = str(row.get("answer", "")).strip().upper()
        if gold not in _letters(row) or len(gold) != 1:
            raise DataError(f"row {row.get('id', '?')}: MCQ answer key {row.get('answer')!r} is not one of "
                            f"{', '.join(_letters(row))}")
    return _DISPATCH[cap](row, completion or "")
