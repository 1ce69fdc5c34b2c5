"""Single-cell perturbation response from gene embeddings (BFT paper, arXiv 2511.21075; docs/embeddings.md).

Input layout (an AnnData ``.h5ad``, read with ``anndata``): cells in rows of ``X`` (dense or sparse,
normalised/log expression), measured genes in ``var``, and one column of ``.obs`` (``perturbation_key``,
default ``"perturbation"``) holding the perturbed gene symbol of each cell, with the control cells
labelled ``control_label`` (default ``"control"``). Perturbseq/Norman/Replogle-style screens fit after
renaming their column (e.g. ``adata.obs["perturbation"] = adata.obs["gene"]``) and dropping
multi-gene perturbations.

Task: the delta of a perturbation is the mean expression of its cells minus the mean of the control
cells, a vector over measured genes. Perturbations are split; a ridge regression maps the perturbed gene's
embedding to its delta; on held-out perturbations we report the Pearson correlation between predicted and
true deltas (averaged over perturbations), next to the mean-shift baseline that predicts the mean
training delta for every perturbation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from balancedbio.errors import DataError


def read_screen(path: str | Path, *, perturbation_key: str = "perturbation", control_label: str = "control",
                min_cells: int = 1) -> tuple[list[str], np.ndarray, list[str]]:
    """Read a ``.h5ad`` screen -> (perturbation labels, deltas [P, G], measured gene names)."""
    try:
        import anndata
    except ImportError:
        raise DataError("perturbation data needs anndata: pip install 'balancedbio[embed]'") from None
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        adata = anndata.read_h5ad(path)
    except Exception as exc:  # noqa: BLE001 - h5py/anndata raise many types for a bad file
        raise DataError(f"{path}: not a readable .h5ad file ({str(exc).splitlines()[0][:160]})") from None
    return screen_deltas(adata, perturbation_key=perturbation_key, control_label=control_label,
                         min_cells=min_cells, source=str(path))


def screen_deltas(adata: Any, *, perturbation_key: str = "perturbation", control_label: str = "control",
                  min_cells: int = 1, source: str = "AnnData") -> tuple[list[str], np.ndarray, list[str]]:
    """Mean expression per perturbation minus the control mean -> (labels, deltas [P, G], gene names)."""
    if perturbation_key not in adata.obs.columns:
        cols = ", ".join(map(str, adata.obs.columns[:10])) or "none"
        raise DataError(f"{source}: no perturbation column {perturbation_key!r} in .obs (columns: {cols}); "
                        "set perturbation_key to the column that names each cell's perturbed gene")
    labels = adata.obs[perturbation_key].astype(str).to_numpy()
    is_ctrl = labels == control_label
    if not is_ctrl.any():
        raise DataError(f"{source}: no control cells labelled {control_label!r} in .obs[{perturbation_key!r}]")
    x = adata.X

    def mean(rows: np.ndarray) -> np.ndarray:  # works for dense and scipy-sparse X
        return np.asarray(x[rows].mean(axis=0)).ravel().astype(np.float64)

    control = mean(np.flatnonzero(is_ctrl))                    # [G]
    perts, deltas = [], []
    for p in sorted(set(labels[~is_ctrl].tolist())):
        rows = np.flatnonzero(labels == p)
        if len(rows) >= min_cells:
            perts.append(p)
            deltas.append(mean(rows) - control)
    if not perts:
        raise DataError(f"{source}: no perturbed cells (every cell is a control)")
    return perts, np.stack(deltas), [str(v) for v in adata.var_names]


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson r of [P, G] and [P, G] -> [P] (0 where a row is constant)."""
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.divide((a * b).sum(1), den, out=np.zeros(len(a)), where=den > 0)


def evaluate_perturbation(perts: list[str], deltas: np.ndarray, vectors: Mapping[str, np.ndarray], *,
                          test_frac: float = 0.25, seed: int = 0, alpha: float = 1.0) -> dict[str, Any]:
    """Ridge from embedding to delta on training perturbations; Pearson of deltas on held-out ones."""
    from sklearn.linear_model import Ridge

    missing = [p for p in perts if p not in vectors]
    if missing:
        raise DataError(f"{len(missing)} of {len(perts)} perturbed genes have no embedding (no profile?): "
                        + ", ".join(missing[:5]))
    if len(perts) < 4:
        raise DataError(f"need at least 4 perturbations to train and test, got {len(perts)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(perts))
    n_test = max(1, int(round(test_frac * len(perts))))
    te, tr = np.sort(order[:n_test]), np.sort(order[n_test:])
    x = np.stack([vectors[p] for p in perts]).astype(np.float64)  # [P, H]
    model = Ridge(alpha=alpha).fit(x[tr], deltas[tr])
    pred = model.predict(x[te])                                  # [P_test, G]
    shift = np.broadcast_to(deltas[tr].mean(0), pred.shape)      # mean-shift baseline
    r_model, r_shift = _pearson_rows(pred, deltas[te]), _pearson_rows(shift, deltas[te])
    return {"n_train": int(len(tr)), "n_test": int(len(te)), "n_measured_genes": int(deltas.shape[1]),
            "pearson_delta": float(r_model.mean()), "pearson_delta_mean_shift": float(r_shift.mean()),
            "test_perturbations": [perts[i] for i in te]}


def synthetic_screen(dest: str | Path, *, n_perturbations: int = 40, n_measured: int = 60, dim: int = 16,
                     cells: int = 12, signal: bool = True, noise: float = 0.3,
                     seed: int = 0, names: list[str] | None = None) -> tuple[Path, dict[str, np.ndarray]]:
    """Write a synthetic screen to ``dest`` (.h5ad) with gene embeddings; returns (path, embeddings).

    With ``signal`` each delta is a fixed linear map of the perturbed gene's embedding; without it the
    deltas are drawn independently of the embeddings (and with no common shift), so a model should
    score about 0 there. ``names`` labels the perturbations (default ``GENE000``, ...).
    """
    import anndata
    import pandas as pd

    from balancedbio.atomic import atomic_path

    rng = np.random.default_rng(seed)
    names = list(names) if names is not None else [f"GENE{i:03d}" for i in range(n_perturbations)]
    n_perturbations = len(names)
    emb = rng.standard_normal((n_perturbations, dim))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    if signal:
        deltas = emb @ rng.standard_normal((dim, n_measured))   # [P, G]
    else:
        deltas = rng.standard_normal((n_perturbations, n_measured)) * 0.3
    base = rng.uniform(1.0, 3.0, n_measured)
    n_control = cells * 20  # many controls: their noise is a shift shared by every delta
    blocks = [base + noise * rng.standard_normal((n_control, n_measured))]
    labels = ["control"] * n_control
    for name, d in zip(names, deltas):
        blocks.append(base + d + noise * rng.standard_normal((cells, n_measured)))
        labels += [name] * cells
    adata = anndata.AnnData(X=np.vstack(blocks).astype(np.float32),
                            obs=pd.DataFrame({"perturbation": labels},
                                             index=[f"cell{i}" for i in range(len(labels))]),
                            var=pd.DataFrame(index=[f"M{i:03d}" for i in range(n_measured)]))
    dest = Path(dest)
    with atomic_path(dest, suffix=".h5ad") as tmp:
        adata.write_h5ad(tmp)
    return dest, dict(zip(names, emb.astype(np.float32)))
