"""The teacher generator end to end against an in-process "oracle" teacher (a fake OpenAI-compatible server
that writes correct JSON from the facts it is given, or wrong JSON on request): graph-fixed gold answers,
the teacher checks (answer, distractors, step order, leaks), drops by reason, provenance, the same bytes
whatever the completion order and after a SIGKILL + resume, the API key never written."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from fake_openai import chat, fake_server

from balancedbio.config import load_config
from balancedbio.errors import ModelError
from balancedbio.synth.generate import SynthConfig, generate_dataset
from balancedbio.synth.item import fact
from balancedbio.synth.teacher_schema import PROMPT_VERSION
from balancedbio.synth.validate import Validator

CANARY = "sk-canary-teacher-5f1c0e"
REL = {"is a clinical feature of": "has_phenotype", "is associated with": "associated_with_gene",
       "is indicated for": "treated_by", "is a molecular target of": "targets", "is an indication of": "indicated_for"}


def _facts(user: str) -> list[tuple[str, str, str]]:
    block = user.split("Facts:\n", 1)[1].split("\n\n", 1)[0]
    return [tuple(x.strip() for x in line[2:].split(" | ")) for line in block.splitlines()]


class Oracle:
    """Answers every task correctly from the facts (``mode`` breaks one thing on purpose)."""

    def __init__(self, graph, mode="right"):
        self.graph, self.mode = graph, mode
        self.validator = Validator(graph)

    def __call__(self, body, n):
        user = body["messages"][-1]["content"]
        digest = int(hashlib.sha256(user.encode()).hexdigest()[:6], 16)
        delay = (digest % 40) / 1000                       # completion order scrambled, deterministically
        if self.mode == "prose":
            return 200, chat("Sure! Here is a question about the disease."), delay
        facts = _facts(user)
        if "multiple-choice" in user:
            out = self.mcq(user, facts)
        elif "multi-hop" in user:
            out = self.chain(facts)
        elif "constraints:" in user:
            out = self.instruction(user, facts)
        else:
            out = self.vignette(facts)
        if self.mode == "missing":
            out.pop(next(iter(out)))
        return 200, chat("```json\n" + json.dumps(out) + "\n```"), delay

    def mcq(self, user, facts):
        m = re.search(r"asks which \w[\w ]*? (is a clinical feature of|is associated with|is indicated for|"
                      r"is a molecular target of|is an indication of) (.+?)\. Exactly", user)
        rel, focus = REL[m.group(1)], m.group(2)
        focus_id = self.graph.link(focus)[0].curie
        right = next(o for s, r, o in facts if s == focus and r == rel.replace("_", " "))
        kind = self.graph.link(right)[0].type
        names = sorted(e.name for e in self.graph.iter_entities(kind))
        true_other = [n for n in names if n != right and any(
            self.validator.supported(fact(focus_id, rel, c, "")) for c in self.graph.link_curies(n))]
        wrong = [n for n in names if n != right and n not in true_other and self.graph.link_curies(n) and all(
            self.validator.refuted(fact(focus_id, rel, c, "")) for c in self.graph.link_curies(n))][:3]
        if self.mode == "true_distractor" and true_other:
            wrong[0] = true_other[0]
        if self.mode == "unlinked":
            wrong[0] = "Frobnicated widget disorder"
        letter = "ABCD"[len(focus) % 4]
        options = dict(zip([x for x in "ABCD" if x != letter], wrong))
        options[letter] = right
        key = "ABCD"[(len(focus) + 1) % 4] if self.mode == "wrong_letter" else letter
        return {"question": f"Which of these is linked to {focus}?", "options": {k: options[k] for k in "ABCD"},
                "answer": key, "explanation": f"The graph links {right} to {focus}."}

    def chain(self, facts):
        phens = [o for _, r, o in facts if r == "has phenotype"]
        d, _, g = next(f for f in facts if f[1] == "associated with gene")
        steps = [f"{' and '.join(phens)} are clinical features of {d}.", f"{d} is associated with variants in {g}."]
        if self.mode == "reversed":
            steps.reverse()
        if self.mode == "false_claim":                     # a claim the fact checker refutes
            d_id = self.graph.link(d)[0].curie
            wrong = next(e.name for e in self.graph.iter_entities("gene") if e.name != g and
                         self.validator.refuted(fact(d_id, "associated_with_gene", e.curie, "")))
            steps.append(f"{d} is also associated with variants in {wrong}.")
        return {"question": f"A patient presents with {' and '.join(phens)}. Which gene most likely explains this?",
                "steps": steps, "answer": g}

    def instruction(self, user, facts):
        focus = facts[0][0]
        feature = next(o for _, r, o in facts if r == "has phenotype")
        rules = user.split("constraints: ", 1)[1].split("\n", 1)[0].lower()
        text = f"- {focus}\n- {feature}\n- a specialist" if "bullet" in rules else f"{focus} shows {feature}."
        if "commas" in rules:
            text = text.replace(",", "")
        if "lowercase" in rules:
            text = text.lower()
        return {"request": f"Tell me about {focus}.", "response": text}

    def vignette(self, facts):
        d = facts[0][0]
        phens = [o for s, r, o in facts if s == d and r == "has phenotype"]
        return {"vignette": f"A patient presents with {phens[0]} and {phens[1]}.",
                "differential": f"{d} against the listed alternatives.", "workup": "genetic testing.",
                "diagnosis": d, "management": "referral to the specialties involved."}


@pytest.fixture(scope="module")
def oracle_server(toy_graph):
    oracle = Oracle(toy_graph)
    srv, state = fake_server(oracle, models=("oracle",))
    yield srv, state, oracle
    srv.shutdown()


def _cfg(port, **kw):
    over = {"num_examples": 16, "test_fraction": 0.3, "backend": "openai", "llm.role": "teacher",
            "llm.url": f"http://127.0.0.1:{port}/v1", "llm.model": "oracle", "llm.api_key_env": "BB_TEACHER_KEY",
            "llm.retries": 0, "llm.concurrency": 4, "max_attempts": 6, **kw}
    return load_config(SynthConfig, None, [f"{k}={v}" for k, v in over.items()])


def _rows(out):
    return [json.loads(x) for s in ("train", "test") for x in open(out / f"{s}.jsonl")]


@pytest.fixture(scope="module")
def teacher_run(toy_graph, oracle_server, tmp_path_factory):
    srv = oracle_server[0]
    out = tmp_path_factory.mktemp("teacher") / "data"
    os.environ["BB_TEACHER_KEY"] = CANARY
    try:
        manifest = generate_dataset(_cfg(srv.server_port), out, graph=toy_graph)
    finally:
        del os.environ["BB_TEACHER_KEY"]
    return out, manifest


def test_teacher_rows_have_graph_answers_and_provenance(teacher_run, toy_graph, oracle_server):
    out, m = teacher_run
    rows = _rows(out)
    assert m["generator"] == "teacher:oracle" and m["num_examples"] == len(rows) >= 12
    assert {r["capability"] for r in rows} == {"expertise", "reasoning", "instruction", "integration"}
    for r in rows:
        t = r["provenance"]["teacher"]
        assert t["model"] == "oracle" and t["prompt_version"] == PROMPT_VERSION
        assert t["endpoint"] == f"http://127.0.0.1:{oracle_server[0].server_port}/v1" and t["seed_facts"]
        for f in t["seed_facts"] + r["facts"]:
            assert toy_graph.verify(f["subject"], f["relation"], f["object"]).supported, f
        if r["answer_type"] == "mcq":                    # the key is the option the graph supports
            gold = r["facts"][0]
            linked = toy_graph.link_curies(r["choices"][r["answer"]])
            assert gold["object"] in linked
        if r["capability"] == "reasoning":
            assert r["messages"][1]["content"].endswith(f"Answer: {r['answer']}")


def test_same_rows_whatever_the_completion_order(teacher_run, toy_graph, oracle_server, tmp_path):
    out, _ = teacher_run
    again = tmp_path / "again"
    generate_dataset(_cfg(oracle_server[0].server_port, **{"llm.concurrency": 1}), again, graph=toy_graph)
    for s in ("train", "test"):
        assert (again / f"{s}.jsonl").read_bytes() == (out / f"{s}.jsonl").read_bytes()


def test_key_is_never_written(teacher_run, oracle_server):
    out, _ = teacher_run
    assert any(a == f"Bearer {CANARY}" for a in oracle_server[1]["auth"])     # it was sent...
    for path in out.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path               # ...and never written


@pytest.mark.parametrize("mode, capability, reason", [
    ("wrong_letter", "expertise", "teacher_answer_mismatch"),
    ("true_distractor", "expertise", "distractor_true"),
    ("unlinked", "expertise", "entity_unlinked"),
    ("reversed", "reasoning", "steps_out_of_order"),
    ("false_claim", "reasoning", "refuted_claim"),
    ("prose", "integration", "teacher_not_json"),
    ("missing", "instruction", "teacher_missing_field"),
])
def test_bad_teacher_answers_are_counted_drops(toy_graph, tmp_path, mode, capability, reason):
    srv, _ = fake_server(Oracle(toy_graph, mode), models=("oracle",))
    mix = {f"mix.{c}": float(c == capability) for c in ("expertise", "reasoning", "instruction", "integration")}
    try:
        m = generate_dataset(_cfg(srv.server_port, num_examples=3, max_attempts=2, **mix), tmp_path / "o",
                             graph=toy_graph)
    finally:
        srv.shutdown()
    assert m["drops"].get(reason, 0) >= 1, m["drops"]
    assert m["num_examples"] + m["drops"].get("slot_exhausted", 0) == 3


def test_probe_failure_leaves_nothing(toy_graph, tmp_path, oracle_server):
    with pytest.raises(ModelError, match="does not serve model 'nope'"):
        generate_dataset(_cfg(oracle_server[0].server_port, **{"llm.model": "nope"}), tmp_path / "o",
                         graph=toy_graph)
    assert list(tmp_path.iterdir()) == []


def test_sigkill_then_resume_writes_the_uninterrupted_bytes(teacher_run, toy_graph, oracle_server, tmp_path):
    out, _ = teacher_run
    port = oracle_server[0].server_port
    dest, work = tmp_path / "data", tmp_path / ".data.partial"
    over = [f"{k}={v}" for k, v in {"num_examples": 16, "test_fraction": 0.3, "backend": "openai",
                                    "llm.role": "teacher", "llm.url": f"http://127.0.0.1:{port}/v1",
                                    "llm.model": "oracle", "llm.api_key_env": "BB_TEACHER_KEY",
                                    "llm.retries": 0, "llm.concurrency": 4, "max_attempts": 6}.items()]
    code = ("from balancedbio.synth import generate as gen\n"
            "from balancedbio.knowledge.graph import KnowledgeGraph\n"
            "from balancedbio.config import load_config\n"
            f"cfg = load_config(gen.SynthConfig, None, {over!r})\n"
            f"gen.generate_dataset(cfg, {str(dest)!r}, graph=KnowledgeGraph.open({str(toy_graph.path)!r}))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "BB_TEACHER_KEY": CANARY})
    deadline = time.time() + 60
    cache = work / "llm_cache.jsonl"
    while time.time() < deadline and proc.poll() is None:
        if cache.exists() and cache.read_bytes().count(b"\n") >= 6:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not dest.exists() and work.is_dir(), proc.stderr.read().decode()[-2000:]
    left = [p for p in work.rglob("*") if p.is_file()]
    assert cache in left and all(CANARY.encode() not in p.read_bytes() for p in left)   # the cache holds no key
    generate_dataset(_cfg(port), dest, graph=toy_graph, resume=True)
    for s in ("train", "test"):
        assert (dest / f"{s}.jsonl").read_bytes() == (out / f"{s}.jsonl").read_bytes(), s
