"""MedMCQA with chain-of-thought: the model reasons in free text, then commits to a letter.

Same protocol as ``medqa_cot`` (one user turn, step-by-step instruction, ``Answer: X`` read by
:func:`balancedbio.scoring.answers.extract_choice`). Source: as the ``medmcqa`` entry.
"""

from balancedbio.eval.datasets import load_medmcqa
from balancedbio.eval.tasks._mcq import cot_judge, cot_metric, cot_prompt, mcq_loader
from balancedbio.eval.tasks.base import Task, register

TASK = register(Task(
    "medmcqa_cot", "reasoning", "generate", mcq_loader("medmcqa", load_medmcqa), cot_prompt, cot_judge,
    cot_metric, headline="accuracy",
    published="MedMCQA validation, accuracy, zero-shot chain-of-thought with the answer letter extracted "
              "(our prompt)",
    description=__doc__.splitlines()[0]))
