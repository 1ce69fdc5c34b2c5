"""Template items vs teacher items on the same slots: diversity, length spread, acceptance, answerability.

Both generators run on the toy graph with the same generation seed, slots and capability schedule (each
slot's RNG is the same; the template and the teacher draw their own seed from it) and one attempt per
slot, so "accepted" is the share of drafted items that pass validation. The teacher is the default model
(SmolLM2-135M-Instruct) behind ``transformers serve`` (continuous batching, 1 torch thread) unless
``--url`` names another server. Measured per generator:

* distinct 4-gram ratio: distinct word 4-grams / all word 4-grams over the items' question texts
* question length: words per question (mean, standard deviation, min, max)
* accepted: rows / drafted items (template: items a template wrote; teacher: answers the server gave)
* answerability drop rate: the share of accepted rows that the answerability filter
  (:class:`balancedbio.synth.curate.AnswerabilityFilter`, the default model untuned, 3 samples) cannot
  answer; ``benchmarks/synth_answerability.py`` measures the same filter after tuning on a slice

Teacher texts that never became items are reported too (raw answers: how many parse as JSON, their
4-gram ratio), so a teacher that writes no valid item still has its output measured.

    python benchmarks/synth_teacher_quality.py --slots 16 --max-tokens 192 \\
        --out benchmarks/results/synth_teacher_quality_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth_llm_throughput import start_server  # noqa: E402


def four_gram_ratio(texts: list[str]) -> float | None:
    grams = [tuple(ws[i:i + 4]) for t in texts for ws in [t.lower().split()] for i in range(len(ws) - 3)]
    return round(len(set(grams)) / len(grams), 3) if grams else None


def lengths(texts: list[str]) -> dict | None:
    n = [len(t.split()) for t in texts]
    if not n:
        return None
    return {"mean": round(statistics.mean(n), 1), "stdev": round(statistics.pstdev(n), 1), "min": min(n),
            "max": max(n)}


def answerability(rows: list[dict]) -> dict:
    if not rows:
        return {"rows": 0, "dropped": 0, "drop_rate": None}
    from balancedbio.synth.curate import AnswerabilityFilter

    filt = AnswerabilityFilter("default", tries=3, max_new_tokens=48, seed=0)
    dropped = sum(not ok for _, ok in filt.filter(rows))
    return {"rows": len(rows), "dropped": dropped, "drop_rate": round(dropped / len(rows), 3)}


def summary(rows: list[dict], drafted: int, drops: dict) -> dict:
    questions = [r["messages"][0]["content"] for r in rows]
    return {"rows": len(rows), "drafted": drafted, "accepted": round(len(rows) / drafted, 3) if drafted else None,
            "distinct_4gram_ratio": four_gram_ratio(questions), "question_words": lengths(questions),
            "drops": dict(sorted(drops.items()))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--slots", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=192)
    ap.add_argument("--url", default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from balancedbio.config import load_config
    from balancedbio.knowledge.graph import KnowledgeGraph
    from balancedbio.knowledge.toy import build_toy_graph
    from balancedbio.models import resolve_model
    from balancedbio.synth import generate as gen
    from balancedbio.synth.pools import Closures, Pools
    from balancedbio.synth.teacher import TeacherStream, open_teacher_client
    from balancedbio.synth.teacher_schema import first_json_object
    from balancedbio.synth.validate import Validator

    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="teacher-quality-"))
    graph = KnowledgeGraph.open(build_toy_graph(tmp / "kg"))
    base = [f"num_examples={args.slots}", "seed=0", "test_fraction=0.0", "max_attempts=1"]

    print("template generation", flush=True)
    t0 = time.perf_counter()
    tm = gen.generate_dataset(load_config(gen.SynthConfig, None, base), tmp / "template", graph=graph)
    rows_t = [json.loads(x) for x in open(tmp / "template" / "train.jsonl")]
    drops_t = {k: v for k, v in tm["drops"].items() if k != "slot_exhausted"}
    template = summary(rows_t, len(rows_t) + sum(v for k, v in drops_t.items() if k != "no_seed"), drops_t)
    template["seconds"] = round(time.perf_counter() - t0, 1)

    print("teacher generation", flush=True)
    proc = None
    url, model = args.url, args.model
    if url is None:
        model = str(resolve_model("default"))
        proc, url = start_server(model, 1, ["--continuous-batching"])
    try:
        cfg = load_config(gen.SynthConfig, None, base + ["backend=openai", "llm.role=teacher", f"llm.url={url}",
                                                         f"llm.model={model}", f"llm.max_new_tokens={args.max_tokens}",
                                                         "llm.temperature=0.7", "llm.concurrency=4"])
        t0 = time.perf_counter()
        pools = Pools.load(graph, seed=0, test_fraction=0.0)
        closures, validator = Closures(pools), Validator(graph)
        client = open_teacher_client(cfg.llm)
        drops: dict[str, int] = {}
        stream = TeacherStream(cfg, client, pools, closures, validator, weights=dict(cfg.mix), drops=drops,
                               seen=set(), to_row=lambda item, slot, side: gen.to_row(
                                   item, slot, cfg, side, graph.sources, f"teacher:{model}"))
        rows_l = [r for slot, cap in enumerate(stream.caps) if (r := stream.row_for(slot, cap)) is not None]
        raw = list(client.cache.data.values())
        stream.close()
        teacher = summary(rows_l, len(raw), drops)
        teacher["seconds"] = round(time.perf_counter() - t0, 1)
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)

    def parses(text: str) -> bool:
        try:
            first_json_object(text)
            return True
        except Exception:                      # noqa: BLE001 - LLMError: not JSON
            return False

    print("answerability filter", flush=True)
    template["answerability"] = answerability(rows_t)
    teacher["answerability"] = answerability(rows_l)
    teacher["raw_answers"] = {"n": len(raw), "json_objects": sum(map(parses, raw)),
                              "distinct_4gram_ratio": four_gram_ratio(raw), "words": lengths(raw)}
    result = {"benchmark": "synth_teacher_quality", "machine": f"{os.uname().machine} {os.cpu_count()} CPUs",
              "load_avg_before": [round(x, 2) for x in load_before], "slots": args.slots, "seed": 0,
              "graph": "toy", "teacher_model": "SmolLM2-135M-Instruct (default)" if args.url is None else model,
              "teacher_server": "transformers serve --continuous-batching" if args.url is None else url,
              "max_tokens": args.max_tokens, "template": template, "teacher": teacher,
              "load_avg_after": [round(x, 2) for x in os.getloadavg()]}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
