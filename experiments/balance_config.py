"""Settings of the balance experiment (``experiments/balance.py``): arms, seeds, data, budgets, measures.

Every size and budget of the experiment lives here, so a config file bounds each arm's training and
evaluation. The ``sft`` and ``grpo`` sections are the recipes' own keys (configs/bft.yaml, configs/grpo.yaml);
the experiment wires in the model, data, output directory, seed and (per arm) the method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from balancedbio.config import option

# arm -> (how it is trained, what it starts from)
ARMS: dict[str, dict[str, Any]] = {
    "base": {"kind": "none"},
    "nll": {"kind": "sft", "method": "nll"},
    "dft": {"kind": "sft", "method": "dft"},
    "bft": {"kind": "sft", "method": "bft"},
    "bft_grpo": {"kind": "grpo", "from": "bft", "capability_aware": False},
    "bft_cagrpo": {"kind": "grpo", "from": "bft", "capability_aware": True},
}
MEASURES = ("mmlu", "ifeval", "synth", "knowledge")


@dataclass(frozen=True)
class BalanceConfig:
    """One balance experiment: base vs NLL vs DFT vs BFT vs BFT->GRPO vs BFT->capability-aware GRPO."""

    name: str = option("balance", "Run name; everything is written under <output_root>/<name>.")
    output_root: str = option("runs", "Directory that holds the run directory.")
    results_dir: str = option("", "Directory of the finished pieces (one file per arm, seed and measure, plus each "
                              "arm's training record); empty = <output_root>/<name>/results. Point it at a "
                              "tracked folder to carry finished pieces to another machine or sitting: an arm "
                              "whose pieces are all there is neither retrained nor measured again.")
    model: str = option("default", "Base model every arm starts from (packaged name or HF directory).")
    arms: list[str] = option(list(ARMS), "Arms to run; deltas are against base's results, which a sitting "
                             "without 'base' reuses (paired on the items both have).", choices=tuple(ARMS))
    seeds: list[int] = option([0, 1], "Training seeds of every trained arm (the base model has none).")
    data_seed: int = option(0, "Seed of the synthetic data and the knowledge facts (one training set for all).")
    measures: list[str] = option(list(MEASURES), "Measures to run.", choices=MEASURES)
    kg: dict[str, Any] = option({}, "Knowledge graph: {} (the built default graph), {path: DIR} or {toy: true}.")
    synth: dict[str, Any] = option({"num_examples": 2000, "test_fraction": 0.15},
                                   "Synthetic data (keys of configs/synth.yaml); test rows are entity-disjoint.")
    knowledge_facts: int = option(150, "HPO facts trained in one wording and asked in another "
                                  "(experiments/bft_knowledge.py), added to the SFT training set.", min=0)
    knowledge_repeats: int = option(1, "Copies of each fact's training row in the SFT set (a fact must be seen "
                                    "to be learnt; a short run sees a fraction of the rows once).", min=1)
    sft: dict[str, Any] = option({}, "Supervised arms' settings (keys of configs/bft.yaml; method set per arm).")
    grpo: dict[str, Any] = option({}, "GRPO arms' settings (keys of configs/grpo.yaml; capability_aware per arm).")
    mmlu_limit: int = option(0, "MMLU-medical questions per subject (0 = all 1,099).", min=0)
    ifeval_input: str = option("", "IFEval input_data.jsonl (the official file) or 'hub' (google/IFEval, needs "
                               "allow_download); the fixed subset is drawn from it once.")
    ifeval_prompts: int = option(150, "Prompts in the fixed IFEval subset.", min=1)
    ifeval_seed: int = option(19, "Seed that draws the IFEval subset (fixed before any arm runs).")
    ifeval_max_new_tokens: int = option(256, "Most tokens generated per IFEval answer.", min=1)
    allow_download: bool = option(False, "Allow reading IFEval from the hub.")
    synth_per_capability: int = option(50, "Synthetic test rows per capability (0 = all).", min=0)
    synth_max_new_tokens: int = option(128, "Most tokens generated per synthetic test answer.", min=1)
    batch_size: int = option(8, "Generation batch size.", min=1)
    device: str = option("auto", "Where the measures run: auto (the GPU when there is one, else the CPU), cpu, "
                         "cuda, cuda:N. Training goes where the recipes put it (the GPU when there is one).")
    bootstrap: int = option(1000, "Bootstrap resamples for every 95% interval.", min=10)
    partial_ok: bool = option(True, "Write balance.json with the results that exist (marked partial) when a "
                              "budget stops the run before every arm is measured.")
