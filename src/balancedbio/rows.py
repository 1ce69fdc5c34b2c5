"""The row contract shared by synth, GRPO, rewards and evaluation: the capabilities and the typed :class:`Row`.

Every row of ``train.jsonl`` / ``test.jsonl`` (docs/data_format.md) is read through :meth:`Row.parse`,
the one validator; its errors are one line naming ``file:line`` and the key. Writers build rows as
:class:`Row` and serialise them with :meth:`Row.to_dict`, so what synth writes is what GRPO, the rewards
and the evaluation suite read.

Example::

    >>> row = Row.parse({"capability": "expertise", "messages": [{"role": "user", "content": "Gene?"}],
    ...                  "answer": "CFTR"}, "data.jsonl:1")
    >>> row.answer_type, row.to_dict()["capability"]
    ('short', 'expertise')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from balancedbio.errors import DataError

__all__ = ["CAPABILITIES", "ANSWER_TYPES", "ROW_KEYS", "Check", "Row"]

#: The four capabilities, declared once; every module that lists them imports this.
CAPABILITIES: tuple[str, ...] = ("expertise", "reasoning", "instruction", "integration")
ANSWER_TYPES: tuple[str, ...] = ("mcq", "short", "free")
#: Key order of a serialised row.
ROW_KEYS: tuple[str, ...] = ("id", "capability", "messages", "answer", "aliases", "choices", "answer_type",
                             "checks", "facts", "split", "provenance")
_ROLES = ("system", "user", "assistant")
_FACT_KEYS = frozenset({"subject", "relation", "object", "source"})


@dataclass(frozen=True)
class Check:
    """One verifiable instruction: a verifier id and its keyword arguments (the ids: :mod:`balancedbio.verifiers`)."""

    id: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kwargs": dict(self.kwargs)}


def _fail(where: str, key: str, why: str) -> DataError:
    return DataError(f"{where}: key {key!r} {why}")


def _parse_check(obj: Any, where: str, i: int) -> Check:
    key = f"checks[{i}]"
    if not isinstance(obj, Mapping) or not isinstance(obj.get("id"), str) or not obj["id"].strip():
        raise _fail(where, key, f"must be an object with a verifier 'id', got {obj!r}")
    unknown = sorted(set(obj) - {"id", "kwargs"})
    if unknown:
        raise _fail(where, key, f"has unknown fields {unknown}; a check is {{'id': ..., 'kwargs': {{...}}}}")
    kwargs = obj.get("kwargs")
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, Mapping):
        raise _fail(where, key, f"('{obj['id']}'): 'kwargs' must be an object, got {kwargs!r}")
    return Check(obj["id"], dict(kwargs))


@dataclass(frozen=True)
class Row:
    """One example of the data contract (docs/data_format.md).

    ``messages`` is the conversation (the last turn is the reference answer when it is the assistant's);
    ``answer`` the gold answer (an MCQ letter, a short text, a diagnosis; ``""`` for instruction rows);
    ``checks`` the verifiable instructions the response must follow (IFEval / IFBench verifier ids with
    their kwargs; an unknown id or keyword is an error naming ``where``).
    """

    capability: str
    messages: tuple[dict[str, str], ...]
    id: str = ""
    answer: str = ""
    aliases: tuple[str, ...] = ()
    choices: Mapping[str, str] | None = None
    answer_type: str = "free"
    checks: tuple[Check, ...] = ()
    facts: tuple[dict[str, str], ...] = ()
    split: str = ""
    provenance: Mapping[str, Any] = field(default_factory=dict)

    # -------------------------------------------------------------------------------------------------
    @classmethod
    def parse(cls, obj: Any, where: str) -> Row:
        """Validate ``obj`` (a decoded JSON row) and return it as a :class:`Row`.

        ``where`` names the row in errors (``"train.jsonl:12"``). Required: ``capability`` (one of
        :data:`CAPABILITIES`), ``messages`` (non-empty list of ``{role, content}``, starting with a user or
        system turn); an ``answer`` for every capability but instruction, and ``checks`` for instruction
        rows. ``answer_type`` defaults to ``mcq`` when ``choices`` are given, else ``short`` when there is
        an answer, else ``free``. Raises :class:`DataError` naming ``where`` and the key.
        """
        if not isinstance(obj, Mapping):
            raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        cap = obj.get("capability")
        if cap not in CAPABILITIES:
            raise _fail(where, "capability", f"must be one of {', '.join(CAPABILITIES)}, got {cap!r}")
        msgs = obj.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise _fail(where, "messages", "must be a non-empty list of {role, content}")
        messages = []
        for i, m in enumerate(msgs):
            if not isinstance(m, Mapping) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
                raise _fail(where, f"messages[{i}]", f"must be {{role: {'|'.join(_ROLES)}, content: str}}, got {m!r}")
            messages.append({"role": m["role"], "content": m["content"]})
        if messages[0]["role"] == "assistant":
            raise _fail(where, "messages[0]", "must be a user (or system) turn")
        if not any(m["role"] == "user" for m in messages):
            raise _fail(where, "messages", "has no user turn")

        rid = obj.get("id", "")
        if not isinstance(rid, (str, int)) or isinstance(rid, bool):
            raise _fail(where, "id", f"must be a string, got {rid!r}")
        answer = obj.get("answer", "")
        if answer is None:
            answer = ""
        if not isinstance(answer, (str, int, float)) or isinstance(answer, bool):
            raise _fail(where, "answer", f"must be a string, got {answer!r}")
        answer = str(answer)
        aliases = obj.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise _fail(where, "aliases", f"must be a list of strings, got {aliases!r}")
        choices = obj.get("choices")
        if choices is not None:
            if (not isinstance(choices, Mapping) or not choices
                    or not all(isinstance(k, str) and isinstance(v, str) for k, v in choices.items())):
                raise _fail(where, "choices", f"must be an object letter -> option text or null, got {choices!r}")
            choices = dict(choices)
        answer_type = obj.get("answer_type") or ("mcq" if choices else "short" if answer.strip() else "free")
        if answer_type not in ANSWER_TYPES:
            raise _fail(where, "answer_type", f"must be one of {', '.join(ANSWER_TYPES)}, got {answer_type!r}")
        if answer_type == "mcq":
            letters = sorted(choices or {})
            if not letters:
                raise _fail(where, "choices", "is required for an mcq row")
            if answer.strip().upper() not in letters:
                raise _fail(where, "answer", f"{answer!r} is not one of the choice letters {', '.join(letters)}")
            answer = answer.strip().upper()
        if cap != "instruction" and not answer.strip():
            raise _fail(where, "answer", f"must be non-empty for a {cap} row")
        raw_checks = obj.get("checks") or []
        if not isinstance(raw_checks, list):
            raise _fail(where, "checks", f"must be a list of {{id, kwargs}}, got {raw_checks!r}")
        checks = tuple(_parse_check(c, where, i) for i, c in enumerate(raw_checks))
        if checks:
            # the verifier vocabulary is floor 1 too; importing it loads the verifiers (first use only)
            from balancedbio.verifiers import validate_checks

            validate_checks(checks, where)
        if cap == "instruction" and not checks:
            raise _fail(where, "checks", "must list at least one instruction for an instruction row")
        facts = obj.get("facts") or []
        if not isinstance(facts, list) or not all(isinstance(f, Mapping) and set(f) == _FACT_KEYS for f in facts):
            raise _fail(where, "facts", "must be a list of {subject, relation, object, source}")
        split = obj.get("split") or ""
        if not isinstance(split, str):
            raise _fail(where, "split", f"must be a string, got {split!r}")
        provenance = obj.get("provenance") or {}
        if not isinstance(provenance, Mapping):
            raise _fail(where, "provenance", f"must be an object, got {provenance!r}")
        return cls(capability=cap, messages=tuple(messages), id=str(rid), answer=answer, aliases=tuple(aliases),
                   choices=choices, answer_type=answer_type, checks=checks,
                   facts=tuple(dict(f) for f in facts), split=split, provenance=dict(provenance))

    # -------------------------------------------------------------------------------------------------
    @property
    def prompt(self) -> list[dict[str, str]]:
        """The messages before the reference answer (all of them when the last turn is not the assistant's)."""
        msgs = list(self.messages)
        return msgs[:-1] if len(msgs) > 1 and msgs[-1]["role"] == "assistant" else msgs

    @property
    def reference(self) -> str | None:
        """The reference answer (the last assistant turn), or None."""
        return self.messages[-1]["content"] if self.messages[-1]["role"] == "assistant" else None

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready values, keys in :data:`ROW_KEYS` order."""
        return {"id": self.id, "capability": self.capability, "messages": [dict(m) for m in self.messages],
                "answer": self.answer, "aliases": list(self.aliases),
                "choices": dict(self.choices) if self.choices is not None else None,
                "answer_type": self.answer_type, "checks": [c.to_dict() for c in self.checks],
                "facts": [dict(f) for f in self.facts], "split": self.split, "provenance": dict(self.provenance)}
