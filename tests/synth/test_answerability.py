"""Source2Synth curation: the tuning slice, the LoRA tuning on it, the filter of the rest and its counts."""

from __future__ import annotations

import hashlib
import json
import types
from collections import Counter

import pytest
import torch

from balancedbio.config import load_config
from balancedbio.errors import ConfigError
from balancedbio.synth import answerability as ans
from balancedbio.synth.curate import answer_prompt, read_jsonl
from balancedbio.synth.generate import SynthConfig, generate_dataset

N = 24


def _cfg(*over: str) -> SynthConfig:
    return load_config(SynthConfig, None, [f"num_examples={N}", "test_fraction=0.3", *over])


def _hash_score(row, completion):
    """A stand-in judge that depends on every sampled token: a different model or prompt flips it."""
    ok = hashlib.sha256(f"{row['id']}|{completion}".encode()).digest()[0] % 2 == 0
    return types.SimpleNamespace(correct=ok, value=float(ok))


@pytest.fixture(scope="module")
def unfiltered(toy_graph, tmp_path_factory):
    out = tmp_path_factory.mktemp("unfiltered") / "data"
    generate_dataset(_cfg(), out, graph=toy_graph)
    return {s: list(read_jsonl(out / f"{s}.jsonl")) for s in ("train", "test")}


def test_slice_ids_are_deterministic_sized_and_order_free():
    ids = [f"mkgsg-0-{i:07d}" for i in range(40)]
    chosen = ans.slice_ids(ids, 0.25, seed=0)
    assert len(chosen) == 10 and chosen <= set(ids)
    assert ans.slice_ids(list(reversed(ids)), 0.25, seed=0) == chosen
    assert ans.slice_ids(ids, 0.25, seed=1) != chosen
    assert ans.slice_ids(ids, 0.0, seed=0) == set() and len(ans.slice_ids(ids, 0.01, seed=0)) == 1


def test_facts_context_names_the_entities_before_the_question(toy_graph, unfiltered):
    row = unfiltered["train"][0]
    msg = answer_prompt(row, ans.facts_context(toy_graph))
    facts, question = msg["content"].split("\n\n", 1)
    assert question == row["messages"][0]["content"] and facts.startswith("Facts:\n- ")
    subject = toy_graph.entity(row["facts"][0]["subject"]).name
    assert subject in facts and row["facts"][0]["subject"] not in facts
    assert answer_prompt(row) == row["messages"][0]


def test_slice_is_tuned_on_and_kept_the_rest_filtered_and_the_counts_add_up(toy_graph, tmp_path, monkeypatch,
                                                                         unfiltered, tiny_model_dir):
    tuned, judged = [], []

    def fake_tune(acfg, seed, rows, work, context):
        tuned.extend(rows)
        data = [answer_prompt(r, context)["content"] for r in rows]
        assert all(d.startswith("Facts:\n") for d in data)          # with_facts reaches the tuning rows
        return tiny_model_dir, {"rows": len(rows), "steps": acfg.finetune_steps}

    class FakeFilter:
        def __init__(self, model, **kw):
            assert model == str(tiny_model_dir) and kw["context"] is not None

        def filter(self, rows):
            for row in rows:
                judged.append(row)
                yield row, hashlib.sha256(row["id"].encode()).digest()[0] % 2 == 0

    monkeypatch.setattr(ans, "tune_on_slice", fake_tune)
    monkeypatch.setattr(ans, "AnswerabilityFilter", FakeFilter)
    cfg = _cfg("answerability.enabled=true", "answerability.finetune_slice=0.25", "answerability.with_facts=true")
    m = generate_dataset(cfg, tmp_path / "o", graph=toy_graph)
    raw = unfiltered["train"] + unfiltered["test"]
    tuned_ids, judged_ids = [r["id"] for r in tuned], [r["id"] for r in judged]
    assert len(tuned_ids) == round(0.25 * len(unfiltered["train"]))
    assert set(tuned_ids) <= {r["id"] for r in unfiltered["train"]}          # never a test row
    assert not set(tuned_ids) & set(judged_ids)                                # disjoint
    assert sorted(tuned_ids + judged_ids) == sorted(r["id"] for r in raw)     # together: every row once
    out = {s: list(read_jsonl(tmp_path / "o" / f"{s}.jsonl")) for s in ("train", "test")}
    out_ids = {r["id"] for s in out for r in out[s]}
    assert set(tuned_ids) <= out_ids                                           # slice rows kept
    a = m["answerability"]
    assert a["slice"] == {"rows": len(tuned_ids), "steps": 30} and a["with_facts"] is True
    assert a["kept"] + a["dropped"] == len(judged_ids) and a["dropped"] == m["drops"]["unanswerable"] > 0
    assert len(out_ids) == len(tuned_ids) + a["kept"] == m["num_examples"]
    by_cap = a["by_capability"]
    assert sum(c["slice"] for c in by_cap.values()) == len(tuned_ids)
    written = Counter(r["capability"] for s in out for r in out[s])
    for cap, c in by_cap.items():
        assert c["slice"] + c["kept"] == written[cap]
        assert c["slice"] + c["kept"] + c["dropped"] == Counter(r["capability"] for r in raw)[cap]
        assert c["drop_rate"] == round(c["dropped"] / (c["kept"] + c["dropped"]), 4)
        assert m["counts"]["by_capability"]["train"][cap] + m["counts"]["by_capability"]["test"][cap] == written[cap]
    assert not (tmp_path / "o" / "answerability").exists() and not (tmp_path / "o" / "raw").exists()


def _nll(model, tok, rows) -> float:
    from balancedbio.prompts import encode_conversation

    total = count = 0.0
    with torch.no_grad():
        for row in rows:
            ids, labels = encode_conversation(tok, row["messages"])
            out = model(torch.tensor([ids]), labels=torch.tensor([labels]))
            n = sum(x != -100 for x in labels) - 1
            total, count = total + out.loss.item() * n, count + n
    return total / count


def test_tuning_on_the_slice_trains_a_lora_copy_and_lowers_its_loss(tiny_model_dir, tmp_path, unfiltered):
    from balancedbio.models import load_model

    rows = unfiltered["train"][:4]
    acfg = load_config(SynthConfig, None, [f"answerability.model={tiny_model_dir}", "answerability.enabled=true",
                                           "answerability.finetune_steps=4", "answerability.finetune_lr=1e-2",
                                           "answerability.finetune_batch_size=4"]).answerability
    final, info = ans.tune_on_slice(acfg, 0, rows, tmp_path / "a", None)
    assert (final / "adapter_config.json").is_file() and info["rows"] == 4 and info["steps"] == 4
    assert info["last_loss"] < info["first_loss"]
    base, tok = load_model(tiny_model_dir)
    tuned, _ = load_model(final)
    tuned = tuned.merge_and_unload()
    base_sd, tuned_sd = base.state_dict(), tuned.state_dict()
    changed = [k for k in base_sd if not torch.equal(base_sd[k], tuned_sd[k])]
    assert any("q_proj" in k for k in changed)
    assert _nll(tuned, tok, rows) < _nll(base, tok, rows) - 0.1      # measured here, not the trainer's log
    assert ans.tune_on_slice(acfg, 0, rows, tmp_path / "a", None)[1] == info      # a finished tuning is reused


def _untuned_reference(model_dir, rows, *, tries, max_new_tokens, seed):
    """The filter as it was before slice tuning: the question alone, the row's own seed, k samples."""
    from balancedbio.models import load_model
    from balancedbio.prompts import build_prompt_ids
    from balancedbio.scoring import score

    model, tok = load_model(model_dir)
    kept = []
    for row in rows:
        ids = build_prompt_ids(tok, [row["messages"][0]])
        torch.manual_seed(seed + int(hashlib.blake2b(row["id"].encode(), digest_size=4).hexdigest(), 16))
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=0.7,
                                 top_p=0.95, num_return_sequences=tries, max_new_tokens=max_new_tokens,
                                 pad_token_id=tok.pad_token_id or tok.eos_token_id)
        if any(score(row, tok.decode(s[ids.shape[1]:], skip_special_tokens=True)).correct for s in out):
            kept.append(row)
    return kept


def test_slice_zero_is_the_untuned_filter_byte_for_byte(toy_graph, tmp_path, monkeypatch, unfiltered, tiny_model_dir):
    monkeypatch.setattr("balancedbio.scoring.score", _hash_score)
    cfg = _cfg("answerability.enabled=true", f"answerability.model={tiny_model_dir}", "answerability.tries=2",
               "answerability.max_new_tokens=4")
    m = generate_dataset(cfg, tmp_path / "o", graph=toy_graph)
    assert m["answerability"]["slice"] is None and m["answerability"]["with_facts"] is False
    for split in ("train", "test"):
        expect = _untuned_reference(tiny_model_dir, unfiltered[split], tries=2, max_new_tokens=4, seed=0)
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in expect)
        assert (tmp_path / "o" / f"{split}.jsonl").read_text() == text, split
    assert 0 < m["answerability"]["kept"] < N


@pytest.mark.slow
def test_a_run_killed_while_tuning_resumes_to_the_uninterrupted_bytes(toy_graph, tmp_path, monkeypatch,
                                                                     tiny_model_dir):
    from transformers import TrainerCallback

    import balancedbio.train.sft as sft

    monkeypatch.setattr("balancedbio.scoring.score", _hash_score)
    cfg = _cfg("answerability.enabled=true", f"answerability.model={tiny_model_dir}", "answerability.tries=2",
               "answerability.max_new_tokens=4", "answerability.finetune_slice=0.3", "answerability.finetune_steps=3",
               "answerability.finetune_lr=1e-2")
    straight = generate_dataset(cfg, tmp_path / "straight", graph=toy_graph)

    class Killed(Exception):
        pass

    class KillAfterFirstCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            raise Killed

    real = sft.train_sft
    monkeypatch.setattr(sft, "train_sft", lambda c, resume=False: real(c, resume=resume,
                                                                      callbacks=[KillAfterFirstCheckpoint()]))
    with pytest.raises(Killed):
        generate_dataset(cfg, tmp_path / "data", graph=toy_graph)
    tune = tmp_path / ".data.partial" / "answerability" / "tune"
    assert (tune / "checkpoint-1").is_dir() and not (tune / "final").exists()
    monkeypatch.setattr(sft, "train_sft", real)
    resumed = generate_dataset(cfg, tmp_path / "data", graph=toy_graph, resume=True)
    for split in ("train", "test"):
        assert (tmp_path / "data" / f"{split}.jsonl").read_bytes() == \
            (tmp_path / "straight" / f"{split}.jsonl").read_bytes(), split
    assert resumed["answerability"] == straight["answerability"]
    assert straight["answerability"]["slice"]["steps"] == 3


@pytest.mark.parametrize("over,key", [
    (["answerability.finetune_slice=0.95"], "answerability.finetune_slice"),
    (["answerability.finetune_slice=0.3"], "answerability.finetune_slice"),          # filter not enabled
    (["answerability.with_facts=true"], "answerability.with_facts"),
    (["answerability.enabled=true", "answerability.finetune_steps=0"], "answerability.finetune_steps"),
    (["answerability.enabled=true", "answerability.finetune_lr=0"], "answerability.finetune_lr"),
    (["answerability.enabled=true", "answerability.model=/no/such/model"], "answerability.model"),
    (["answerability.enabled=true", "answerability.finetune_slice=0.5", "num_examples=1"],
     "answerability.finetune_slice"),
])
def test_bad_answerability_settings_fail_in_one_line_before_any_work(toy_graph, tmp_path, over, key):
    with pytest.raises(ConfigError) as exc:
        generate_dataset(_cfg(*over), tmp_path / "o", graph=toy_graph)
    assert key in str(exc.value) and "\n" not in str(exc.value)
    assert not (tmp_path / ".o.partial").exists() and not (tmp_path / "o").exists()


def test_the_cli_names_the_bad_key_and_exits_2(toy_graph, tmp_path, capsys):
    from balancedbio.cli import main

    g = str(toy_graph.path.parent)
    for dry in ([], ["--dry-run"]):
        assert main(["synth", "-n", "8", "-o", str(tmp_path / "o"), "--graph", g, *dry,
                     "answerability.finetune_slice=0.3"]) == 2
        err = capsys.readouterr().err.strip()
        assert "answerability.finetune_slice" in err and "answerability.enabled=true" in err and "\n" not in err
    assert not (tmp_path / "o").exists() and not (tmp_path / ".o.partial").exists()
