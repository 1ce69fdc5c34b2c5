"""Judging completions: answer extraction, instruction checkers and the ``score(row, completion)`` dispatcher.

The one place a completion is judged: GRPO rewards and the evaluation suite both call it.
Fact checking against the knowledge graph lives in :mod:`balancedbio.scoring.facts`.
"""

from balancedbio.scoring.answers import (
                                         answer_matches,
                                         extract_choice,
                                         extract_final_answer,
                                         mentions_answer,
                                         normalize_answer,
                                         parse_sections,
)
from balancedbio.scoring.instructions import check_instructions, instruction_results, validate_checks
from balancedbio.scoring.score import CAPABILITIES, ScoreResult, score

__all__ = ["score", "ScoreResult", "CAPABILITIES", "extract_choice", "extract_final_answer", "normalize_answer",
           "answer_matches", "mentions_answer", "check_instructions", "validate_checks", "parse_sections",
           "instruction_results"]
