"""MKGSG with a teacher model: the LLM writes each item from a grounded seed; the graph fixes the answer.

Source2Synth (Lupidi et al., arXiv 2409.08239) has an LLM write a multi-hop question and its steps from a
grounded seed, then curates by answerability; MKGSG (BalancedBio, Wu et al., arXiv 2508.04278) adds the
ontology. Here every output slot gets seeds (:mod:`balancedbio.synth.seeds`) from the same per-(slot,
attempt) RNG as the templates; the teacher gets the seed's facts and a task (:mod:`teacher_schema`), its
JSON answer is parsed, turned into a draft with the graph's gold answer and checked
(:mod:`teacher_items`, then :class:`~balancedbio.synth.validate.Validator`). Each failure is a counted drop.

Throughput: requests go through :class:`~balancedbio.synth.client.ChatClient` with ``llm.concurrency``
in flight. A request is a pure function of ``(slot, attempt)`` (seed, prompt, sampling seed), so requests
are sent ahead - later slots' first attempts, and further attempts of the current slot as many as the
acceptance rate so far says it will need - while answers are consumed strictly in slot/attempt order.
The rows are therefore those of a sequential run whatever the completion order, and a resumed run
(answers cached by prompt hash) writes the same bytes as an uninterrupted one.

Example::

    balancedbio synth --num-examples 200 --output data/teacher backend=openai llm.role=teacher \\
        llm.url=http://localhost:8000/v1 llm.model=Qwen/Qwen2.5-7B-Instruct llm.concurrency=32
"""

from __future__ import annotations

import random
import urllib.parse
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from balancedbio.synth.cache import PromptCache
from balancedbio.synth.client import ChatClient, chat_client_kwargs
from balancedbio.synth.curate import capability_schedule, dedupe_key
from balancedbio.synth.llm import LLMError
from balancedbio.synth.pools import Closures, Pools
from balancedbio.synth.seeds import RELATION_TEXT, Seed, SeedSampler
from balancedbio.synth.teacher_items import build_item
from balancedbio.synth.teacher_schema import PROMPT_VERSION, build_messages, fact_lines, parse_answer
from balancedbio.synth.validate import Validator


def public_endpoint(url: str) -> str:
    """The endpoint as recorded in provenance: no user/password, no query string."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def task_fields(seed: Seed) -> dict[str, Any]:
    """The placeholders of the capability's task text for this seed."""
    names = seed.names
    if seed.capability == "expertise":
        target, text = RELATION_TEXT[seed.relation]
        return {"target": target, "relation_text": text, "focus": names[seed.focus]}
    if seed.capability == "reasoning":
        return {"start": names[seed.path[0]], "hops": len(seed.path) - 1}
    if seed.capability == "instruction":
        return {"focus": names[seed.focus], "constraints": seed.constraints}
    return {}


def seed_messages(seed: Seed) -> list[dict[str, str]]:
    return build_messages(seed.capability, fact_lines(seed.facts, seed.names), **task_fields(seed))


class TeacherStream:
    """Rows for output slots, one call per slot, in slot order (see the module docstring)."""

    def __init__(self, cfg, client: ChatClient, pools: Pools, closures: Closures, validator: Validator,
                 *, weights: dict[str, float], drops: dict[str, int], seen: set[bytes], to_row):
        self.cfg, self.client, self.pools, self.validator = cfg, client, pools, validator
        self.sampler = SeedSampler(pools, closures)
        self.drops, self.seen, self.to_row = drops, seen, to_row
        schedule = capability_schedule(weights)
        self.caps = [next(schedule) for _ in range(cfg.num_examples)]
        self.window = 2 * cfg.llm.concurrency
        self.pending: dict[tuple[int, int], tuple[Seed, Future] | None] = {}
        self.next_attempt: dict[int, int] = {}
        self.tried = self.accepted = 0
        self.horizon = 0                                 # the first slot whose first attempt is not sent yet
        self.provenance = {"model": client.model, "endpoint": public_endpoint(client.endpoint),
                           "prompt_version": PROMPT_VERSION}

    # ------------------------------------------------------------------------------------- requests
    def _request(self, slot: int, attempt: int) -> None:
        rng = random.Random((self.cfg.seed * 1_000_003 + slot) * 1_009 + attempt)
        side = "test" if rng.random() < self.cfg.test_fraction else "train"
        seed = self.sampler.sample(self.caps[slot], rng, side)
        if seed is None:
            self.pending[(slot, attempt)] = None
        else:
            fut = self.client.submit(seed_messages(seed), seed=rng.randrange(2**31),
                                     max_tokens=self.cfg.llm.max_new_tokens, temperature=self.cfg.llm.temperature)
            self.pending[(slot, attempt)] = (seed, fut)
        self.next_attempt[slot] = attempt + 1

    def _fill(self, slot: int, attempt: int) -> None:
        """Keep about ``2 x concurrency`` requests ahead: this slot's next attempts (as many as the
        acceptance rate so far predicts it needs), then the first attempts of the slots after it."""
        rate = (self.accepted + 1) / (self.tried + 1)
        depth = max(1, min(self.window, round(1 / rate)))
        stop = min(self.cfg.max_attempts, attempt + depth)
        while self.next_attempt.get(slot, 0) < stop:
            self._request(slot, self.next_attempt.get(slot, 0))
        self.horizon = max(self.horizon, slot + 1)
        while len(self.pending) < self.window and self.horizon < len(self.caps):
            self._request(self.horizon, 0)
            self.horizon += 1

    # ------------------------------------------------------------------------------------- rows
    def row_for(self, slot: int, cap: str) -> dict[str, Any] | None:
        """The slot's accepted row (or None when ``max_attempts`` seeds all failed)."""
        if cap != self.caps[slot]:
            raise AssertionError(f"capability schedule differs at slot {slot}")
        for attempt in range(self.cfg.max_attempts):
            self._fill(slot, attempt)
            entry = self.pending.pop((slot, attempt))
            if entry is None:
                self._drop("no_seed")
                continue
            self.tried += 1
            row = self._try(slot, *entry)
            if row is not None:
                self.accepted += 1
                return row
        return None

    def _try(self, slot: int, seed: Seed, fut: Future) -> dict[str, Any] | None:
        try:
            text = fut.result()
        except LLMError as exc:
            return self._drop(f"llm_{exc}")
        try:
            answer = parse_answer(seed.capability, text)
            item, teacher_text = build_item(seed, answer, self.validator, self.pools)
        except LLMError as exc:
            return self._drop(str(exc))
        key = dedupe_key(item.prompt)
        if key in self.seen:
            return self._drop("duplicate")
        row = self.to_row(item, slot, seed.side)
        row["provenance"]["teacher"] = {**self.provenance, "seed_kind": seed.kind, "seed_facts": seed.facts}
        reason = self.validator.check(item, row, llm_text=teacher_text)
        if reason is not None:
            return self._drop(reason)
        self.seen.add(key)
        return row

    def _drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1
        return None

    def close(self) -> None:
        for entry in self.pending.values():
            if entry is not None:
                entry[1].cancel()
        self.client.close()


def open_teacher_client(llm) -> ChatClient:
    """The endpoint client, probed: unreachable / 401 / unknown model fail here, before any file exists."""
    client = ChatClient(llm.url, llm.model, **chat_client_kwargs(llm))
    try:
        client.probe()
    except BaseException:
        client.close()
        raise
    return client


def attach_cache(client: ChatClient, work: Path) -> None:
    client.cache = PromptCache(work / "llm_cache.jsonl")
