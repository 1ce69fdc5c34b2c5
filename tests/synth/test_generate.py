"""generate_dataset on the toy graph: contract schema, grounding, balance, split, determinism, resume."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from balancedbio.config import load_config
from balancedbio.errors import ConfigError, DataError
from balancedbio.rows import ROW_KEYS
from balancedbio.scoring import parse_sections, score
from balancedbio.synth import generate as gen
from balancedbio.synth.curate import row_entities
from balancedbio.synth.generate import SynthConfig, generate_dataset
from balancedbio.synth.validate import check_schema
from balancedbio.verifiers import verifier_registry

N = 120


def _cfg(**kw):
    over = [f"{k}={v}" for k, v in {"num_examples": N, "test_fraction": 0.3, **kw}.items()]
    return load_config(SynthConfig, None, over)


@pytest.fixture(scope="module")
def dataset(toy_graph, tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "data"
    manifest = generate_dataset(_cfg(), out, graph=toy_graph)
    rows = [json.loads(line) for s in ("train", "test") for line in open(out / f"{s}.jsonl")]
    return out, manifest, rows


def test_rows_follow_the_contract(dataset):
    out, manifest, rows = dataset
    assert len(rows) == manifest["num_examples"] == N
    assert len({r["id"] for r in rows}) == N
    for r in rows:
        assert tuple(r) == ROW_KEYS and check_schema(r) is None, r["id"]
        for c in r["checks"]:
            assert verifier_registry()[c["id"]][0] in ("ifeval", "balancedbio")
        if r["capability"] == "reasoning":
            assert "step by step" in r["messages"][0]["content"]
            assert r["messages"][1]["content"].splitlines()[-1] == f"Answer: {r['answer']}"
        if r["capability"] == "integration":
            assert r["checks"][0] == {"id": "balancedbio:sections", "kwargs": {"names": ["Differential", "Work-up",
                                                                                  "Diagnosis", "Management"]}}
            # a graph with drugs adds the Management drug check (scoring/management.py)
            assert [c["id"] for c in r["checks"][1:]] in ([], ["balancedbio:management"])
            sec = parse_sections(r["messages"][1]["content"], ["Differential", "Work-up", "Diagnosis", "Management"])
            assert r["answer"] in sec["Diagnosis"]
        if r["capability"] == "instruction":
            assert r["answer"] == "" and r["answer_type"] == "free" and r["checks"]
        if r["answer_type"] == "mcq":
            assert set(r["choices"]) == set("ABCD") and r["answer"] in "ABCD"
        prov = r["provenance"]
        assert prov["validation"]["status"] == "passed" and prov["sources"] and prov["seed_triples"]


def test_reference_answers_get_full_marks_and_facts_hold(dataset, toy_graph):
    _, _, rows = dataset
    for r in rows:
        assert score(r, r["messages"][1]["content"]).value == 1.0, r["id"]
        for f in r["facts"]:
            assert toy_graph.verify(f["subject"], f["relation"], f["object"]).supported, f
            assert f["subject"].count(":") >= 1 and f["source"] in ("hpo", "mondo", "go", "icd10cm", *toy_graph.sources)
    # a wrong letter scores 0
    mcq = next(r for r in rows if r["answer_type"] == "mcq")
    wrong = next(k for k in "ABCD" if k != mcq["answer"])
    assert score(mcq, f"Answer: {wrong}").value == 0.0


def test_capabilities_are_balanced_and_split_is_entity_disjoint(dataset, toy_graph):
    out, manifest, rows = dataset
    caps = Counter(r["capability"] for r in rows)
    assert set(caps) == {"expertise", "reasoning", "instruction", "integration"}
    assert max(caps.values()) - min(caps.values()) <= 1
    split = Counter(r["split"] for r in rows)
    assert split["test"] > 0 and split["train"] > split["test"]
    assert manifest["split_audit"]["overlap"] == 0

    def cluster(c):          # map every disease id to its MONDO cluster, as the split does
        m = [x for x in toy_graph.neighbors(c, "xref_of") if x.startswith("MONDO:")]
        return sorted(m)[-1] if m else c

    train = {cluster(e) for r in rows if r["split"] == "train" for e in row_entities(r)}
    test = {cluster(e) for r in rows if r["split"] == "test" for e in row_entities(r)}
    assert test and not (train & test)


def test_manifest(dataset):
    out, manifest, _ = dataset
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert set(manifest["sources"]) >= {"hpo", "mondo", "icd10cm"}
    assert manifest["seed"] == 0 and manifest["config"]["num_examples"] == N
    assert sum(manifest["counts"]["by_capability"]["train"].values()) == manifest["counts"]["train"]
    assert isinstance(manifest["drops"], dict)
    assert not (out.parent / ".data.partial").exists()


def test_same_seed_same_bytes(toy_graph, tmp_path, dataset):
    out, _, _ = dataset
    again = tmp_path / "again"
    generate_dataset(_cfg(), again, graph=toy_graph)
    for s in ("train.jsonl", "test.jsonl"):
        assert (again / s).read_bytes() == (out / s).read_bytes()
    other = tmp_path / "other"
    generate_dataset(_cfg(seed=1), other, graph=toy_graph)
    assert (other / "train.jsonl").read_bytes() != (out / "train.jsonl").read_bytes()


def test_resume_after_crash_gives_identical_output(toy_graph, tmp_path, dataset, monkeypatch):
    out, _, _ = dataset
    dest = tmp_path / "resumed"
    calls = {"n": 0}
    real = gen.to_row

    def crashing(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 50:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(gen, "to_row", crashing)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(_cfg(), dest, graph=toy_graph)
    monkeypatch.setattr(gen, "to_row", real)
    assert not dest.exists()
    work = tmp_path / ".resumed.partial"
    with open(work / "train.jsonl", "a") as fh:
        fh.write('{"id": "torn')                      # a half-written line from the crash
    generate_dataset(_cfg(), dest, graph=toy_graph, resume=True)
    for s in ("train.jsonl", "test.jsonl"):
        assert (dest / s).read_bytes() == (out / s).read_bytes()
    # resuming a finished run returns its manifest; without --resume an existing output is an error
    assert generate_dataset(_cfg(), dest, graph=toy_graph, resume=True)["num_examples"] == N
    with pytest.raises(DataError, match="already exists"):
        generate_dataset(_cfg(), dest, graph=toy_graph)


def test_bad_config(toy_graph, tmp_path):
    with pytest.raises(ConfigError, match="num_examples"):
        load_config(SynthConfig, None, ["num_examples=0"])
    with pytest.raises(ConfigError, match="backend"):
        load_config(SynthConfig, None, ["backend=gpt"])
    with pytest.raises(DataError, match="unknown capabilities"):
        generate_dataset(_cfg(**{"mix.cooking": 1.0}), tmp_path / "x", graph=toy_graph)


def test_loads_as_hf_dataset(dataset):
    datasets = pytest.importorskip("datasets")
    out, _, _ = dataset
    ds = datasets.load_dataset("json", data_files={"train": str(out / "train.jsonl"),
                                                   "test": str(out / "test.jsonl")})
    assert ds["train"].num_rows + ds["test"].num_rows == N
    assert "messages" in ds["train"].column_names


def _lines(path):
    return path.read_bytes().splitlines(keepends=True)


@pytest.mark.parametrize("keep_train,keep_test,torn", [
    (0, 0, None), (40, 0, "train"), (0, 20, "test"), (25, 3, None), (60, 30, "test"), ("all", 7, "train"),
    (5, "all", None), ("all", "all", None)])
def test_resume_from_unevenly_flushed_files_writes_the_uninterrupted_bytes(
        toy_graph, tmp_path, dataset, keep_train, keep_test, torn):
    """Every state a kill can leave (each split file flushed to its own point, maybe a torn last line)
    resumes to the bytes and manifest counts of an uninterrupted run."""
    out, manifest, _ = dataset
    dest = tmp_path / "data"
    work = tmp_path / ".data.partial"
    work.mkdir()
    from balancedbio.atomic import write_json
    from balancedbio.config import config_hash

    write_json(work / "progress.json", {"config_hash": config_hash(_cfg())})
    for split, keep in (("train", keep_train), ("test", keep_test)):
        full = _lines(out / f"{split}.jsonl")
        n = len(full) if keep == "all" else keep
        assert n <= len(full)
        data = b"".join(full[:n])
        if torn == split and n < len(full):
            data += full[n][: len(full[n]) // 2]          # half of the next row reached the disk
        (work / f"{split}.jsonl").write_bytes(data)
    resumed = generate_dataset(_cfg(), dest, graph=toy_graph, resume=True)
    for split in ("train", "test"):
        assert (dest / f"{split}.jsonl").read_bytes() == (out / f"{split}.jsonl").read_bytes(), split
        assert resumed["counts"][split] == len(_lines(dest / f"{split}.jsonl"))
    assert resumed["counts"] == manifest["counts"] and resumed["drops"] == manifest["drops"]
    assert not work.exists()


def test_resume_refuses_files_longer_than_the_run_makes(toy_graph, tmp_path, dataset):
    out, _, _ = dataset
    work = tmp_path / ".data.partial"
    work.mkdir()
    from balancedbio.atomic import write_json
    from balancedbio.config import config_hash

    write_json(work / "progress.json", {"config_hash": config_hash(_cfg())})
    (work / "train.jsonl").write_bytes((out / "train.jsonl").read_bytes() * 2)
    with pytest.raises(DataError, match="not written by this run"):
        generate_dataset(_cfg(), tmp_path / "data", graph=toy_graph, resume=True)
    assert not (tmp_path / "data").exists()


def test_real_kill_during_generation_then_resume(toy_graph, tmp_path, dataset):
    """SIGKILL a real synth process mid-stream (the buffered files flush unevenly), then --resume."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out, _, _ = dataset
    dest = tmp_path / "data"
    work = tmp_path / ".data.partial"
    args = [sys.executable, "-c",
            "import sys, time\n"
            "from balancedbio.synth import generate as gen\n"
            "from balancedbio.knowledge.graph import KnowledgeGraph\n"
            "real = gen.to_row\n"
            "def slow(*a, **k):\n"
            "    time.sleep(0.01)\n"
            "    return real(*a, **k)\n"
            "gen.to_row = slow\n"
            "from balancedbio.config import load_config\n"
            f"cfg = load_config(gen.SynthConfig, None, ['num_examples={N}', 'test_fraction=0.3'])\n"
            f"gen.generate_dataset(cfg, {str(dest)!r}, graph=KnowledgeGraph.open({str(toy_graph.path)!r}))\n"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if (work / "train.jsonl").exists() and (work / "train.jsonl").stat().st_size > 0:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not dest.exists() and work.is_dir(), proc.stderr.read().decode()[-2000:]
    generate_dataset(_cfg(), dest, graph=toy_graph, resume=True)
    for split in ("train", "test"):
        assert (dest / f"{split}.jsonl").read_bytes() == (out / f"{split}.jsonl").read_bytes(), split


def test_llm_error_says_where_the_rows_made_so_far_are(toy_graph, tmp_path):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()                                          # a closed port: connection refused
    cfg = _cfg(backend="openai", **{"llm.url": f"http://127.0.0.1:{port}/v1", "llm.retries": 0})
    from balancedbio.errors import ModelError

    with pytest.raises(ModelError) as exc:
        generate_dataset(cfg, tmp_path / "data", graph=toy_graph)
    work = tmp_path / ".data.partial"
    assert work.is_dir() and str(work) in str(exc.value) and "--resume" in str(exc.value)
    assert "nothing half-written" not in str(exc.value)
    assert not (tmp_path / "data").exists()


def test_resume_with_the_answerability_filter_writes_the_uninterrupted_bytes(toy_graph, tmp_path, monkeypatch):
    """Generation appends to raw/ and the filter rewrites the split files from it, so a kill during
    generation or in the middle of filtering resumes to the same bytes and counts."""
    import hashlib

    from balancedbio.atomic import write_json
    from balancedbio.config import config_hash
    from balancedbio.synth import answerability

    class FakeFilter:                                     # keeps rows whose id hashes even; no model
        def __init__(self, *a, **kw):
            pass

        def filter(self, rows):
            for row in rows:
                yield row, hashlib.sha256(row["id"].encode()).digest()[0] % 2 == 0

    monkeypatch.setattr(answerability, "AnswerabilityFilter", FakeFilter)
    cfg = _cfg(**{"answerability.enabled": "true"})
    straight = tmp_path / "straight"
    manifest = generate_dataset(cfg, straight, graph=toy_graph)
    assert 0 < manifest["answerability"]["kept"] < N and manifest["drops"]["unanswerable"] > 0

    # killed during generation: raw/ flushed unevenly, a half-filtered train.jsonl from nowhere is ignored
    generate_dataset(_cfg(), tmp_path / "unfiltered", graph=toy_graph)       # what generation appends
    full = {s: _lines(tmp_path / "unfiltered" / f"{s}.jsonl") for s in ("train", "test")}
    dest = tmp_path / "data"
    work = tmp_path / ".data.partial"
    (work / "raw").mkdir(parents=True)
    write_json(work / "progress.json", {"config_hash": config_hash(cfg)})
    (work / "raw" / "train.jsonl").write_bytes(b"".join(full["train"][:30]) + full["train"][30][:40])
    (work / "raw" / "test.jsonl").write_bytes(b"".join(full["test"][:4]))
    (work / "train.jsonl").write_bytes(b"".join(full["train"][:3]))
    resumed = generate_dataset(cfg, dest, graph=toy_graph, resume=True)
    for split in ("train", "test"):
        assert (dest / f"{split}.jsonl").read_bytes() == (straight / f"{split}.jsonl").read_bytes(), split
    assert resumed["counts"] == manifest["counts"] and resumed["answerability"] == manifest["answerability"]
    assert not (dest / "raw").exists()


def test_the_toy_graph_feeds_the_therapy_templates_and_management(dataset):
    from balancedbio.synth.templates_therapy import EXPERTISE_THERAPY, REASONING_THERAPY

    _, manifest, rows = dataset
    therapy = {f.__name__ for f in EXPERTISE_THERAPY + REASONING_THERAPY}
    made = {r["provenance"]["template"] for r in rows} & therapy
    assert {"drug_target_mcq", "drug_mechanism_mcq", "anatomy_part_mcq"} & made, made
    for r in rows:
        if r["capability"] == "integration":      # the toy graph has drugs: every vignette is scored on them
            assert [c["id"] for c in r["checks"]] == ["balancedbio:sections", "balancedbio:management"]
