import pytest

from balancedbio.errors import DataError
from balancedbio.eval import tasks
from balancedbio.eval.tasks import Source, Task


def _task(name="tiny_echo", capability="reasoning", kind="generate"):
    def load(source: Source):
        items = [{"q": "2+2", "a": "4"}, {"q": "3+3", "a": "6"}]
        return items[:source.limit or None]

    def prompt(item):
        return [{"role": "user", "content": item["q"]}]

    def judge(item, completion):
        return {"correct": completion.strip() == item["a"]}

    def metric(judged):
        return {"accuracy": sum(j["correct"] for j in judged) / len(judged), "n": len(judged)}

    return Task(name, capability, kind, load, prompt, judge, metric, headline="accuracy",
                published="accuracy (ours)", ours=True)


def test_register_get_names_by_capability_and_run_a_task():
    task = tasks.register(_task())
    try:
        assert tasks.get("tiny_echo") is task
        assert "tiny_echo" in tasks.names()
        assert task in tasks.by_capability("reasoning")
        assert task not in tasks.by_capability("expertise")
        items = task.load(Source(limit=1))
        assert len(items) == 1
        judged = [task.judge(it, "4") for it in items]
        assert task.metric(judged)[task.headline] == 1.0
        with pytest.raises(ValueError, match="already registered"):
            tasks.register(_task())
    finally:
        tasks.unregister("tiny_echo")
    assert "tiny_echo" not in tasks.names()


def test_unknown_task_and_capability_are_one_line_errors():
    with pytest.raises(DataError, match="unknown benchmark 'nope'; known: "):
        tasks.get("nope")
    with pytest.raises(DataError, match="unknown capability 'safety'"):
        tasks.by_capability("safety")


@pytest.mark.parametrize("kw, why", [({"name": "Bad-Name"}, "task name"), ({"capability": "skill"}, "capability"),
                                     ({"kind": "rank"}, "kind")])
def test_task_fields_are_validated(kw, why):
    with pytest.raises(ValueError, match=why):
        _task(**kw)


def test_every_registered_task_is_well_formed():
    for task in tasks.all_tasks():
        assert task.headline and task.published, task.name


def test_instruction_benchmarks_are_registered_and_run_end_to_end(tmp_path):
    import json

    assert {"ifeval", "ifbench"} <= {t.name for t in tasks.by_capability("instruction")}
    ifeval = tasks.get("ifeval")
    with pytest.raises(DataError, match="IFEval prompts are not packaged"):
        ifeval.load(Source())
    data = tmp_path / "input_data.jsonl"
    data.write_text(json.dumps({"key": 7, "prompt": "No commas please.", "instruction_id_list":
                                ["punctuation:no_comma"], "kwargs": [{}]}) + "\n")
    items = ifeval.load(Source(path=str(data)))
    assert ifeval.prompt(items[0]) == [{"role": "user", "content": "No commas please."}]
    judged = [ifeval.judge(items[0], "fine"), ifeval.judge(items[0], "fine, thanks")]
    assert ifeval.metric(judged)[ifeval.headline] == 0.5


@pytest.mark.parametrize("name, source, hub_id", [("ifeval", "hub", "google/IFEval"),
                                                  ("ifeval", "hub:org/ifeval-copy", "org/ifeval-copy"),
                                                  ("ifbench", "hub", "allenai/IFBench_test")])
def test_instruction_benchmarks_read_the_hub_only_with_allow_download(name, source, hub_id):
    with pytest.raises(DataError, match=f"{hub_id}.*needs --allow-download"):
        tasks.get(name).load(Source(path=source))
