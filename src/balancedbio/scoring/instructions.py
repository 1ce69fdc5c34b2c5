"""Verifiable instructions, judged by the maintained IFEval and IFBench verifiers (``if-verifiable``).

A check is ``{"id": <verifier id>, "kwargs": {...}}``: the instruction ids and keyword arguments of IFEval
(Zhou et al., arXiv 2311.07911; e.g. ``length_constraints:number_words {relation, num_words}``) and of
IFBench (Pyatkin et al.; e.g. ``count:word_count_range {min_words, max_words}``), verified by the
``if-verifiable`` package's instruction classes. One id is ours, because no verifier checks it:
``balancedbio:sections {names}`` (each ``Name:`` header at a line start, in that order; the integration
rows' format); ``balancedbio:management {supported, refuted}`` (followed when the ``Management:`` section
recommends drugs the graph supports and none it refutes: :mod:`balancedbio.scoring.management`). Synth rows, the GRPO instruction reward and the IFEval/IFBench evaluation all go through
:func:`instruction_results`, so they speak one language.

Strict and loose follow the official IFEval evaluation: strict passes when the response is non-blank and
the verifier accepts it; loose passes when any of the official response variants (the response, without
its first line, without its last line, without both, and each of those without ``*``) is non-blank and
accepted.

The vocabulary (ids, keyword arguments, the offline NLTK data) is :mod:`balancedbio.verifiers`.

Example::

    >>> instruction_results("all fine here", [{"id": "change_case:english_lowercase", "kwargs": {}},
    ...                                       {"id": "punctuation:no_comma", "kwargs": {}}])
    [(True, True), (True, True)]
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from balancedbio.errors import DataError
from balancedbio.scoring.answers import parse_sections
from balancedbio.scoring.management import management_score
from balancedbio.verifiers import (
    MANAGEMENT_ID,
    OWN_VERIFIERS,
    SECTIONS_ID,
    check_fields,
    ensure_nltk_data,
    missing_nltk_data,
    validate_checks,
    verifier_registry,
)

__all__ = ["SECTIONS_ID", "OWN_VERIFIERS", "verifier_registry", "validate_checks", "instruction_results",
           "check_instructions", "loose_variants", "count_words", "count_sentences", "ensure_nltk_data",
           "missing_nltk_data"]


def loose_variants(response: str) -> list[str]:
    """The official IFEval loose variants of a response (eight strings, the response first)."""
    from if_verifiable.common import get_loose_transformations

    return get_loose_transformations(response)


def _verifier(cid: str, kwargs: Mapping[str, Any], prompt: str) -> Any:
    source, cls = verifier_registry()[cid]
    if cid == MANAGEMENT_ID:
        return _Management(kwargs)
    if cls is None:
        names = list(kwargs["names"])
        return _Sections(names)
    inst = cls(cid)
    inst.build_description(**{k: v for k, v in kwargs.items() if v is not None})
    args = inst.get_instruction_args()
    if args and "prompt" in args:
        inst.build_description(prompt=prompt)
    return inst


class _Management:
    """Followed when the Management section gets full marks (:func:`balancedbio.scoring.management.management_score`)."""

    def __init__(self, kwargs: Mapping[str, Any]):
        self.kwargs = kwargs

    def check_following(self, value: str) -> bool:
        return management_score(value, self.kwargs) == 1.0


class _Sections:
    def __init__(self, names: list[str]):
        self.names = names

    def check_following(self, value: str) -> bool:
        return parse_sections(value, self.names) is not None


def instruction_results(response: str | None, checks: Sequence[Any], prompt: str = "") -> list[tuple[bool, bool]]:
    """``(strict, loose)`` per check for ``response`` to a prompt (official IFEval definitions).

    ``prompt`` is the user prompt (a few IFEval/IFBench verifiers compare the response with it). Unknown ids or
    keywords raise :class:`DataError` (a data bug, never a model failure); a verifier that needs an NLTK
    resource that is not installed raises :class:`DataError` naming it; a verifier that raises on the
    response itself counts the instruction as not followed.
    """
    validate_checks(checks)
    response = response or ""
    variants = loose_variants(response)
    out = []
    state = random.getstate()
    try:
        insts = []
        for i, check in enumerate(checks):
            cid, kwargs = check_fields(check)
            # a few verifiers draw a random value for an argument the data leaves invalid (IFEval's
            # letter_frequency with letter "!" or "#"): seed per prompt and check, so a score is reproducible
            random.seed(zlib.crc32(f"{prompt}\0{i}\0{cid}".encode()))
            insts.append((cid, _verifier(cid, kwargs, prompt)))
    finally:
        random.setstate(state)
    for cid, inst in insts:
        strict = _follows(cid, inst, response)
        loose = strict or any(_follows(cid, inst, v) for v in variants)
        out.append((strict, loose))
    return out


def _follows(cid: str, inst: Any, text: str) -> bool:
    """The verifier's verdict on a non-blank text; a verifier that fails on the text (a model's odd output)
    counts as not followed, as the scorer never raises on a completion; missing NLTK data is a DataError."""
    if not text.strip():
        return False
    try:
        return bool(inst.check_following(text))
    except LookupError as exc:
        if type(exc) is not LookupError:  # IndexError / KeyError: the verifier failed on this text
            return False
        lines = str(exc).strip().splitlines()
        raise DataError(f"instruction {cid!r} needs NLTK data that is not installed "
                        f"({next((ln.strip() for ln in lines if 'Resource' in ln), 'see nltk')})") from None
    except Exception:  # noqa: BLE001 - third-party verifiers raise anything on unexpected text
        return False


def check_instructions(response: str | None, checks: Sequence[Any], loose: bool = False, prompt: str = "") -> list[bool]:
    """One bool per check: does ``response`` follow it (strict, or loose)?"""
    return [lo if loose else st for st, lo in instruction_results(response, checks, prompt)]


def count_words(text: str) -> int:
    """Words as IFEval's ``length_constraints:number_words`` counts them (NLTK's ``\\w+`` tokens)."""
    return len(re.findall(r"\w+", text))


def count_sentences(text: str) -> int:
    """Sentences as IFEval's ``length_constraints:number_sentences`` counts them (NLTK's English Punkt)."""
    ensure_nltk_data()
    from if_verifiable.ifeval.instructions_util import count_sentences as _count

    return _count(text)
