import json
from pathlib import Path

import pytest

from balancedbio.config import load_config
from balancedbio.errors import DataError
from balancedbio.eval import suite as suite_mod
from balancedbio.eval.suite import EvalSuiteConfig, run_suite

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "eval"


def small_cfg(**over):
    base = [f"mmlu_dir={FIX / 'mmlu'}", "mmlu_subjects=[anatomy, medical_genetics]", "mcq.shots=[0, 1]",
            "generation.max_new_tokens=4", "bootstrap=50", "progress=false"]
    return load_config(EvalSuiteConfig, None, base + [f"{k}={v}" for k, v in over.items()])


@pytest.fixture(scope="module")
def tiny_pair(tiny_model_dir):
    from balancedbio.models import load_model

    return load_model(tiny_model_dir, dtype="float32")


def test_config_file_loads():
    cfg = load_config(EvalSuiteConfig, Path(__file__).resolve().parents[2] / "configs" / "eval.yaml")
    assert cfg.mcq.shots == [0, 5] and "safety" in cfg.tasks


def test_suite_end_to_end_with_baseline(tmp_path, tiny_pair, toy_graph):
    cfg = small_cfg()
    rep = run_suite(cfg, tiny_pair, tmp_path / "out", baseline=tiny_pair, synth_test=FIX / "synth_test.jsonl",
                    graph=toy_graph)
    out = tmp_path / "out"
    for name in ("report.json", "report.md", "benchmarks.png", "mmlu_subjects.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert not (out / "capabilities_radar.png").exists()  # near-zero values: a radar would not read
    saved = json.loads((out / "report.json").read_text())
    assert saved["headline"] == rep["headline"]
    benches = rep["models"]["model"]["benchmarks"]
    assert set(benches) == {"mmlu_medical_0shot", "mmlu_medical_1shot"}
    mm = benches["mmlu_medical_0shot"]["metric"]
    assert mm["n"] == 5 and 0.0 <= mm["accuracy"] <= 1.0
    lines = [json.loads(x) for x in (out / "predictions.model.mmlu_medical_1shot.jsonl").read_text().splitlines()]
    assert len(lines) == 5 and set(lines[0]) >= {"id", "subject", "gold", "pred", "logprobs"}
    assert sum(x["correct"] for x in lines) / 5 == benches["mmlu_medical_1shot"]["metric"]["accuracy"]
    assert all(x["pred"] == max(x["logprobs"], key=x["logprobs"].get) for x in lines)
    # the random tiny model cannot answer: generative rows are scored wrong and counted as unparseable
    reasoning = rep["models"]["model"]["reasoning"]
    assert reasoning["n"] == 2 and reasoning["accuracy"] == 0.0 and reasoning["unparseable"] == 2
    assert rep["models"]["model"]["instruction"]["n_prompts"] == 2
    # same model as baseline: the paired delta is exactly zero
    for cap in ("expertise", "reasoning", "instruction", "integration"):
        d = rep["headline"][cap]["delta"]
        assert d["value"] == 0.0 and d["ci95"] == [0.0, 0.0], cap
    assert rep["skipped_rows"]["mmlu_medical"]["count"] == 2 and rep["skipped_rows"]["synthetic"]["count"] == 2
    md = (out / "report.md").read_text()
    assert "| expertise |" in md and "delta (paired)" in md and "Skipped input rows" in md
    assert "## Expertise: benchmarks" in md and "## Reasoning: benchmarks" in md
    assert "| synthetic test split (ours) |" in md and "as lm-eval 0.4's mmlu tasks" in md
    assert "safety" in rep["models"]["model"]
    assert len(rep["data"]["mmlu_medical"]["sha256"]) == 16 and rep["data"]["synthetic"]["n_rows"] == 7


def test_gold_answers_score_full_marks_through_the_suite(tmp_path, tiny_pair, toy_graph, monkeypatch):
    """With generation replaced by the fixture's gold answers, every generative capability is 100%."""
    from balancedbio.eval.datasets import load_synth_rows

    rows, _ = load_synth_rows(FIX / "synth_test.jsonl")
    gold = {r["messages"][0]["content"]: r["messages"][-1]["content"] for r in rows}
    monkeypatch.setattr(suite_mod, "generate_batch",
                        lambda model, tok, convs, cfg, **kw: [gold[c[-1]["content"]] for c in convs])
    cfg = small_cfg(tasks="[reasoning, instruction, integration, safety]")
    rep = run_suite(cfg, tiny_pair, tmp_path / "gold", synth_test=FIX / "synth_test.jsonl", graph=toy_graph)
    for cap in ("reasoning", "instruction", "integration"):
        assert rep["headline"][cap]["model"]["value"] == 1.0, cap
    safety = rep["models"]["model"]["safety"]
    assert safety["claims"]["refuted"] == 0 and safety["claims"]["supported"] >= 1
    assert rep["headline"]["expertise"]["model"] is None


def test_finished_parts_are_reused_after_a_crash(tmp_path, tiny_pair, monkeypatch):
    cfg = small_cfg(tasks="[expertise, reasoning]")
    out = tmp_path / "crash"

    def boom(*a, **k):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(suite_mod, "generate_batch", boom)
    with pytest.raises(RuntimeError):
        run_suite(cfg, tiny_pair, out, synth_test=FIX / "synth_test.jsonl")
    assert (out / "parts" / "model.bench.mmlu_medical_0shot.json").is_file()
    assert (out / "predictions.model.mmlu_medical_1shot.jsonl").is_file()
    assert not (out / "report.json").exists()
    # second run: expertise comes from disk (scoring it again would fail), reasoning now works
    monkeypatch.setattr(suite_mod, "score_mcq", boom)
    monkeypatch.setattr(suite_mod, "generate_batch", lambda model, tok, convs, cfg, **kw: ["Answer: FBN1"] * len(convs))
    rep = run_suite(cfg, tiny_pair, out, synth_test=FIX / "synth_test.jsonl")
    assert rep["models"]["model"]["reasoning"]["accuracy"] == 0.5


def test_strict_mode_stops_on_malformed_rows(tmp_path, tiny_pair):
    with pytest.raises(DataError, match=r"anatomy_test.csv:3"):
        run_suite(small_cfg(strict="true"), tiny_pair, tmp_path / "s")


def test_safety_skipped_without_graph(tmp_path, tiny_pair, isolated_home, monkeypatch):
    monkeypatch.setattr(suite_mod, "generate_batch", lambda model, tok, convs, cfg, **kw: ["x"] * len(convs))
    rep = run_suite(small_cfg(tasks="[reasoning, safety]"), tiny_pair, tmp_path / "ns", synth_test=FIX / "synth_test.jsonl")
    assert "kg build" in rep["models"]["model"]["safety"]["skipped"]


def test_registry_benchmarks_run_with_predictions(tmp_path, tiny_pair, monkeypatch):
    """PubMedQA by option log-likelihood and MedQA with chain-of-thought, from their released formats."""
    replies = {"B": "The gene is fibrillin.\nAnswer: B", "E": "Hmm."}
    monkeypatch.setattr(suite_mod, "generate_batch",
                        lambda model, tok, convs, cfg, **kw: [replies["B"], replies["E"]][:len(convs)])
    cfg = small_cfg(tasks="[expertise, reasoning]", **{"mcq.shots": "[0]", "benchmarks.pubmedqa": FIX / "ori_pqal.json",
                                                        "benchmarks.medqa_cot": FIX / "medqa.jsonl"})
    out = tmp_path / "reg"
    rep = run_suite(cfg, tiny_pair, out)
    benches = rep["models"]["model"]["benchmarks"]
    assert set(benches) == {"mmlu_medical_0shot", "pubmedqa_0shot", "medqa_cot"}
    assert benches["pubmedqa_0shot"]["n"] == 3 and rep["skipped_rows"]["pubmedqa"]["count"] == 1
    cot = benches["medqa_cot"]["metric"]
    assert cot["n"] == 2 and cot["accuracy"] == 0.5 and cot["unparseable"] == 1
    rows = [json.loads(x) for x in (out / "predictions.model.medqa_cot.jsonl").read_text().splitlines()]
    assert [(r["gold"], r["pred"], r["correct"]) for r in rows] == [("B", "B", True), ("B", None, False)]
    pub = [json.loads(x) for x in (out / "predictions.model.pubmedqa_0shot.jsonl").read_text().splitlines()]
    assert [set(r["logprobs"]) for r in pub] == [{"A", "B", "C"}] * 3
    tables = {e["benchmark"]: e for e in rep["benchmarks"]["reasoning"]}
    assert tables["medqa_cot"]["model"]["value"] == 0.5 and tables["medqa_cot"]["model"]["n"] == 2
    assert "chain-of-thought" in tables["medqa_cot"]["published"]


def test_unknown_benchmark_and_hub_without_flag_fail_before_work(tmp_path, tiny_pair):
    with pytest.raises(DataError, match=r"unknown benchmark 'medqa_5'; known: .*medqa"):
        run_suite(small_cfg(**{"benchmarks.medqa_5": "x.jsonl"}), tiny_pair, tmp_path / "u")
    with pytest.raises(DataError, match=r"^GBaker/MedQA-USMLE-4-options-hf: reading the hub dataset needs --allow-download"):
        run_suite(small_cfg(**{"benchmarks.medqa": "hub"}), tiny_pair, tmp_path / "h")
    assert not (tmp_path / "u").exists() and not (tmp_path / "h").exists()


def test_a_crash_keeps_the_finished_benchmarks(tmp_path, tiny_pair, monkeypatch):
    cfg = small_cfg(tasks="[expertise, reasoning]", **{"mcq.shots": "[0]", "benchmarks.medqa_cot": FIX / "medqa.jsonl"})
    out = tmp_path / "partial"

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(suite_mod, "generate_batch", boom)
    with pytest.raises(KeyboardInterrupt):
        run_suite(cfg, tiny_pair, out)
    assert (out / "parts" / "model.bench.mmlu_medical_0shot.json").is_file()
    assert (out / "predictions.model.mmlu_medical_0shot.jsonl").is_file()
    assert not (out / "predictions.model.medqa_cot.jsonl").exists() and not (out / "report.json").exists()


def test_ifeval_through_the_suite_matches_the_official_results(tmp_path, tiny_pair, monkeypatch):
    """IFEval from the registry, generation replaced by GPT-4's released responses: per prompt, the
    suite's strict verdicts are the official ones, and the report's table carries n and a CI."""
    ifeval_dir = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ifeval"
    if not ifeval_dir.is_dir():
        pytest.skip("../shared/data/ifeval not present")
    gpt4 = {}
    for line in (ifeval_dir / "input_response_data_gpt4_20231107_145030.jsonl").read_text().splitlines():
        r = json.loads(line)
        gpt4[r["prompt"]] = r["response"]
    official = [json.loads(x) for x in (ifeval_dir / "official_eval_results_gpt4_strict.jsonl").read_text().splitlines()]
    monkeypatch.setattr(suite_mod, "generate_batch",
                        lambda model, tok, convs, cfg, **kw: [gpt4[c[-1]["content"]] for c in convs])
    cfg = small_cfg(tasks="[instruction]", limit=25, **{"benchmarks.ifeval": ifeval_dir / "input_data.jsonl"})
    rep = run_suite(cfg, tiny_pair, tmp_path / "if")
    bench = rep["models"]["model"]["benchmarks"]["ifeval"]
    want = {r["prompt"]: r["follow_all_instructions"] for r in official}
    rows = [json.loads(x) for x in (tmp_path / "if" / "predictions.model.ifeval.jsonl").read_text().splitlines()]
    inputs = [json.loads(x) for x in (ifeval_dir / "input_data.jsonl").read_text().splitlines()][:25]
    assert len(rows) == 25
    assert [r["follow_all_strict"] for r in rows] == [want[i["prompt"]] for i in inputs]
    assert [r["completion"] for r in rows] == [gpt4[i["prompt"]] for i in inputs]
    (entry,) = [e for e in rep["benchmarks"]["instruction"] if e["benchmark"] == "ifeval"]
    assert entry["model"]["n"] == 25 and entry["model"]["value"] == bench["metric"]["prompt_level_strict_acc"]
    assert entry["model"]["ci95"][0] <= entry["model"]["value"] <= entry["model"]["ci95"][1]
    assert "as in the IFEval paper" in entry["published"]


def test_benchmark_fewshot_samples_the_training_split_as_lm_eval(tmp_path, tiny_pair):
    """benchmark_shots=[0, 2]: the suite's 2-shot PubMedQA predictions are score_mcq's with lm-eval's
    sampler over benchmark_train (the number-for-number check against lm-eval is in test_mcq.py)."""
    from balancedbio.eval.datasets import load_pubmedqa
    from balancedbio.eval.fewshot import random_shots
    from balancedbio.eval.mcq import score_mcq

    cfg = small_cfg(tasks="[expertise]", **{"mcq.shots": "[0]", "benchmark_shots": "[0, 2]",
                                           "benchmarks.pubmedqa": FIX / "ori_pqal.json",
                                           "benchmark_train.pubmedqa": FIX / "ori_pqal.json"})
    out = tmp_path / "fs"
    rep = run_suite(cfg, tiny_pair, out)
    benches = rep["models"]["model"]["benchmarks"]
    assert {"pubmedqa_0shot", "pubmedqa_2shot"} <= set(benches) and benches["pubmedqa_2shot"]["shots"] == 2
    items = load_pubmedqa(FIX / "ori_pqal.json").items
    want = score_mcq(*tiny_pair, items, k=2, item_shots=random_shots(items, len(items), 2), progress=False)
    rows = [json.loads(x) for x in (out / "predictions.model.pubmedqa_2shot.jsonl").read_text().splitlines()]
    assert [r["logprobs"] for r in rows] == [pytest.approx(p.logprobs, abs=1e-4) for p in want]


def test_benchmark_fewshot_without_training_split_fails_before_work(tmp_path, tiny_pair):
    with pytest.raises(DataError, match=r"^pubmedqa: few-shot needs its training split: set benchmark_train.pubmedqa"):
        run_suite(small_cfg(**{"benchmark_shots": "[2]", "benchmarks.pubmedqa": FIX / "ori_pqal.json"}),
                  tiny_pair, tmp_path / "n")
    with pytest.raises(DataError, match=r"needs at least 5 training questions, the file has 3"):
        run_suite(small_cfg(**{"benchmark_shots": "[5]", "benchmarks.pubmedqa": FIX / "ori_pqal.json",
                               "benchmark_train.pubmedqa": FIX / "ori_pqal.json"}), tiny_pair, tmp_path / "s")
    with pytest.raises(DataError, match=r"^benchmark_train.medqa: medqa is not in benchmarks"):
        run_suite(small_cfg(**{"benchmark_train.medqa": FIX / "medqa.jsonl"}), tiny_pair, tmp_path / "m")
    assert not any((tmp_path / d).exists() for d in ("n", "s", "m"))
