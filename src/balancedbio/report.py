"""Tables, confidence intervals and plots for every stage's report (markdown + PNG).

* :func:`bootstrap_ci` - percentile bootstrap of a mean (Efron & Tibshirani, 1993);
* :func:`paired_bootstrap_delta` - the same for the mean difference of two models scored on the same
  items (items resampled jointly, so the interval reflects the paired design);
* :func:`markdown_table`, :func:`radar_plot`, :func:`bar_chart`, :func:`bar_chart_ci` - rendering; plots are written
  atomically with matplotlib's Agg backend (no display needed).

Example::

    lo, hi = bootstrap_ci([1, 0, 1, 1], n_boot=1000, seed=0)
    delta, lo, hi = paired_bootstrap_delta(new_scores, base_scores)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from balancedbio.atomic import atomic_path

__all__ = ["bootstrap_ci", "paired_bootstrap_delta", "markdown_table", "fmt", "radar_plot", "bar_chart",
           "bar_chart_ci"]


def bootstrap_ci(values: Sequence[float], *, n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap (1 - alpha) interval of the mean of ``values``; (nan, nan) if empty."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)  # [n_boot]
    return float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def paired_bootstrap_delta(a: Sequence[float], b: Sequence[float], *, n_boot: int = 1000, seed: int = 0,
                           alpha: float = 0.05) -> tuple[float, float, float]:
    """mean(a) - mean(b) with a paired percentile-bootstrap interval; a[i] and b[i] score the same item."""
    import numpy as np

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired bootstrap needs equal lengths, got {x.size} and {y.size}")
    if x.size == 0:
        return math.nan, math.nan, math.nan
    d = x - y
    lo, hi = bootstrap_ci(d, n_boot=n_boot, seed=seed, alpha=alpha)
    return float(d.mean()), lo, hi


def fmt(value: Any, pct: bool = True, digits: int = 1) -> str:
    """A number for a table: percentages by default; '-' for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (int, float)):
        return f"{100 * value:.{digits}f}" if pct else f"{value:.{digits + 2}g}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table (cells converted with ``str``; '|' escaped)."""
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def radar_plot(series: Mapping[str, Mapping[str, float | None]], dest: str | Path, *,
               title: str = "Capabilities") -> Path:
    """A radar (spider) chart: one polygon per series over the shared axes (values in [0, 1])."""
    plt = _pyplot()
    axes = list(next(iter(series.values())).keys()) if series else []
    if len(axes) < 3:
        raise ValueError(f"a radar plot needs at least 3 axes, got {axes}")
    angles = [2 * math.pi * i / len(axes) for i in range(len(axes))] + [0.0]
    fig = plt.figure(figsize=(5.5, 5.5))
    ax = fig.add_subplot(111, polar=True)
    for label, vals in series.items():
        ys = [float(vals.get(a) or 0.0) for a in axes]
        ys.append(ys[0])
        ax.plot(angles, ys, linewidth=2, label=label)
        ax.fill(angles, ys, alpha=0.15)
    ax.set_xticks(angles[:-1])
    ax.set_xticklabels(axes)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper right", bbox_to_anchor=(1.25, 1.1), fontsize=8)
    return _save(fig, dest)


def bar_chart(series: Mapping[str, Mapping[str, float]], dest: str | Path, *, title: str = "",
              ylabel: str = "accuracy") -> Path:
    """Grouped bars: one group per category (e.g. subject), one bar per series (e.g. model)."""
    plt = _pyplot()
    cats = sorted({c for vals in series.values() for c in vals})
    n = max(len(series), 1)
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(cats) + 2), 4))
    for i, (label, vals) in enumerate(series.items()):
        xs = [j + (i - (n - 1) / 2) * width for j in range(len(cats))]
        ax.bar(xs, [vals.get(c, 0.0) for c in cats], width=width, label=label)
    ax.set_xticks(range(len(cats)))
    ax.set_xticklabels([c.replace("_", "\n") for c in cats], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.axhline(0.25, color="grey", linestyle=":", linewidth=1)  # chance on 4-option questions
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, dest)


def bar_chart_ci(series: Mapping[str, Mapping[str, tuple[float, float, float]]], dest: str | Path, *,
                 title: str = "", ylabel: str = "score") -> Path:
    """Grouped bars with confidence whiskers: ``series[label][category] = (value, low, high)``.

    One group per category in first-seen order (e.g. benchmark), one bar per series (e.g. model beside
    baseline); each bar is labelled with its value in percent. A missing value leaves a gap.
    """
    plt = _pyplot()
    cats: list[str] = []
    for vals in series.values():
        cats += [c for c in vals if c not in cats]
    n = max(len(series), 1)
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(cats) + 2), 4.5))
    for i, (label, vals) in enumerate(series.items()):
        xs = [j + (i - (n - 1) / 2) * width for j, c in enumerate(cats) if c in vals]
        ys = [vals[c][0] for c in cats if c in vals]
        err = [[max(vals[c][0] - vals[c][1], 0.0) for c in cats if c in vals],
               [max(vals[c][2] - vals[c][0], 0.0) for c in cats if c in vals]]
        ax.bar(xs, ys, width=width, label=label, yerr=err, capsize=3, error_kw={"linewidth": 1})
        for x, y, up in zip(xs, ys, err[1]):  # the value above its whisker, in percent
            ax.text(x, y + up + 0.015, f"{100 * y:.0f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(cats)))
    ax.set_xticklabels(cats, fontsize=7)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, dest)


def _save(fig: Any, dest: str | Path) -> Path:
    plt = _pyplot()
    dest = Path(dest)
    try:
        with atomic_path(dest) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return dest
