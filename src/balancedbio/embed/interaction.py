"""Gene-gene interaction prediction from text embeddings (BFT paper, arXiv 2511.21075; docs/embeddings.md).

Each gene has one embedding (of its profile text). A pair (a, b) becomes the symmetric feature vector
``[e_a * e_b, |e_a - e_b|]``; a scikit-learn logistic regression predicts interaction, scored by AUROC and
AUPRC with percentile-bootstrap confidence intervals over the test pairs.

Two splits, both reported:
- ``pair``: pairs are split at random (stratified); a test pair's genes may appear in training pairs.
- ``gene``: genes are split; training pairs have both genes in the training genes, test pairs both genes
  in the held-out genes (pairs across the two are dropped), so the test measures genes never seen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from balancedbio.errors import DataError

SPLITS = ("gene", "pair")


def pair_features(ea: np.ndarray, eb: np.ndarray) -> np.ndarray:
    """[N, H], [N, H] -> [N, 2H]: elementwise product and absolute difference (order-invariant)."""
    return np.concatenate([ea * eb, np.abs(ea - eb)], axis=1).astype(np.float32)


def split_by_pair(labels: np.ndarray, *, test_frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified random split of pair indices -> (train_idx, test_idx)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    tr, te = train_test_split(idx, test_size=test_frac, random_state=seed, stratify=labels)
    return np.sort(tr), np.sort(te)


def split_by_gene(pairs: Sequence[tuple[str, str]], *, test_frac: float,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split genes; keep pairs entirely inside one side -> (train_idx, test_idx)."""
    genes = sorted({g for p in pairs for g in p})
    rng = np.random.default_rng(seed)
    test_genes = set(rng.choice(genes, size=max(1, int(round(test_frac * len(genes)))), replace=False).tolist())
    side = np.array([(a in test_genes) + (b in test_genes) for a, b in pairs])  # 0, 1 or 2 held-out genes
    return np.flatnonzero(side == 0), np.flatnonzero(side == 2)


def bootstrap_ci(y: np.ndarray, scores: np.ndarray, metric: Callable[[np.ndarray, np.ndarray], float], *,
                 n_boot: int = 500, seed: int = 0, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap CI of ``metric(y, scores)`` over resampled test pairs (degenerate draws skipped)."""
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if y[i].min() == y[i].max():
            continue
        vals.append(metric(y[i], scores[i]))
    if not vals:
        return float("nan"), float("nan")
    lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


@dataclass(frozen=True)
class PairTask:
    """Labelled, de-duplicated gene pairs."""

    pairs: tuple[tuple[str, str], ...]
    labels: np.ndarray  # [N] in {0, 1}

    @classmethod
    def build(cls, positives: Sequence[tuple[str, str]], negatives: Sequence[tuple[str, str]]) -> PairTask:
        from balancedbio.embed.genes import check_pairs

        pairs = check_pairs(list(positives) + list(negatives), source="positive and negative pairs")
        labels = np.r_[np.ones(len(positives)), np.zeros(len(negatives))].astype(np.int64)
        return cls(tuple(pairs), labels)

    def restrict(self, genes: set[str]) -> PairTask:
        keep = [i for i, (a, b) in enumerate(self.pairs) if a in genes and b in genes]
        return PairTask(tuple(self.pairs[i] for i in keep), self.labels[keep])


def evaluate_split(task: PairTask, vectors: Mapping[str, np.ndarray], *, split: str, test_frac: float = 0.25,
                   seed: int = 0, n_boot: int = 500, C: float = 1.0, max_iter: int = 500,
                   roc_points: int = 200) -> dict[str, Any]:
    """Train on one split, score the held-out pairs; returns metrics, CIs, sizes and a ROC curve."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    missing = sorted({g for p in task.pairs for g in p if g not in vectors})
    if missing:
        raise DataError(f"{len(missing)} genes in the pairs have no embedding (no profile?): "
                        + ", ".join(missing[:5]))
    if split == "gene":
        tr, te = split_by_gene(task.pairs, test_frac=test_frac, seed=seed)
    elif split == "pair":
        tr, te = split_by_pair(task.labels, test_frac=test_frac, seed=seed)
    else:
        raise DataError(f"split must be one of {SPLITS}, got {split!r}")
    y = task.labels
    for name, idx in (("training", tr), ("test", te)):
        if len(idx) == 0 or y[idx].min() == y[idx].max():
            raise DataError(f"{split} split: the {name} pairs hold only one class ({len(idx)} pairs); "
                            "use more pairs or another test fraction")
    ea = np.stack([vectors[a] for a, _ in task.pairs])
    eb = np.stack([vectors[b] for _, b in task.pairs])
    x = pair_features(ea, eb)                                   # [N, 2H]
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    clf.fit(x[tr], y[tr])
    scores = clf.predict_proba(x[te])[:, 1]
    fpr, tpr, _ = roc_curve(y[te], scores)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(roc_points, len(fpr))).astype(int))
    return {
        "split": split, "n_train": int(len(tr)), "n_test": int(len(te)),
        "test_positive_rate": float(y[te].mean()),
        "auroc": float(roc_auc_score(y[te], scores)),
        "auroc_ci": bootstrap_ci(y[te], scores, roc_auc_score, n_boot=n_boot, seed=seed),
        "auprc": float(average_precision_score(y[te], scores)),
        "auprc_ci": bootstrap_ci(y[te], scores, average_precision_score, n_boot=n_boot, seed=seed),
        "roc": {"fpr": fpr[keep].round(5).tolist(), "tpr": tpr[keep].round(5).tolist()},
    }


def random_vectors(genes: Sequence[str], dim: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """The random-vector baseline: one fixed Gaussian unit vector per gene."""
    rng = np.random.default_rng(seed)
    genes = sorted(set(genes))
    v = rng.standard_normal((len(genes), dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return dict(zip(genes, v))
