"""Prompt formats of the medical multiple-choice benchmarks, as lm-evaluation-harness 0.4 defines them.

Each :class:`PromptFormat` reproduces one lm-eval task definition (``lm_eval/tasks/<task>/*.yaml`` and its
``doc_to_text``), character for character, so a per-question prediction can be compared with lm-eval's:

* ``mmlu`` (``mmlu_<subject>``): description ``"The following are multiple choice questions (with
  answers) about {subject}.\\n\\n"``, text ``"{question.strip()}\\nA. ..\\nB. ..\\nC. ..\\nD. ..\\nAnswer:"``,
  choices ``" A"`` .. ``" D"``; few-shot examples are the first k of the dev split;
* ``medqa`` (``medqa_4options``): ``"Question: {question}\\nA. ..\\n...\\nAnswer:"``, choices the letters;
* ``medmcqa`` (``medmcqa``): ``"Question: {question}\\nChoices:\\nA. ..\\n...\\nAnswer:"``, choices the letters;
* ``pubmedqa`` (``pubmedqa``): ``"Abstract: {contexts joined by \\n}\\nQuestion: {question}\\nAnswer:"``,
  choices the words ``" yes"``, ``" no"``, ``" maybe"`` (multi-token continuations are scored whole).

A k-shot context is lm-eval's: ``description + "".join(text(shot) + " " + target(shot) + "\\n\\n") +
text(question)``; the continuation of each option is ``" " + choice``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from balancedbio.eval.datasets import MCQItem

__all__ = ["PromptFormat", "PROMPT_FORMATS", "prompt_format", "build_context"]


@dataclass(frozen=True)
class PromptFormat:
    """How one benchmark turns a question into lm-eval's context and option continuations."""

    name: str
    lm_eval_task: str
    description: Callable[[str], str]  # subject -> header ("" when the task has none)
    doc_to_text: Callable[[MCQItem], str]
    choice_text: Callable[[MCQItem, str], str]  # (item, letter) -> the choice without the leading space

    def continuation(self, item: MCQItem, letter: str) -> str:
        """The scored continuation of option ``letter``: lm-eval's target delimiter " " + the choice."""
        return " " + self.choice_text(item, letter)


def _lettered(item: MCQItem) -> str:
    return "".join(f"{k}. {v}\n" for k, v in item.choices.items())


def _mmlu_description(subject: str) -> str:
    return f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n"


def _letter(item: MCQItem, letter: str) -> str:
    return letter


PROMPT_FORMATS: dict[str, PromptFormat] = {
    "mmlu": PromptFormat("mmlu", "mmlu_<subject>", _mmlu_description,
                         lambda it: f"{it.question.strip()}\n{_lettered(it)}Answer:", _letter),
    "medqa": PromptFormat("medqa", "medqa_4options", lambda s: "",
                          lambda it: f"Question: {it.question}\n{_lettered(it)}Answer:", _letter),
    "medmcqa": PromptFormat("medmcqa", "medmcqa", lambda s: "",
                            lambda it: f"Question: {it.question}\nChoices:\n{_lettered(it)}Answer:", _letter),
    "pubmedqa": PromptFormat("pubmedqa", "pubmedqa", lambda s: "",
                             lambda it: f"Abstract: {it.context}\nQuestion: {it.question}\nAnswer:",
                             lambda it, letter: it.choices[letter]),
}


def prompt_format(name: str) -> PromptFormat:
    """The format called ``name``; ValueError naming the known ones otherwise."""
    try:
        return PROMPT_FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown MCQ prompt format {name!r}; known: {', '.join(PROMPT_FORMATS)}") from None


def build_context(fmt: PromptFormat, item: MCQItem, shots: Sequence[MCQItem] = ()) -> str:
    """lm-eval's context for ``item`` after ``shots`` solved examples (description first)."""
    solved = "".join(fmt.doc_to_text(s) + fmt.continuation(s, s.answer) + "\n\n" for s in shots)
    return fmt.description(item.subject) + solved + fmt.doc_to_text(item)
