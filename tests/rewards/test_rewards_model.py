"""Model-based rewards: MiniLM similarity, a local reward model, an LLM judge behind a stub endpoint."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

from balancedbio.errors import ModelError
from balancedbio.rewards import LLMJudgeReward, RewardModelReward, SemanticSimilarityReward

MCQ = {"capability": "expertise", "answer": "B", "answer_type": "mcq",
       "choices": {"A": "Gaucher disease", "B": "Marfan syndrome", "C": "Fabry disease", "D": "Pompe disease"}}
SHORT = {"capability": "reasoning", "answer": "fibrillin 1", "aliases": ["FBN1"], "answer_type": "short"}


@pytest.fixture(scope="module")
def similarity():
    return SemanticSimilarityReward()


def test_similarity_orders_answers(similarity):
    rows = [json.dumps(r) for r in (SHORT, SHORT, SHORT, MCQ, MCQ, {"capability": "instruction", "answer": "",
                                                               "checks": [{"id": "punctuation:no_comma"}]})]
    comps = ["So...\nAnswer: FBN1", "Answer: the fibrillin-1 gene", "Answer: hemoglobin beta chain",
             "The answer is B.", "The answer is D.", "some text"]
    out = similarity(["q"] * 6, comps, row=rows)
    assert out[0] == pytest.approx(1.0, abs=1e-4)            # exact alias
    assert out[1] > out[2]                                    # paraphrase beats an unrelated answer
    assert out[3] == pytest.approx(1.0, abs=1e-4) and out[4] < 0.9   # the letter maps to its option text
    assert out[5] is None and all(0.0 <= v <= 1.0 for v in out[:5])


def test_reward_model_dir(tmp_path, tiny_model_dir):
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    cfg = AutoConfig.from_pretrained(tiny_model_dir, num_labels=1)
    model = AutoModelForSequenceClassification.from_config(cfg)
    model.save_pretrained(tmp_path / "rm")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(tmp_path / "rm")
    rm = RewardModelReward(tmp_path / "rm")
    out = rm(["q1", "q2"], ["a", "a much longer answer"])
    assert len(out) == 2 and all(0.0 < v < 1.0 for v in out)
    with pytest.raises(ModelError, match="not found"):
        RewardModelReward(tmp_path / "missing")


class _Judge(http.server.BaseHTTPRequestHandler):
    delay = 0.0
    seen_auth: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Judge.seen_auth.append(self.headers.get("Authorization"))
        time.sleep(_Judge.delay)
        reply = "7" if "Marfan" in body["messages"][0]["content"] else "2"
        data = json.dumps({"choices": [{"message": {"content": reply}}]}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def judge_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Judge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_llm_judge_scores_and_hides_key(judge_url, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", "sk-secret-123")
    _Judge.delay = 0.0
    judge = LLMJudgeReward(judge_url, "judge", api_key_env="JUDGE_KEY", timeout=5)
    out = judge(["q", "q"], ["Marfan syndrome", "no idea"], row=[json.dumps(SHORT)] * 2)
    assert out == [0.7, 0.2]
    assert _Judge.seen_auth[-1] == "Bearer sk-secret-123"


def test_llm_judge_timeout(judge_url, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", "sk-secret-123")
    _Judge.delay = 1.0
    judge = LLMJudgeReward(judge_url, "judge", api_key_env="JUDGE_KEY", timeout=0.2)
    with pytest.raises(ModelError, match="no answer within 0.2 s") as err:
        judge(["q"], ["x"], row=[json.dumps(SHORT)])
    assert "sk-secret" not in str(err.value)
    lenient = LLMJudgeReward(judge_url, "judge", timeout=0.2, on_error="none")
    assert lenient(["q"], ["x"], row=[json.dumps(SHORT)]) == [None] and lenient.failures == 1
    _Judge.delay = 0.0


def test_llm_judge_unreachable():
    judge = LLMJudgeReward("http://127.0.0.1:9/v1", "judge", timeout=1)
    with pytest.raises(ModelError, match="cannot connect"):
        judge(["q"], ["x"], row=[json.dumps(SHORT)])
