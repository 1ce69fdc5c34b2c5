"""The report's per-capability benchmark tables, the CI bar chart and when the radar is drawn."""

from balancedbio.eval.render import write_report


def _bench(task, cap, kind, shots, items):
    acc = sum(items.values()) / len(items)
    metric = {"accuracy": acc, "macro": acc, "n": len(items), "subjects": {"anatomy": {"accuracy": acc, "n": 10}}}
    return {"task": task, "capability": cap, "kind": kind, "shots": shots, "metric_name": "accuracy",
            "published": f"{task}, as published", "ours": False, "metric": metric, "n": len(items),
            "predictions": f"predictions.model.{task}.jsonl", "items": items}


def _models(values):
    """Two models; expertise from a benchmark, the three others from synthetic rows scored ``values``."""
    out = {}
    for label, v in (("model", values), ("baseline", [x / 2 for x in values])):
        n_right = round(10 * v[0])
        items = {str(i): float(i < n_right) for i in range(10)}
        res = {"model": label, "benchmarks": {
            "mmlu_medical_0shot": _bench("mmlu_medical", "expertise", "loglikelihood", 0, items),
            "medqa_cot": _bench("medqa_cot", "reasoning", "generate", 0, items)}}
        res["reasoning"] = {"items": [{"id": str(i), "correct": i < 10 * v[1]} for i in range(10)]}
        res["instruction"] = {"items": [{"id": str(i), "instructions": [i < 10 * v[2]]} for i in range(10)]}
        res["integration"] = {"items": [{"id": str(i), "value": v[3]} for i in range(10)]}
        for cap, x in zip(("reasoning", "instruction", "integration"), v[1:]):
            res[cap].update(n=10, value=x, format_ok=None, unparseable=0)
        res["instruction"].update(prompt_level_strict_acc=v[2], prompt_level_loose_acc=v[2],
                                  inst_level_strict_acc=v[2], inst_level_loose_acc=v[2])
        out[label] = res
    return out


def _report(values):
    return {"seed": 0, "seconds": 1.0, "skipped_rows": {}, "models": _models(values)}


def test_tables_per_capability_with_published_setting_and_ours(tmp_path):
    rep = write_report(_report([0.6, 0.5, 0.4, 0.8]), tmp_path, n_boot=50)
    reasoning = rep["benchmarks"]["reasoning"]
    assert [e["benchmark"] for e in reasoning] == ["medqa_cot", "synthetic test split (ours)"]
    assert reasoning[0]["model"]["value"] == 0.6 and reasoning[0]["baseline"]["value"] == 0.3
    assert reasoning[0]["delta"]["value"] == 0.3 and reasoning[0]["model"]["n"] == 10
    assert reasoning[1]["ours"] and reasoning[1]["model"]["value"] == 0.5
    md = (tmp_path / "report.md").read_text()
    assert "## Reasoning: benchmarks" in md and "| medqa_cot | accuracy | 10 | 60.0 [" in md
    assert "medqa_cot, as published" in md and "| synthetic test split (ours) |" in md
    assert (tmp_path / "benchmarks.png").is_file() and (tmp_path / "capabilities_radar.png").is_file()


def test_radar_only_where_it_reads(tmp_path):
    (tmp_path / "capabilities_radar.png").write_bytes(b"old")
    rep = write_report(_report([0.2, 0.0, 0.0, 0.05]), tmp_path, n_boot=50)
    assert not (tmp_path / "capabilities_radar.png").exists()  # one axis above 10%: two segments on a disc
    assert [p.split("/")[-1] for p in rep["plots"]] == ["benchmarks.png", "mmlu_subjects.png"]
