"""Biological-process reasoning: name the process shared by a gene set (GeneAgent, Wang et al., arXiv
2405.16205; scoring as in Hu et al., "Evaluation of large language models for discovery of gene set
function", Nature Methods 2025).

The model sees only gene symbols (no profile text, so no GO name can leak into the prompt) and answers
``Process: <name>`` plus a short rationale (optionally the answer is prefilled with ``Process:``). The
predicted name is compared with the true GO-BP name by MiniLM cosine similarity, and by the percentile rank
of the true name among all 4,828 pflex GO-BP names ranked by similarity to the prediction (1.0 = the true
name is the closest of all).

The test sample is fixed by a seed (:func:`process_test_sets`); its ids are in the report so training
data can exclude them (:func:`process_test_ids`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from balancedbio.embed.genes import GeneSet, gobp_sets

PROCESS_PROMPT = ("These human genes take part in one shared biological process: {genes}.\n"
                  "What is the name of that process? Start your reply with 'Process:' followed by the "
                  "name, then give one sentence explaining why.")
_PROCESS = re.compile(r"process\s*:\s*\**\s*(.+)", re.IGNORECASE)


def process_test_sets(n: int = 200, *, seed: int = 1234, max_genes: int = 30,
                      sets: Sequence[GeneSet] | None = None) -> list[GeneSet]:
    """A fixed, seeded sample of ``n`` GO-BP sets; sets larger than ``max_genes`` keep a seeded subset."""
    sets = list(sets if sets is not None else gobp_sets())
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(sets), size=min(n, len(sets)), replace=False).tolist())
    out = []
    for i in chosen:
        s = sets[i]
        genes = s.genes
        if len(genes) > max_genes:
            genes = tuple(sorted(rng.choice(genes, size=max_genes, replace=False).tolist()))
        out.append(GeneSet(s.id, s.name, tuple(genes)))
    return out


def process_test_ids(n: int = 200, *, seed: int = 1234) -> set[str]:
    """GO-BP set ids of the test sample: keep these out of any training data."""
    return {s.id for s in process_test_sets(n, seed=seed)}


def parse_process(text: str) -> tuple[str, bool]:
    """The process name from an answer -> (name, found a 'Process:' line). Falls back to the first line."""
    m = _PROCESS.search(text)
    if m:
        return m.group(1).strip().strip("*\"'. ").splitlines()[0][:200], True
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first[:200], False


def score_names(predicted: Sequence[str], true_idx: Sequence[int], all_names: Sequence[str], *,
                embed: Any = None) -> dict[str, Any]:
    """Cosine(pred, true) and percentile rank of the true name among ``all_names`` per prediction.

    ``embed``: texts -> L2-normalised [N, D] (default: MiniLM). Percentile = share of the other names
    that are less similar to the prediction than the true name is.
    """
    if embed is None:
        from balancedbio.embed.minilm import embed_minilm as embed

        names = cached_minilm(all_names)                        # [K, D]
    else:
        names = embed(list(all_names))
    pred = embed([p or "(no answer)" for p in predicted])       # [N, D]
    sims = pred @ names.T                                       # [N, K]
    true_idx = np.asarray(true_idx)
    true_sim = sims[np.arange(len(true_idx)), true_idx]         # [N]
    below = (sims < true_sim[:, None]).sum(1)                   # the true name itself is never below
    pct = below / max(len(all_names) - 1, 1)
    return {"cosine": true_sim.astype(float).tolist(), "percentile": pct.astype(float).tolist()}


def cached_minilm(texts: Sequence[str]) -> np.ndarray:
    """MiniLM embeddings of a fixed list (the 4,828 GO-BP names), cached on disk by content hash."""
    import hashlib

    from balancedbio.atomic import atomic_path
    from balancedbio.embed.minilm import embed_minilm
    from balancedbio.models import balancedbio_home

    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = balancedbio_home() / "embed" / "cache" / f"minilm-{digest}.npy"
    if path.is_file():
        vecs = np.load(path)
        if vecs.shape[0] == len(texts):
            return vecs
    vecs = embed_minilm(list(texts), max_length=64)
    with atomic_path(path, suffix=".npy") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, vecs)
    return vecs


ANSWER_PREFIX = "Process:"


def run_process_naming(lm: Any, tokenizer: Any, sets: Sequence[GeneSet], *, max_new_tokens: int = 48,
                       batch_size: int = 8, embed: Any = None, progress: bool = False,
                       prefill: bool = False) -> dict[str, Any]:
    """Ask the model to name each set's process; return the summary and per-set rows.

    ``prefill``: the answer starts with ``Process:`` already written, so the model's first words should be
    the name; ``format_rate`` is then None. By default the model must write the format itself and
    ``format_rate`` is the share that did. (With SmolLM2-135M the prefill did not help: the model restates
    the gene list after ``Process:`` as it does without it; docs/embeddings.md has the numbers.)
    """
    from balancedbio.embed.profiles import generate_answers

    all_sets = gobp_sets()
    all_names = [s.name for s in all_sets]
    index = {s.id: i for i, s in enumerate(all_sets)}
    prompts = [PROCESS_PROMPT.format(genes=", ".join(s.genes)) for s in sets]
    answers = generate_answers(lm, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                               progress=progress, prefix=ANSWER_PREFIX if prefill else "")
    parsed = [parse_process(a) for a in answers]
    scores = score_names([p for p, _ in parsed], [index[s.id] for s in sets], all_names, embed=embed)
    rows = [{"id": s.id, "true": s.name, "predicted": p, "format_ok": ok, "cosine": c, "percentile": q,
             "answer": a}
            for s, (p, ok), a, c, q in zip(sets, parsed, answers, scores["cosine"], scores["percentile"])]
    return {"n_sets": len(sets), "mean_cosine": float(np.mean(scores["cosine"])),
            "mean_percentile": float(np.mean(scores["percentile"])),
            "prefill": prefill, "format_rate": None if prefill else float(np.mean([ok for _, ok in parsed])),
            "rows": rows}
