"""MedQA (Jin et al., arXiv 2009.13081), USMLE questions with 4 options, lm-eval's way.

Log-likelihood of the answer letter after lm-eval 0.4's ``medqa_4options`` prompt (``Question: ...
A. ... Answer:``), zero- or k-shot (k solved training questions drawn per question by lm-eval's
default sampler: :mod:`balancedbio.eval.fewshot`; the training split is ``Source.train``).
Source: a MedQA JSONL (the original release or the Hugging Face copy) or
``hub`` (``GBaker/MedQA-USMLE-4-options-hf``, test split; allow_download).
"""

from balancedbio.eval.datasets import load_medqa
from balancedbio.eval.tasks._mcq import mcq_judge, mcq_loader, mcq_metric, mcq_prompt, mcq_train_loader
from balancedbio.eval.tasks.base import Task, register

TASK = register(Task(
    "medqa", "expertise", "loglikelihood", mcq_loader("medqa", load_medqa), mcq_prompt, mcq_judge, mcq_metric,
    headline="accuracy",
    published="MedQA USMLE 4-option test set (1,273 questions), accuracy, zero- or k-shot, as lm-eval 0.4's "
              "medqa_4options task",
    description=__doc__.splitlines()[0], fewshot=mcq_train_loader("medqa", load_medqa), fewshot_sampler="random"))
