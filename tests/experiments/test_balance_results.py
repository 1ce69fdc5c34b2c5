"""The balance experiment's committed results and the docs that quote them agree, cell for cell.

The README's table of paired deltas and docs/methods.md's arm-against-arm contrasts are copied from
`experiments/results/balance.json`; a rerun that changes the JSON without the docs (or an edit to the docs
alone) fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

from balancedbio.report import fmt

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "experiments" / "results" / "balance.json"

README_ARMS = {"NLL": "nll", "DFT": "dft", "BFT": "bft", "BFT -> GRPO": "bft_grpo",
               "BFT -> capability-aware GRPO": "bft_cagrpo"}
README_METRICS = {"MMLU-medical": "mmlu_medical", "IFEval prompt-level strict": "ifeval_prompt_strict",
                  "IFEval instruction-level loose": "ifeval_inst_loose", "held-out facts": "knowledge_heldout",
                  "synthetic instruction following": "synth_instruction", "synthetic reasoning": "synth_reasoning",
                  "synthetic integration": "synth_integration",
                  "graph contradictions, lower is better": "contradiction"}


def _table(text: str, first_header: str) -> tuple[list[str], list[list[str]]]:
    """The markdown table whose first header cell starts with `first_header`: (headers, rows)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].startswith(first_header):
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append([c.strip() for c in row.strip().strip("|").split("|")])
            return cells, rows
    raise AssertionError(f"no table headed {first_header!r}")


def _delta(e: dict, key: str) -> str:
    return f"{100 * e[key]:+.1f} [{fmt(e['delta_ci'][0])}, {fmt(e['delta_ci'][1])}]"


def test_results_cover_every_arm_and_seed():
    report = json.loads(RESULTS.read_text())
    assert report["partial"] is False and report["missing"] == []
    assert set(report["arms"]) == {"base", "nll", "dft", "bft", "bft_grpo", "bft_cagrpo"}
    for arm in report["arms"][1:]:
        for metric in report["metrics"]:
            assert report["results"][arm][metric]["seeds"] == report["seeds"] == [0, 1], (arm, metric)


def test_readme_table_is_the_pooled_results():
    report = json.loads(RESULTS.read_text())
    section = (REPO / "README.md").read_text().split("## What the methods do at this size", 1)[1]
    headers, rows = _table(section, "metric, seeds 0+1 pooled")
    arms = [README_ARMS[h] for h in headers[1:]]
    assert len(rows) == len(README_METRICS)
    for row in rows:
        label, base = row[0].rsplit(" (base ", 1)
        metric = README_METRICS[label]
        assert base == f"{fmt(report['results']['base'][metric]['score'])}%)", row[0]
        for arm, cell in zip(arms, row[1:], strict=True):
            assert cell == _delta(report["results"][arm][metric], "delta_vs_base"), (metric, arm)


def test_methods_contrast_table_is_the_pooled_contrasts():
    report = json.loads(RESULTS.read_text())
    section = (REPO / "docs" / "methods.md").read_text().split("### BFT and DFT against NLL", 1)[1]
    headers, rows = _table(section, "metric, seeds 0+1 pooled")
    assert headers[1:] == ["bft - nll", "dft - nll"]
    assert sorted(r[0].split(" (")[0] for r in rows) == sorted(m for m in report["metrics"] if m != "hallucination")
    for row in rows:
        metric = row[0].split(" (")[0]
        for contrast, cell in zip(headers[1:], row[1:], strict=True):
            assert cell == _delta(report["contrasts"][contrast][metric], "delta"), (metric, contrast)
