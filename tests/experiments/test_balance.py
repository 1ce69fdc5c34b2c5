"""Smoke run of experiments/balance.py: base + NLL on a tiny random model, the toy graph, tiny sizes.

Checks the results schema of issue 19 and that a run interrupted in the middle of an arm's measures,
then rerun, reuses every finished piece and ends with exactly the results of an uninterrupted run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "experiments"))

import balance  # noqa: E402
import balance_measures  # noqa: E402

IFEVAL_ROWS = [  # IFEval's input format; instructions whose verifiers need no NLTK data
    {"key": 1, "prompt": "Say hello without commas.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
    {"key": 2, "prompt": "Answer in lowercase.", "instruction_id_list": ["change_case:english_lowercase"],
     "kwargs": [{}]},
    {"key": 3, "prompt": "Wrap your answer in double quotes.", "instruction_id_list": ["startend:quotation"],
     "kwargs": [{}]},
    {"key": 4, "prompt": "End with 'Is there anything else?'", "instruction_id_list": ["startend:end_checker"],
     "kwargs": [{"end_phrase": "Is there anything else?"}]},
]


def _args(tmp: Path, model: Path, ifeval: Path) -> list[str]:
    return [f"output_root={tmp}", "name=smoke", f"model={model}", "arms=[base,nll]", "seeds=[0]",
            "kg={toy: true}", "synth={num_examples: 40, test_fraction: 0.3}", "knowledge_facts=8",
            "mmlu_limit=1", f"ifeval_input={ifeval}", "ifeval_prompts=3", "ifeval_max_new_tokens=6",
            "synth_per_capability=2", "synth_max_new_tokens=6", "bootstrap=50",
            "sft={model: {use_lora: false}, train: {max_steps: 2, batch_size: 2, grad_accum: 1, max_length: 96, "
            "gradient_checkpointing: false, report_to: [none], save_steps: 1, warmup_ratio: 0}}"]


@pytest.mark.slow
def test_balance_smoke_schema_and_resume(tmp_path, tiny_model_dir, monkeypatch):
    ifeval = tmp_path / "input_data.jsonl"
    ifeval.write_text("".join(json.dumps(r) + "\n" for r in IFEVAL_ROWS))
    args = _args(tmp_path, tiny_model_dir, ifeval)
    out = tmp_path / "balance.json"

    # interrupted: the trained arm's knowledge measure dies after its other measures are written
    real = balance_measures.knowledge
    calls = []

    def dies_on_second_model(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(balance_measures, "knowledge", dies_on_second_model)
    with pytest.raises(KeyboardInterrupt):
        balance.main(["--output", str(out), *args])
    assert not out.exists()
    res = tmp_path / "smoke" / "results"
    assert (res / "base" / "knowledge.json").is_file()          # base finished every measure
    assert (res / "nll-s0" / "synth.json").is_file() and not (res / "nll-s0" / "knowledge.json").exists()
    stamps = {p: p.stat().st_mtime_ns for p in res.rglob("*.json")}
    subset = (tmp_path / "smoke" / "data" / "ifeval_subset.jsonl").read_text()

    monkeypatch.setattr(balance_measures, "knowledge", real)
    assert balance.main(["--output", str(out), *args]) == 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # finished pieces were reused, not redone
    assert (tmp_path / "smoke" / "data" / "ifeval_subset.jsonl").read_text() == subset
    report = json.loads(out.read_text())
    assert report["partial"] is False and report["missing"] == []
    cost = report["compute_seconds"]   # every piece counted, whichever pass wrote it
    assert set(cost["per_model"]) == {"base", "nll-s0"} and cost["per_model"]["nll-s0"]["training"] > 0
    assert cost["total_s"] == pytest.approx(sum(sum(r.values()) for r in cost["per_model"].values()), abs=0.2)
    assert out.with_suffix(".png").stat().st_size > 0
    table = out.with_suffix(".md").read_text()
    assert "| mmlu_medical |" in table and "nll" in table.splitlines()[0]
    for key in ("config", "seeds", "git_commit", "machine", "wall_clock_s_this_sitting", "power"):
        assert key in report
    assert report["data"]["ifeval_subset"]["keys"] and len(report["data"]["ifeval_subset"]["keys"]) == 3
    nll = report["results"]["nll"]
    for metric in ("mmlu_medical", "ifeval_prompt_strict", "ifeval_inst_loose", "synth_expertise",
                   "synth_reasoning", "synth_instruction", "synth_integration", "hallucination", "contradiction",
                   "knowledge_heldout"):
        entry = nll[metric]
        assert set(entry) >= {"score", "ci", "n", "delta_vs_base", "delta_ci"}, metric
        assert entry["n"] > 0 and len(entry["ci"]) == 2 and len(entry["delta_ci"]) == 2
        assert 0.0 <= entry["score"] <= 1.0
        assert entry["delta_vs_base"] == pytest.approx(entry["score"] - report["results"]["base"][metric]["score"])
    assert nll["mmlu_medical"]["n"] == 6 and nll["knowledge_heldout"]["n"] == 8
    assert nll["synth_expertise"]["n"] == 2 and nll["per_seed"]["0"]["mmlu_medical"]["n"] == 6
    assert report["answers"]["nll-s0"]["ifeval"]["n"] == 3 and report["answers"]["base"]["synth"]["n"] == 8
    assert "| nll-s0 | ifeval | 3 |" in table
    cats = report["ifeval_by_category"]["nll-s0"]    # the 3 drawn prompts' instructions, by category
    drawn = {r["key"]: r for r in IFEVAL_ROWS}
    keys = report["data"]["ifeval_subset"]["keys"]
    assert sum(n for n, _ in cats.values()) == 3 and set(cats) == {
        drawn[k]["instruction_id_list"][0].split(":")[0] for k in keys}
    assert sum(ok for _, ok in cats.values()) == round(3 * nll["ifeval_inst_strict"]["score"])

    # an uninterrupted run in a fresh directory gives the same numbers
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    out2 = fresh / "balance.json"
    assert balance.main(["--output", str(out2), *_args(fresh, tiny_model_dir, ifeval)]) == 0
    def scores(r: dict) -> dict:  # the measured numbers (training times and paths differ between runs)
        return {arm: {k: v for k, v in entry.items() if k != "training"} for arm, entry in r["results"].items()}

    assert scores(json.loads(out2.read_text())) == scores(report)
    assert report["results"]["nll"]["training"]["0"]["summary"]["global_step"] == 2

    # the finished pieces carried to a new machine (a fresh run directory, results_dir pointing at them):
    # nothing is trained or measured again, and the report is the same
    carried = tmp_path / "carried"
    carried.mkdir()
    pieces = fresh / "smoke" / "results"
    assert json.loads((pieces / "nll-s0" / "training.json").read_text())["summary"]["global_step"] == 2

    def must_not_run(*a, **k):
        raise AssertionError("a finished arm was trained or measured again")

    monkeypatch.setattr(balance, "train_arm", must_not_run)
    monkeypatch.setattr(balance_measures, "knowledge", must_not_run)
    out3 = carried / "balance.json"
    carried_args = [*_args(carried, tiny_model_dir, ifeval), f"results_dir={pieces}"]
    assert balance.main(["--output", str(out3), *carried_args]) == 0
    again = json.loads(out3.read_text())
    assert scores(again) == scores(json.loads(out2.read_text())) and again["partial"] is False
    assert again["results"]["nll"]["training"]["0"]["summary"]["global_step"] == 2
    # other training settings are another arm: it is trained again
    with pytest.raises(AssertionError, match="trained or measured again"):
        balance.main(["--output", str(out3), *[a.replace("warmup_ratio: 0}", "warmup_ratio: 0.1}")
                                                for a in carried_args]])


def test_balance_bad_config_is_one_line(tmp_path, capsys):
    assert balance.main([f"output_root={tmp_path}", "ifeval_input=", "measures=[mmlu,ifeval]"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ifeval_input" in err[0]
    assert balance.main([f"output_root={tmp_path}", "measures=[mmlu]", "sft={train: {lr: oops}}"]) == 2
    assert "sft.train.lr" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing written before the config is valid


@pytest.mark.slow
def test_prepared_data_on_a_machine_without_the_graph(tmp_path, tiny_model_dir, capsys):
    """--prepare-only writes the data once; --prepared runs without the kg and synth stages (a GPU machine
    without the knowledge packages or the graph): the synth answers are judged there, and the graph flags
    are added where the graph is, equal to those of a run that had it. --train-only trains and measures nothing."""
    ifeval = tmp_path / "input_data.jsonl"
    ifeval.write_text("".join(json.dumps(r) + "\n" for r in IFEVAL_ROWS))
    args = [a for a in _args(tmp_path, tiny_model_dir, ifeval)] + ["measures=[synth]"]
    run = tmp_path / "smoke"
    assert balance.main(["--prepared", *args]) == 2                       # nothing prepared yet: one line
    assert "--prepare-only" in capsys.readouterr().err
    assert balance.main(["--prepare-only", *args]) == 0
    prepared = json.loads((run / "data" / "prepared.json").read_text())
    assert not (run / "results").exists() and prepared["counts"]["knowledge_facts"] == 8

    graph = Path(prepared["graph"])
    moved = graph.with_name(graph.name + ".away")
    graph.rename(moved)                                                     # the machine has no graph
    try:
        assert balance.main(["--prepared", *args, "arms=[base]", "ifeval_input="]) == 0
    finally:
        moved.rename(graph)
    blob = json.loads((run / "results" / "base" / "synth.json").read_text())
    assert "contradiction" not in blob["items"] and blob["items"]["synth_expertise"]
    assert "graph flags added later" in capsys.readouterr().out

    assert balance.main(["--prepared", "--report-only", *args, "arms=[base]"]) == 0   # where the graph is
    flagged = json.loads((run / "results" / "base" / "synth.json").read_text())
    assert set(flagged["items"]["hallucination"]) == {str(r["id"]) for r in balance.synth_rows(
        balance.load_config(balance.BalanceConfig, None, args), balance.load_prepared(
            balance.load_config(balance.BalanceConfig, None, args), run))
        if r["capability"] in ("reasoning", "integration")}

    direct = tmp_path / "direct"                                            # the same run with the graph
    direct.mkdir()
    dargs = [a.replace(str(tmp_path), str(direct)) if a.startswith("output_root=") else a for a in args]
    assert balance.main([*dargs, "arms=[base]"]) == 0
    assert json.loads((direct / "smoke" / "results" / "base" / "synth.json").read_text())["items"] == flagged["items"]

    assert balance.main(["--prepared", "--train-only", *args, "arms=[nll]"]) == 0
    assert (run / "arms" / "nll-s0" / "stages" / "bft" / "manifest.json").is_file()
    assert [p.name for p in (run / "results" / "nll-s0").iterdir()] == ["training.json"]  # trained, not measured


def test_answer_lengths_counts_words_and_loops():
    from balance_report import answer_lengths

    loop = "The gene is expressed in the liver.\nThe gene is expressed in the liver.\nEnd"
    blob = {"extra": {"completions": {"1": "one two three", "2": "a b c d e", "3": loop, "4": ""}}}
    got = answer_lengths(blob)
    assert got["n"] == 4 and got["median_words"] == 4.0
    assert got["mean_words"] == (3 + 5 + 15 + 0) / 4
    assert got["repeated_line_share"] == 0.25
    assert answer_lengths({"items": {}}) is None and answer_lengths(None) is None


def test_arms_are_also_paired_with_each_other(tmp_path):
    from balance_report import write_results

    from balancedbio.atomic import write_json

    items = {"base": [0, 0, 1, 1, 0, 1, 0, 0], "bft-s0": [1, 0, 1, 1, 0, 1, 0, 0],
             "bft_grpo-s0": [1, 1, 1, 0, 1, 1, 0, 1], "bft_cagrpo-s0": [1, 1, 1, 1, 1, 1, 1, 1]}
    for label, vals in items.items():
        write_json(tmp_path / label / "knowledge.json",
                   {"items": {"knowledge_heldout": {str(i): v for i, v in enumerate(vals)}}})
    cfg = balance.load_config(balance.BalanceConfig, None, [
        "arms=[base, bft, bft_grpo, bft_cagrpo]", "seeds=[0]", "measures=[knowledge]", f"results_dir={tmp_path}",
        "bootstrap=50"])
    report = write_results(cfg, tmp_path / "run", tmp_path / "out" / "balance.json", {})
    assert report["results"]["bft_grpo"]["knowledge_heldout"]["delta_vs_base"] == pytest.approx(6 / 8 - 3 / 8)
    c = report["contrasts"]
    assert set(c) == {"bft_grpo - bft", "bft_cagrpo - bft", "bft_cagrpo - bft_grpo"}  # no NLL arm here
    assert c["bft_grpo - bft"]["knowledge_heldout"]["delta"] == pytest.approx(6 / 8 - 4 / 8)
    assert c["bft_cagrpo - bft_grpo"]["knowledge_heldout"]["delta"] == pytest.approx(8 / 8 - 6 / 8)
    assert c["bft_grpo - bft"]["knowledge_heldout"]["n_paired"] == 8
    table = (tmp_path / "out" / "balance.md").read_text()
    assert "| knowledge_heldout | +25.0 [" in table and "bft_cagrpo - bft_grpo" in table


def _history(grads, method, steps=(0, 1)):
    """The trainer's cosine-history records for per-capability gradients ``grads`` [K, D]."""
    from balancedbio.surgery import surgery_coefficients

    gram = grads.double() @ grads.double().T
    norms = gram.diagonal().sqrt()
    return [{"step": s, "capabilities": ["expertise", "reasoning", "instruction"][:grads.shape[0]],
             "cosine": (gram / torch.outer(norms, norms)).tolist(), "grad_norms": norms.tolist(),
             "coeffs": surgery_coefficients(gram, method, seed=s).tolist()} for s in steps]


def test_surgery_effect_matches_the_combined_gradients():
    from balance_report import surgery_effect

    from balancedbio.surgery import combine_gradients

    torch.manual_seed(0)
    grads = torch.randn(3, 40, dtype=torch.float64)
    grads[1] = -0.8 * grads[0] + 0.3 * torch.randn(40, dtype=torch.float64)   # a conflicting pair
    got = surgery_effect(_history(grads, "pcgrad", steps=(0,)))
    done, plain = combine_gradients(grads, "pcgrad", seed=0), grads.sum(0)
    cos = float(done @ plain / (done.norm() * plain.norm()))
    assert got["update_cosine_vs_plain_sum"]["min"] == pytest.approx(cos, rel=1e-9) and cos < 0.99
    assert got["update_norm_ratio_vs_plain_sum"]["mean"] == pytest.approx(float(done.norm() / plain.norm()), rel=1e-9)
    pair = got["pairs"]["expertise / reasoning"]
    assert pair["negative_steps"] == 1 and pair["min"] < -0.5 and got["conflict_steps"] == 1
    assert sum(got["grad_norm_share"].values()) == pytest.approx(1.0)
    # no conflict: PCGrad leaves the plain sum as it is
    calm = surgery_effect(_history(torch.eye(3, dtype=torch.float64), "pcgrad"))
    assert calm["update_cosine_vs_plain_sum"]["min"] == pytest.approx(1.0) and calm["conflict_steps"] == 0
    assert surgery_effect([{"step": 0, "capabilities": ["expertise"], "cosine": [[1.0]], "grad_norms": [1.0],
                            "coeffs": [1.0]}]) is None


def test_capability_cosines_travel_with_the_pieces(tmp_path):
    from balance_report import COSINES, write_results

    from balancedbio.atomic import write_json

    history = _history(torch.tensor([[1.0, 0.0], [-0.5, 1.0]], dtype=torch.float64), "pcgrad")
    final = tmp_path / "run" / "arms" / "bft_cagrpo-s0" / "stages" / "grpo" / "final"
    final.mkdir(parents=True)
    write_json(final.parent / COSINES, history)
    pieces = tmp_path / "pieces"
    cfg = balance.load_config(balance.BalanceConfig, None, [
        "arms=[base, bft_cagrpo]", "seeds=[0]", "measures=[knowledge]", f"results_dir={pieces}", "bootstrap=20"])
    data = {"sft_train": str(tmp_path / "sft.jsonl"), "synth_train": str(tmp_path / "train.jsonl")}
    for name in ("sft.jsonl", "train.jsonl"):
        (tmp_path / name).write_text("{}\n")
    balance.record_training(cfg, tmp_path / "run", data, "bft_cagrpo", 0,
                            {"final_abs": str(final), "stage": "grpo", "fingerprint": "f", "seconds": 1.0})
    assert json.loads((pieces / "bft_cagrpo-s0" / COSINES).read_text()) == history
    for label in ("base", "bft_cagrpo-s0"):
        write_json(pieces / label / "knowledge.json", {"items": {"knowledge_heldout": {"0": 1, "1": 0}}})
    report = write_results(cfg, tmp_path / "elsewhere", tmp_path / "out" / "balance.json", {})
    effect = report["results"]["bft_cagrpo"]["training"]["0"]["surgery"]
    assert effect["steps"] == 2 and effect["pairs"]["expertise / reasoning"]["negative_steps"] == 2
    assert "| bft_cagrpo seed 0 | 2 | 2 | expertise / reasoning |" in (tmp_path / "out" / "balance.md").read_text()


def test_compute_seconds_sums_every_kept_piece(tmp_path):
    from balance_report import compute_seconds

    from balancedbio.atomic import write_json

    write_json(tmp_path / "base" / "mmlu.json", {"seconds": 200.0, "items": {}})
    write_json(tmp_path / "base" / "ifeval.json", {"seconds": 300.5, "items": {}})
    write_json(tmp_path / "nll-s0" / "mmlu.json", {"seconds": 190.0, "items": {}})
    got = compute_seconds(tmp_path, ["base", "nll-s0", "nll-s1"], ["mmlu", "ifeval"],
                          {"nll-s0": 1600.0, "nll-s1": None})
    assert got["per_model"] == {"base": {"mmlu": 200.0, "ifeval": 300.5}, "nll-s0": {"training": 1600.0, "mmlu": 190.0}}
    assert (got["training_s"], got["measures_s"], got["total_s"]) == (1600.0, 690.5, 2290.5)
