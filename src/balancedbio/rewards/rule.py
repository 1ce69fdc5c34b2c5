"""Rule-based rewards: correctness, instruction checks, format validity, knowledge-graph fact checks.

Every reward is a plain callable ``f(prompts, completions, **row_columns) -> list[float | None]`` (None =
the reward does not apply to that row), TRL's reward-function convention (``GRPOTrainer``), and judges a
completion only through :func:`balancedbio.scoring.score` / :mod:`balancedbio.scoring.facts`, the same
scorer the evaluation suite reports, so a reward never drifts from its metric (the nanochat habit).
Rewards for Capability-Aware GRPO (BalancedBio, Wu et al., arXiv 2508.04278: "hybrid reward", rule part).

Example::

    >>> row = {"capability": "expertise", "answer": "B", "answer_type": "mcq",
    ...        "choices": {"A": "x", "B": "y", "C": "z", "D": "w"}}
    >>> correctness_reward(["Q"], ["The answer is B."], row=[json.dumps(row)])
    [1.0]
"""

from __future__ import annotations

import json  # noqa: F401  (used in the docstring example)
from collections.abc import Callable, Sequence
from typing import Any

from balancedbio.rewards.rows import completion_text, rows_from_columns

__all__ = ["capability_score_reward", "correctness_reward", "instruction_reward", "format_reward",
           "FactCheckReward", "HallucinationPenalty"]


def _score(row: dict[str, Any], text: str) -> Any:
    from balancedbio.scoring import score

    return score(row, text)


def _each(completions: Sequence[Any], columns: dict[str, Any], prompts: Sequence[Any] | None = None
          ) -> list[tuple[dict[str, Any], str]]:
    rows = rows_from_columns(len(completions), columns, prompts)
    return [(row, completion_text(c)) for row, c in zip(rows, completions)]


def capability_score_reward(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """The scorer's per-capability value in [0, 1] (the rule-based part of the hybrid reward)."""
    return [float(_score(row, text).value) for row, text in _each(completions, columns, prompts)]


def correctness_reward(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """1.0 if the answer (MCQ letter, short answer, ``Answer:`` line, diagnosis) is right, else 0.0.

    None for rows without a gold answer (instruction-following rows).
    """
    out: list[float | None] = []
    for row, text in _each(completions, columns, prompts):
        correct = None if row.get("capability") == "instruction" else _score(row, text).correct
        out.append(None if correct is None else float(correct))
    return out


def instruction_reward(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """Fraction of the row's verifiable instructions followed (strict), judged by the same IFEval/IFBench
    verifiers as the evaluation (:func:`balancedbio.scoring.instruction_results`); None if the row has none."""
    from balancedbio.scoring import instruction_results

    out: list[float | None] = []
    for row, text in _each(completions, columns, prompts):
        checks = row.get("checks") or []
        if not checks:
            out.append(None)
            continue
        users = [m["content"] for m in row["messages"] if m["role"] == "user"]
        passed = [strict for strict, _ in instruction_results(text, checks, prompt=users[-1] if users else "")]
        out.append(sum(passed) / len(passed))
    return out


def format_reward(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """Format validity: an extractable answer / ``Answer:`` line, or the vignette sections in order.

    None where the scorer defines no format (instruction rows).
    """
    out: list[float | None] = []
    for row, text in _each(completions, columns, prompts):
        fmt = _score(row, text).format_ok
        out.append(None if fmt is None else float(fmt))
    return out


def _count(x: Any) -> int:
    if x is None:
        return 0
    if isinstance(x, (int, float)):
        return int(x)
    return len(x)


class _GraphReward:
    """Shared plumbing: the knowledge graph is opened once, lazily (default: the built graph)."""

    __name__ = "graph_reward"

    def __init__(self, graph: Any = None, *, checker: Callable[[str, Any], Any] | None = None):
        self._graph = graph
        self._checker = checker

    @property
    def graph(self) -> Any:
        if self._graph is None:
            from balancedbio.knowledge.graph import KnowledgeGraph

            self._graph = KnowledgeGraph.open()
        return self._graph

    def report(self, text: str) -> Any:
        if self._checker is None:
            from balancedbio.scoring.facts import check_claims

            self._checker = check_claims
        return self._checker(text, self.graph)


class FactCheckReward(_GraphReward):
    """Share of the completion's linkable claims the knowledge graph supports: s / (s + r).

    Claims are extracted and checked by :func:`balancedbio.scoring.facts.check_claims`; unlinkable claims
    are ignored. None when the completion makes no claim the graph can verify or refute.
    """

    def __init__(self, graph: Any = None, *, checker: Callable[[str, Any], Any] | None = None):
        super().__init__(graph, checker=checker)
        self.__name__ = "fact_check_reward"

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        out: list[float | None] = []
        for c in completions:
            rep = self.report(completion_text(c))
            s, r = _count(rep.supported), _count(rep.refuted)
            out.append(None if s + r == 0 else s / (s + r))
        return out


class HallucinationPenalty(_GraphReward):
    """Safety penalty in [-1, 0]: minus the share of named entities the graph does not know.

    ``-h / (h + n_claims)`` with ``h`` hallucinated entities (names that look like diseases, genes or
    phenotypes but link to nothing) and ``n_claims`` extracted claims; 0.0 when nothing is made up.
    """

    def __init__(self, graph: Any = None, *, checker: Callable[[str, Any], Any] | None = None):
        super().__init__(graph, checker=checker)
        self.__name__ = "hallucination_penalty"

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        out: list[float | None] = []
        for c in completions:
            rep = self.report(completion_text(c))
            h, n = _count(rep.hallucinated_entities), _count(rep.claims)
            out.append(0.0 if h == 0 else -h / (h + n))
        return out
