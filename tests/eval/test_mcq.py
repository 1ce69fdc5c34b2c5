import dataclasses
from pathlib import Path

import pytest
import torch

from balancedbio.eval.datasets import MCQItem, load_medmcqa, load_medqa, load_mmlu, load_pubmedqa
from balancedbio.eval.mcq import (
    accuracy_summary,
    encode_item,
    format_question,
    prediction_record,
    score_mcq,
    subject_prefix,
)
from balancedbio.eval.mcq_prompts import PROMPT_FORMATS, build_context

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
OPTS = {"A": "a", "B": "b", "C": "c", "D": "d"}


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from balancedbio.models import load_model

    torch.manual_seed(0)
    return load_model(tiny_model_dir, dtype="float32")


def test_prompt_format_matches_mmlu_convention():
    it = MCQItem("x", "medical_genetics", " Q?\n", OPTS, "B")
    assert format_question(it) == "Q?\nA. a\nB. b\nC. c\nD. d\nAnswer:"  # lm-eval: question.strip()
    assert subject_prefix("medical_genetics", [it]) == (
        "The following are multiple choice questions (with answers) about medical genetics.\n\n"
        "Q?\nA. a\nB. b\nC. c\nD. d\nAnswer: B\n\n")


def test_prompt_formats_of_the_other_benchmarks():
    medqa = MCQItem("m", "medqa", "Q?", OPTS, "C", prompt_format="medqa")
    medmcqa = MCQItem("c", "Anatomy", "Q?", OPTS, "A", prompt_format="medmcqa")
    pub = MCQItem("p", "pubmedqa", "Q?", {"A": "yes", "B": "no", "C": "maybe"}, "C", context="s1\ns2",
                  prompt_format="pubmedqa")
    assert build_context(PROMPT_FORMATS["medqa"], medqa) == "Question: Q?\nA. a\nB. b\nC. c\nD. d\nAnswer:"
    assert build_context(PROMPT_FORMATS["medmcqa"], medmcqa) == (
        "Question: Q?\nChoices:\nA. a\nB. b\nC. c\nD. d\nAnswer:")
    assert build_context(PROMPT_FORMATS["pubmedqa"], pub, [pub]) == (
        "Abstract: s1\ns2\nQuestion: Q?\nAnswer: maybe\n\nAbstract: s1\ns2\nQuestion: Q?\nAnswer:")
    assert [PROMPT_FORMATS["pubmedqa"].continuation(pub, c) for c in "ABC"] == [" yes", " no", " maybe"]


def test_token_ids_are_the_whole_string_tokenization(default_tokenizer):
    """The header's "\n\n" followed by the question is two "\n" tokens (198, 198), never one (1116)."""
    tok = default_tokenizer
    it = MCQItem("x", "anatomy", "Which bone is the longest?",
                 {"A": "Humerus", "B": "Femur", "C": "Tibia", "D": "Fibula"}, "B")
    ctx, conts = encode_item(tok, it)
    assert ctx == [504, 1695, 359, 2701, 4187, 2029, 365, 3659, 5360, 25, 563, 16209, 30, 198, 198, 14413, 4914,
                   314, 260, 15019, 47, 198, 49, 30, 10085, 259, 376, 198, 50, 30, 12835, 315, 198, 51, 30,
                   12828, 542, 198, 52, 30, 24681, 3773, 198, 21350, 42]
    assert conts == {"A": [330], "B": [389], "C": [340], "D": [422]}
    assert tok(subject_prefix("anatomy"))["input_ids"][-1] == 1116  # tokenized alone the header would end in "\n\n"
    items = load_mmlu(FIX / "mmlu", "test", ["anatomy", "medical_genetics"]).items
    shots = load_mmlu(FIX / "mmlu", "dev", ["anatomy", "medical_genetics"]).by_subject()
    for it in items:
        for k in (0, 1):
            text = subject_prefix(it.subject, shots[it.subject][:k]) + format_question(it)
            ctx, conts = encode_item(tok, it, shots[it.subject][:k])
            assert ctx == tok(text)["input_ids"]
            assert all(tok(text + " " + c)["input_ids"] == ctx + conts[c] for c in it.choices)


def reference_logprobs(model, tok, context, conts):
    """Independent slow path: whole-string context + each continuation, summed log p from full logits."""
    out = {}
    ctx = tok(context)["input_ids"]
    for c, cont in conts.items():
        ids = tok(context + cont)["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
        out[c] = float(sum(logp[p - 1, ids[p]] for p in range(len(ctx), len(ids))))
    return out


@pytest.mark.parametrize("share_prefix", [True, False])
@pytest.mark.parametrize("k", [0, 1])
def test_batched_scores_equal_one_by_one_reference(tiny, share_prefix, k):
    model, tok = tiny
    items = load_mmlu(FIX / "mmlu", "test", ["anatomy", "medical_genetics"]).items
    shots = load_mmlu(FIX / "mmlu", "dev", ["anatomy", "medical_genetics"]).by_subject()
    # small batch budget so several batches with padding are exercised
    preds = score_mcq(model, tok, items, shots=shots, k=k, batch_tokens=128, max_batch=2,
                      share_prefix=share_prefix, progress=False)
    assert [p.id for p in preds] == [it.id for it in items]
    for it, p in zip(items, preds):
        text = subject_prefix(it.subject, shots[it.subject][:k]) + format_question(it)
        ref = reference_logprobs(model, tok, text, {c: " " + c for c in it.choices})
        assert p.logprobs == pytest.approx(ref, abs=2e-4)
        assert p.pred == max(ref, key=ref.get)


def test_five_option_items(tiny):
    model, tok = tiny
    it = MCQItem("m", "medqa", "Q?", {k: k.lower() for k in "ABCDE"}, "E")
    (p,) = score_mcq(model, tok, [it], progress=False)
    assert set(p.logprobs) == set("ABCDE")


def test_multi_token_continuations_are_summed(tiny):
    model, tok = tiny
    items = load_pubmedqa(FIX / "ori_pqal.json").items
    preds = score_mcq(model, tok, items, batch_tokens=256, max_batch=2, progress=False)
    for it, p in zip(items, preds):
        text = build_context(PROMPT_FORMATS["pubmedqa"], it)
        ref = reference_logprobs(model, tok, text, {c: " " + v for c, v in it.choices.items()})
        assert p.logprobs == pytest.approx(ref, abs=2e-4)
        assert prediction_record(p)["pred"] == max(ref, key=ref.get)


def test_agrees_with_lm_eval_number_for_number(tiny, tmp_path):
    """lm-eval 0.4's own tasks (prompts, few-shot sampler, HFLM tokenization) on the same items."""
    from lm_eval_reference import lm_eval_loglikelihoods

    model, tok = tiny
    mmlu = load_mmlu(FIX / "mmlu", "test", ["anatomy", "medical_genetics"]).items
    shots = load_mmlu(FIX / "mmlu", "dev", ["anatomy", "medical_genetics"]).by_subject()
    cases = [(mmlu, 0), (mmlu, 1), (load_pubmedqa(FIX / "ori_pqal.json").items, 0),
             ([it for it in load_medqa(FIX / "medqa.jsonl").items if len(it.choices) == 4], 0),
             (load_medmcqa(FIX / "medmcqa.jsonl").items, 0)]
    for n, (items, k) in enumerate(cases):
        ref = lm_eval_loglikelihoods(model, tok, items, tmp_path / str(n), k=k, shots=shots)
        for p in score_mcq(model, tok, items, shots=shots, k=k, batch_tokens=128, max_batch=2, progress=False):
            assert p.logprobs == pytest.approx(ref[p.id], abs=1e-4), (p.id, k)
            assert p.pred == max(ref[p.id], key=ref[p.id].get)


@pytest.mark.parametrize("kind", ["medqa", "medmcqa", "pubmedqa"])
def test_random_fewshot_agrees_with_lm_eval(tiny, tmp_path, kind):
    """2-shot PubMedQA / MedQA / MedMCQA: lm-eval's own yaml (train split, default sampler, seed 1234).

    Every question's few-shot context string, its token ids and each option's log-likelihood equal
    lm-eval's, so the shots are the same questions in the same order, question after question.
    """
    from lm_eval.models.huggingface import HFLM
    from lm_eval_reference import lm_eval_samples

    from balancedbio.eval.fewshot import random_shots

    model, tok = tiny
    loaded = {"medqa": lambda: [it for it in load_medqa(FIX / "medqa.jsonl").items if len(it.choices) == 4],
              "medmcqa": lambda: load_medmcqa(FIX / "medmcqa.jsonl").items,
              "pubmedqa": lambda: load_pubmedqa(FIX / "ori_pqal.json").items}[kind]()
    def variant(it, i, split):  # a distinct solved question of the same format (the fixtures are small)
        return dataclasses.replace(it, id=f"{split}{i}", question=f"{it.question} ({split} {i})",
                                   answer=list(it.choices)[i % len(it.choices)])

    train = [variant(loaded[i % len(loaded)], i, "train") for i in range(5)]
    items = [variant(loaded[i % len(loaded)], i, "test") for i in range(4)]
    ref = lm_eval_samples(model, tok, items, tmp_path, k=2, train=train)
    per_item = random_shots(train, len(items), 2)
    assert len({tuple(s.id for s in shots) for shots in per_item}) > 1  # the shots change from question to question
    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=1)
    fmt = PROMPT_FORMATS[kind]
    for it, shots in zip(items, per_item):
        ctx, conts = encode_item(tok, it, shots)
        assert build_context(fmt, it, shots) == ref[it.id]["context"], it.id
        for letter, cont in conts.items():
            assert fmt.continuation(it, letter) == ref[it.id]["continuations"][letter]
            assert (ctx, cont) == tuple(lm._encode_pair(ref[it.id]["context"], ref[it.id]["continuations"][letter]))
    for p in score_mcq(model, tok, items, k=2, item_shots=per_item, batch_tokens=128, max_batch=2, progress=False):
        assert p.logprobs == pytest.approx(ref[p.id]["loglikelihoods"], abs=1e-4), p.id


def test_accuracy_summary_macro_micro():
    from balancedbio.eval.mcq import MCQPrediction

    preds = [MCQPrediction("1", "a", "A", "A", {}), MCQPrediction("2", "a", "A", "B", {}),
             MCQPrediction("3", "a", "B", "B", {}), MCQPrediction("4", "b", "C", "D", {})]
    s = accuracy_summary(preds)
    assert s["micro"] == pytest.approx(2 / 4)
    assert s["macro"] == pytest.approx((2 / 3 + 0) / 2)
    assert s["subjects"]["a"] == {"accuracy": pytest.approx(2 / 3), "n": 3}


@pytest.mark.slow
def test_default_model_shared_prefix_matches_full_prompts(default_model_dir, mmlu_dir):
    from balancedbio.models import load_model

    model, tok = load_model(default_model_dir, dtype="float32")
    items = load_mmlu(mmlu_dir, "test", ["medical_genetics"]).items[:8]
    shots = load_mmlu(mmlu_dir, "dev", ["medical_genetics"]).by_subject()
    shared = score_mcq(model, tok, items, shots=shots, k=5, share_prefix=True, progress=False)
    full = score_mcq(model, tok, items, shots=shots, k=5, share_prefix=False, progress=False)
    for a, b in zip(shared, full):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-3)
