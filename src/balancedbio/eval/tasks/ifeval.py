"""IFEval (Zhou et al., arXiv 2311.07911): 541 prompts, 25 verifiable instruction types, judged by the IFEval verifiers.

Items come from the official ``input_data.jsonl`` (``Source.path``), or the hub (``hub`` for
``google/IFEval``, ``hub:<id>``, or the id itself) with ``Source.allow_download``; IFEval is not on PyPI,
so there is no default.
"""

from __future__ import annotations

from balancedbio.eval import ifeval
from balancedbio.eval.tasks.base import Source, Task, register


def load(source: Source) -> list[ifeval.IFSample]:
    path = ifeval.hub_source(source.path, ifeval.IFEVAL_HUB_ID)
    return ifeval.load_ifeval(path or None, allow_download=source.allow_download, limit=source.limit)


TASK = register(Task(
    "ifeval", "instruction", "generate", load, ifeval.user_prompt, ifeval.judge, ifeval.metrics,
    headline="prompt_level_strict_acc",
    published="IFEval prompt-level strict accuracy, zero-shot, greedy, as in the IFEval paper (Zhou et al., 2023)",
    description="IFEval, 541 prompts with verifiable instructions (official input_data.jsonl)",
))
