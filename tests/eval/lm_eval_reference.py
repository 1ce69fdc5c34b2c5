"""lm-evaluation-harness 0.4 run on our items: its own task definitions, its own HFLM, our local data.

Each benchmark's lm-eval yaml is included as installed (prompt, choices, few-shot sampler); only the
dataset is replaced by a local JSON file written in the hub copy's schema, so the comparison needs no
network. Used by the tests and by ``benchmarks/mcq_lm_eval_compare.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from balancedbio.eval.datasets import MCQItem

_YAML = {"mmlu": "mmlu/default/mmlu_{subject}.yaml", "medqa": "medqa/medqa.yaml",
         "medmcqa": "medmcqa/medmcqa.yaml", "pubmedqa": "pubmedqa/pubmedqa.yaml"}


def _record(it: MCQItem) -> dict[str, Any]:
    letters = list(it.choices)
    if it.prompt_format == "mmlu":
        return {"question": it.question, "subject": it.subject, "choices": list(it.choices.values()),
                "answer": letters.index(it.answer)}
    if it.prompt_format == "medqa":
        return {"sent1": it.question, **{f"ending{i}": v for i, v in enumerate(it.choices.values())},
                "label": letters.index(it.answer)}
    if it.prompt_format == "medmcqa":
        opts = list(it.choices.values())
        return {"question": it.question, "opa": opts[0], "opb": opts[1], "opc": opts[2], "opd": opts[3],
                "cop": letters.index(it.answer)}
    return {"QUESTION": it.question, "CONTEXTS": it.context.split("\n"), "final_decision": it.choices[it.answer]}


def lm_eval_loglikelihoods(model: Any, tokenizer: Any, items: Sequence[MCQItem], workdir: Path, *, k: int = 0,
                           shots: Mapping[str, Sequence[MCQItem]] | None = None,
                           batch_size: int = 8) -> dict[str, dict[str, float]]:
    """item id -> letter -> lm-eval's log-likelihood of that option, for items of one prompt format."""
    return {i: s["loglikelihoods"] for i, s in
            lm_eval_samples(model, tokenizer, items, workdir, k=k, shots=shots, batch_size=batch_size).items()}


def lm_eval_samples(model: Any, tokenizer: Any, items: Sequence[MCQItem], workdir: Path, *, k: int = 0,
                    shots: Mapping[str, Sequence[MCQItem]] | None = None, train: Sequence[MCQItem] | None = None,
                    batch_size: int = 8) -> dict[str, dict[str, Any]]:
    """item id -> {"context": lm-eval's context, "continuations": letter -> continuation,
    "loglikelihoods": letter -> log-likelihood}.

    With ``train``, the task keeps its yaml's few-shot setup (``training_split: train``, the default
    sampler, the default few-shot seed) and ``train`` is its training split; otherwise the shots are the
    first k of ``shots[subject]`` (lm-eval's ``first_n`` over a dev split, as MMLU).
    """
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    tasks_root = Path(lm_eval.__file__).parent / "tasks"
    workdir.mkdir(parents=True, exist_ok=True)
    by_subject: dict[str, list[MCQItem]] = {}
    for it in items:  # one lm-eval task per MMLU subject; one task in all for the train-split benchmarks
        by_subject.setdefault(it.subject if train is None else "", []).append(it)
    names = {}
    for n, (subject, its) in enumerate(by_subject.items()):
        fmt = its[0].prompt_format
        files = {"test": workdir / f"{n}_test.json"}
        files["test"].write_text(json.dumps([_record(it) for it in its]))
        if train is not None:
            files["train"] = workdir / f"{n}_train.json"
            files["train"].write_text(json.dumps([_record(s) for s in train]))
            split_keys = "test_split: test\ntraining_split: train\nvalidation_split: null\n"
        else:
            files["dev"] = workdir / f"{n}_dev.json"  # the few-shot pool (lm-eval's mmlu reads it even at 0-shot)
            files["dev"].write_text(json.dumps([_record(s) for s in ((shots or {}).get(subject) or its)]))
            split_keys = ("test_split: test\nfewshot_split: dev\nfewshot_config:\n  sampler: first_n\n"
                          "training_split: null\nvalidation_split: null\n")
        name = f"bbref_{n}"
        names[name] = its
        include = tasks_root / _YAML[fmt].format(subject=subject)
        (workdir / f"{name}.yaml").write_text(
            f"include: {include}\ntask: {name}\ntag: []\ndataset_path: json\ndataset_name: null\n"
            f"dataset_kwargs:\n  data_files:\n" + "".join(f"    {s}: {p}\n" for s, p in files.items()) + split_keys)
    tm = TaskManager(include_path=str(workdir), include_defaults=False)
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
    results = lm_eval.simple_evaluate(model=lm, tasks=list(names), num_fewshot=k, task_manager=tm,
                                      log_samples=True, bootstrap_iters=0)
    out: dict[str, dict[str, Any]] = {}
    for name, its in names.items():
        samples = sorted(results["samples"][name], key=lambda s: s["doc_id"])
        for it, s in zip(its, samples):
            lls = [r[0] for r in s["filtered_resps"]]
            args = [_pair(a) for a in s["arguments"]]
            assert len({a[0] for a in args}) == 1, "one context per question"
            out[it.id] = {"context": args[0][0], "continuations": dict(zip(it.choices, (a[1] for a in args))),
                          "loglikelihoods": dict(zip(it.choices, (float(x) for x in lls)))}
    return out


def _pair(arg: Any) -> tuple[str, str]:
    """(context, continuation) of one logged request (a tuple, or lm-eval's ``{"arg_0", "arg_1"}`` dict)."""
    if isinstance(arg, dict):
        return arg["arg_0"], arg["arg_1"]
    return arg[0], arg[1]
