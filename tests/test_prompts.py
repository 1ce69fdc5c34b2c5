"""One prompt builder: generation asks with exactly the token prefix that training labels after."""

import ast
import copy
from pathlib import Path

import pytest

from balancedbio.prompts import ASSISTANT_HEAD, build_prompt_ids, encode_conversation, prompt_ids

SRC = Path(__file__).resolve().parents[1] / "src" / "balancedbio"
CONV = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Which gene is mutated in CF?"},
        {"role": "assistant", "content": "CFTR"}]


@pytest.fixture(params=["chat_template", "base_model"])
def tok(request, default_tokenizer):
    if request.param == "chat_template":
        return default_tokenizer
    t = copy.deepcopy(default_tokenizer)
    t.chat_template = None
    return t


def test_generation_prompt_is_the_training_prefix(tok):
    ids, labels = encode_conversation(tok, CONV)
    prompt = prompt_ids(tok, CONV[:-1])
    assert ids[:len(prompt)] == prompt               # token for token
    first_label = next(i for i, lab in enumerate(labels) if lab != -100)
    assert first_label == len(prompt)                # the answer's first labelled token follows the prompt
    assert build_prompt_ids(tok, CONV[:-1]).tolist() == [prompt]


def test_base_model_format_ends_with_the_assistant_head(default_tokenizer):
    t = copy.deepcopy(default_tokenizer)
    t.chat_template = None
    text = t.decode(prompt_ids(t, CONV[:-1]), skip_special_tokens=True)
    assert text == "System: Be brief.\nUser: Which gene is mutated in CF?\n" + ASSISTANT_HEAD
    assert ASSISTANT_HEAD == "Assistant: "


def test_floor_3_modules_use_the_floor_2_builder():
    for rel in ("eval/generate.py", "synth/curate.py", "synth/llm.py", "embed/profiles.py", "train/data.py"):
        tree = ast.parse((SRC / rel).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "balancedbio.chat" not in imported, rel
        assert "balancedbio.prompts" in imported, rel
