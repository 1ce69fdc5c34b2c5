"""What the teacher is asked (one task per capability) and the JSON schema its answer is parsed with.

The teacher sees the seed's facts as structured text (``subject | relation | object``, one per line) and a
task; it answers with one JSON object. Parsing takes the first JSON object in the text (models like to
wrap it in a code fence) and validates it with pydantic; a text with no JSON object is the drop
``teacher_not_json``, an object missing a field or with a wrong type ``teacher_missing_field``.
``PROMPT_VERSION`` is recorded in every row's provenance and changes whenever a task text changes.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from balancedbio.synth.llm import LLMError

PROMPT_VERSION = "teacher-v2"

SYSTEM = ("You write exam material for medical students from the facts you are given. Use only those facts, "
          "name every disease, gene, drug and finding exactly as the facts write it, and answer with one JSON "
          "object and nothing else.")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    @model_validator(mode="after")
    def _no_empty_text(self):
        if any(isinstance(v, str) and not v for v in self.__dict__.values()):
            raise ValueError("empty field")
        return self


class MCQAnswer(_Strict):
    question: str
    options: dict[str, str]
    answer: str
    explanation: str

    @field_validator("options")
    @classmethod
    def _four(cls, v: dict[str, str]) -> dict[str, str]:
        if sorted(v) != list("ABCD") or not all(x.strip() for x in v.values()):
            raise ValueError("options must be A, B, C and D, none empty")
        return {k: v[k].strip() for k in "ABCD"}


class ChainAnswer(_Strict):
    question: str
    steps: list[str]
    answer: str

    @field_validator("steps")
    @classmethod
    def _some(cls, v: list[str]) -> list[str]:
        if not v or not all(s.strip() for s in v):
            raise ValueError("steps must be non-empty strings")
        return [s.strip() for s in v]


class InstructionAnswer(_Strict):
    request: str
    response: str


class VignetteAnswer(_Strict):
    vignette: str
    differential: str
    workup: str
    diagnosis: str
    management: str


SCHEMAS: dict[str, type[_Strict]] = {"expertise": MCQAnswer, "reasoning": ChainAnswer,
                                     "instruction": InstructionAnswer, "integration": VignetteAnswer}

TASKS = {
    "expertise": (
        "Task: write one multiple-choice exam question that asks which {target} {relation_text} {focus}. "
        "Exactly one option must be true according to the facts; the other three options must be real {target}s "
        "that the facts do not link to {focus}. Explain the answer in one or two sentences.\n"
        'JSON keys: "question" (the question only), "options" (an object with keys "A", "B", "C", "D"), '
        '"answer" (the letter of the true option), "explanation".'),
    "reasoning": (
        "Task: write one multi-hop question that starts from {start} and whose answer is reached only by "
        "following the facts in order ({hops} steps). Do not name the answer in the question. Then write the "
        "reasoning as one step per fact, in the facts' order, each step naming the entities it links.\n"
        'JSON keys: "question", "steps" (a list of strings), "answer" (the final entity name only).'),
    "instruction": (
        "Task: write a request a student could ask about {focus} (one or two sentences, naming {focus}), and a "
        "response that uses only the facts and follows every one of these constraints: {constraints}\n"
        'JSON keys: "request" (the request only, without the constraints), "response".'),
    "integration": (
        "Task: write a clinical vignette (three to five sentences) of a patient with the presenting and history "
        "findings below, without naming the diagnosis, then work through the case: the differential (the "
        "diagnosis and the listed alternatives, with the finding that separates them), the work-up, the "
        "diagnosis, and the management (referrals, counselling, coding as the facts give them).\n"
        'JSON keys: "vignette", "differential", "workup", "diagnosis" (the disease name only), "management".'),
}


# One answer in the right shape per task, about made-up entities (teacher-v2); a teacher that copies it is
# caught by the entity and answer checks. It did not make the 135M default model write JSON (docs/synth.md).
FORMAT_EXAMPLES = {
    "expertise": {"question": "Which gene is associated with Disease X?",
                  "options": {"A": "GENE1", "B": "GENE2", "C": "GENE3", "D": "GENE4"}, "answer": "C",
                  "explanation": "The facts link GENE3 to Disease X."},
    "reasoning": {"question": "A patient has Finding Y. Variants in which gene explain it?",
                  "steps": ["Finding Y is a feature of Disease X.", "Disease X is associated with GENE3."],
                  "answer": "GENE3"},
    "instruction": {"request": "What are the features of Disease X?", "response": "Disease X shows Finding Y."},
    "integration": {"vignette": "A child presents with Finding Y and Finding Z.",
                    "differential": "Disease X (explains both) versus Disease W (lacks Finding Z).",
                    "workup": "Genetic testing for GENE3.", "diagnosis": "Disease X",
                    "management": "Referral to neurology; genetic counselling."},
}


def fact_lines(facts: list[dict[str, str]], names: dict[str, str]) -> str:
    """Facts as ``- subject | relation | object`` lines, entities by name."""
    return "\n".join(f"- {names.get(f['subject'], f['subject'])} | {f['relation'].replace('_', ' ')} | "
                     f"{names.get(f['object'], f['object'])}" for f in facts)


def build_messages(capability: str, facts_text: str, **task: Any) -> list[dict[str, str]]:
    """The chat messages for one seed: system, then the facts and the task."""
    example = json.dumps(FORMAT_EXAMPLES[capability])
    user = (f"Facts:\n{facts_text}\n\n{TASKS[capability].format(**task)}\n"
            f"The format, shown for made-up entities: {example}")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def first_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (code fences and prose around it are ignored)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            obj, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(obj, dict):
            return obj
        start = text.find("{", start + 1)
    raise LLMError("teacher_not_json")


def parse_answer(capability: str, text: str) -> _Strict:
    """The teacher's answer parsed with the capability's schema; LLMError names the drop reason."""
    obj = first_json_object(text)
    try:
        return SCHEMAS[capability].model_validate(obj)
    except ValidationError:
        raise LLMError("teacher_missing_field") from None
