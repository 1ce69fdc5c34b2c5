"""MedQA with chain-of-thought: the model reasons in free text, then commits to a letter.

The question and its options go in one user turn with the instruction to think step by step and end
with ``Answer: X``; the completion is generated (greedy by default) and the committed letter read by
:func:`balancedbio.scoring.answers.extract_choice` - the extractor the GRPO rewards use. A completion
committing to no letter counts as wrong (and is counted as unparseable). Source: as the ``medqa`` entry.
"""

from balancedbio.eval.datasets import load_medqa
from balancedbio.eval.tasks._mcq import cot_judge, cot_metric, cot_prompt, mcq_loader
from balancedbio.eval.tasks.base import Task, register

TASK = register(Task(
    "medqa_cot", "reasoning", "generate", mcq_loader("medqa", load_medqa), cot_prompt, cot_judge, cot_metric,
    headline="accuracy",
    published="MedQA USMLE 4-option, accuracy, zero-shot chain-of-thought with the answer letter extracted "
              "(the setting of Med-PaLM / GPT-4 medical reports; our prompt)",
    description=__doc__.splitlines()[0]))
