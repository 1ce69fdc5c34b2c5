"""PubMedQA (Jin et al., arXiv 1909.06146): the expert-labelled questions, yes / no / maybe, lm-eval's way.

Log-likelihood of " yes", " no", " maybe" after lm-eval 0.4's ``pubmedqa`` prompt (``Abstract: ...
Question: ... Answer:``), zero- or k-shot (k solved training questions drawn per question by lm-eval's
default sampler: :mod:`balancedbio.eval.fewshot`; the training split is ``Source.train``).
Source: ``ori_pqal.json`` (the 1,000 expert-annotated questions) or
``hub`` (lm-eval's ``bigbio/pubmed_qa`` fold-0 test split, 500 of them; allow_download).
"""

from balancedbio.eval.datasets import load_pubmedqa
from balancedbio.eval.tasks._mcq import mcq_judge, mcq_loader, mcq_metric, mcq_prompt, mcq_train_loader
from balancedbio.eval.tasks.base import Task, register

TASK = register(Task(
    "pubmedqa", "expertise", "loglikelihood", mcq_loader("pubmedqa", load_pubmedqa), mcq_prompt, mcq_judge,
    mcq_metric, headline="accuracy",
    published="PubMedQA reasoning-required setting (abstract given), accuracy, zero- or k-shot, as lm-eval 0.4's "
              "pubmedqa task (lm-eval reads the 500-question fold-0 test split; ori_pqal.json has 1,000)",
    description=__doc__.splitlines()[0], fewshot=mcq_train_loader("pubmedqa", load_pubmedqa), fewshot_sampler="random"))
