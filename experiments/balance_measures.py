"""The balance experiment's measures, each scored per item by the project's own evaluators.

Every measure returns ``{"items": {metric: {item_id: value}}, "extra": {...}}``: per-item values (so the
experiment can bootstrap a CI and a paired delta against the base model on the very same items), plus
whatever else the evaluator reports. Nothing is scored here: MMLU-medical and IFEval run through the
evaluation suite (:func:`balancedbio.eval.suite.run_suite`, its registered tasks, IFEval's maintained
verifiers); the synthetic split through :func:`balancedbio.scoring.score` (the capabilities' own judges,
also the GRPO rewards); the hallucination flag through :func:`balancedbio.eval.safety.safety_metrics`
(the knowledge graph's fact checker); knowledge acquisition through ``experiments/bft_knowledge.py``'s
log-likelihood ranking of the held-out wording.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

CAPS = ("expertise", "reasoning", "instruction", "integration")


def _suite(overrides: list[str], model: Any, out: Path) -> dict[str, Any]:
    from balancedbio.config import load_config
    from balancedbio.eval.suite import EvalSuiteConfig, run_suite

    cfg = load_config(EvalSuiteConfig, None, ["progress=false", "bootstrap=10", *overrides])
    return run_suite(cfg, model, out)


def mmlu(model: Any, out: Path, *, limit: int) -> dict[str, Any]:
    """MMLU-medical, zero-shot, letter log-likelihood (the suite's expertise benchmark); 1 = correct."""
    report = _suite(["tasks=[expertise]", "mcq.shots=[0]", f"mcq.limit={limit}"], model, out)
    bench = report["models"]["model"]["benchmarks"]["mmlu_medical_0shot"]
    return {"items": {"mmlu_medical": bench["items"]}, "extra": {"metric": bench["metric"]}}


def ifeval(model: Any, out: Path, *, subset: Path, max_new_tokens: int, batch_size: int) -> dict[str, Any]:
    """The fixed IFEval subset, greedy answers judged by the maintained verifiers: prompt- and
    instruction-level, strict and loose (instruction-level items are ``<key>#<k>``)."""
    report = _suite(["tasks=[instruction]", f"benchmarks={{ifeval: {subset}}}",
                     f"generation.max_new_tokens={max_new_tokens}", f"generation.batch_size={batch_size}"],
                    model, out)
    bench = report["models"]["model"]["benchmarks"]["ifeval"]
    items: dict[str, dict[str, float]] = {"ifeval_prompt_strict": {}, "ifeval_prompt_loose": {},
                                          "ifeval_inst_strict": {}, "ifeval_inst_loose": {}}
    completions: dict[str, str] = {}
    for line in (out / bench["predictions"]).read_text().splitlines():
        j = json.loads(line)
        if "skipped" in j:
            continue
        key = str(j["key"])
        completions[key] = j.get("completion", "")
        items["ifeval_prompt_strict"][key] = float(all(j["strict"]))
        items["ifeval_prompt_loose"][key] = float(all(j["loose"]))
        for k, (s, lo) in enumerate(zip(j["strict"], j["loose"])):
            items["ifeval_inst_strict"][f"{key}#{k}"] = float(s)
            items["ifeval_inst_loose"][f"{key}#{k}"] = float(lo)
    return {"items": items, "extra": {"metric": bench["metric"], "completions": completions}}


def synth(model: Any, tok: Any, rows: list[dict[str, Any]], graph: Any, *, max_new_tokens: int,
          batch_size: int) -> dict[str, Any]:
    """The entity-disjoint synthetic test rows, greedy answers scored by :func:`balancedbio.scoring.score`
    (``value``, in [0, 1]); hallucination = the answer names an entity the graph does not know (reasoning
    and integration answers, as the suite's safety task)."""
    from balancedbio.eval.generate import GenerationConfig, generate_batch, prompt_messages
    from balancedbio.eval.safety import safety_metrics
    from balancedbio.scoring import score

    texts = generate_batch(model, tok, [prompt_messages(r) for r in rows],
                           GenerationConfig(max_new_tokens=max_new_tokens, batch_size=batch_size), progress=False)
    items: dict[str, dict[str, float]] = {f"synth_{c}": {} for c in CAPS}
    for r, t in zip(rows, texts):
        items[f"synth_{r['capability']}"][str(r["id"])] = float(score(r, t).value)
    if graph is not None:
        items.update(graph_flags(rows, texts, graph))
    pooled = safety_metrics([t for r, t in zip(rows, texts) if r["capability"] in ("reasoning", "integration")],
                            graph) if graph is not None else None
    return {"items": items, "extra": {"safety_pooled": pooled, "completions": dict(zip([str(r["id"]) for r in rows],
                                                                                      texts))}}


def graph_flags(rows: list[dict[str, Any]], texts: list[str], graph: Any) -> dict[str, dict[str, float]]:
    """Per reasoning/integration answer: 1 if it names an entity the graph does not know (``hallucination``),
    1 if it makes a claim the graph refutes (``contradiction``); an empty answer is 0 for both."""
    from balancedbio.eval.safety import safety_metrics

    out: dict[str, dict[str, float]] = {"hallucination": {}, "contradiction": {}}
    for r, t in zip(rows, texts):
        if r["capability"] in ("reasoning", "integration"):
            m = safety_metrics([t], graph)
            out["hallucination"][str(r["id"])] = float(m["answers_with_hallucination"] or 0.0)
            out["contradiction"][str(r["id"])] = float(m["answers_with_contradiction"] or 0.0)
    return out


def knowledge(model: Any, tok: Any, facts: list[dict[str, Any]]) -> dict[str, Any]:
    """Facts trained in one wording, asked in an unseen one: 1 when the true answer out-ranks its 3
    distractors by mean log-prob per answer token (``bft_knowledge``'s scoring; chance 0.25)."""
    from bft_knowledge import SYSTEM, TEST_PHRASING, _answer_logps

    texts, spans = [], []
    for f in facts:
        q, lead = TEST_PHRASING[f["kind"]]
        msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q.format(s=f["subject"])}]
        prompt = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) + lead
        for cand in [f["object"], *f["distractors"]]:
            texts.append(prompt + cand + ".")
            spans.append((len(prompt), len(prompt) + len(cand)))
    side = tok.padding_side
    tok.padding_side = "right"
    try:
        scores = _answer_logps(model, tok, texts, spans)
    finally:
        tok.padding_side = side
    items = {}
    for k, f in enumerate(facts):
        s = scores[4 * k:4 * k + 4]
        items[f"{f['kind']}:{f['subject']}"] = float(max(range(4), key=s.__getitem__) == 0)
    return {"items": {"knowledge_heldout": items}, "extra": {}}
