"""MedMCQA (Pal et al., CHIL 2022), Indian medical entrance questions, lm-eval's way.

Log-likelihood of the answer letter after lm-eval 0.4's ``medmcqa`` prompt (``Question: ... Choices:
A. ... Answer:``), zero- or k-shot (k solved training questions drawn per question by lm-eval's
default sampler: :mod:`balancedbio.eval.fewshot`; the training split is ``Source.train``).
Source: a MedMCQA JSONL (``cop`` 1-4 as released or 0-3 as on the hub) or
``hub`` (``openlifescienceai/medmcqa``, validation split, 4,183 questions; allow_download).
"""

from balancedbio.eval.datasets import load_medmcqa
from balancedbio.eval.tasks._mcq import mcq_judge, mcq_loader, mcq_metric, mcq_prompt, mcq_train_loader
from balancedbio.eval.tasks.base import Task, register

TASK = register(Task(
    "medmcqa", "expertise", "loglikelihood", mcq_loader("medmcqa", load_medmcqa), mcq_prompt, mcq_judge,
    mcq_metric, headline="accuracy",
    published="MedMCQA validation set, accuracy, zero- or k-shot, as lm-eval 0.4's medmcqa task",
    description=__doc__.splitlines()[0], fewshot=mcq_train_loader("medmcqa", load_medmcqa), fewshot_sampler="random"))
