import math

import numpy as np
import pytest

from balancedbio.report import (
    bar_chart,
    bootstrap_ci,
    fmt,
    markdown_table,
    paired_bootstrap_delta,
    radar_plot,
)


def test_bootstrap_ci_brackets_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small = rng.integers(0, 2, 50).tolist()
    big = rng.integers(0, 2, 2000).tolist()
    lo, hi = bootstrap_ci(small, n_boot=500, seed=0)
    assert lo <= np.mean(small) <= hi
    blo, bhi = bootstrap_ci(big, n_boot=500, seed=0)
    assert (bhi - blo) < (hi - lo)
    # close to the normal-approximation width for a proportion
    p = np.mean(big)
    assert (bhi - blo) == pytest.approx(2 * 1.96 * math.sqrt(p * (1 - p) / len(big)), rel=0.2)
    assert bootstrap_ci([1, 1, 1]) == (1.0, 1.0)
    assert all(math.isnan(v) for v in bootstrap_ci([]))


def test_paired_delta():
    a = [1, 1, 0, 1, 0, 1, 1, 1]
    b = [0, 1, 0, 1, 0, 0, 1, 0]
    d, lo, hi = paired_bootstrap_delta(a, b, n_boot=500)
    assert d == pytest.approx(3 / 8)
    assert lo <= d <= hi and lo >= 0.0  # a never loses to b on an item
    with pytest.raises(ValueError):
        paired_bootstrap_delta([1], [1, 0])


def test_markdown_and_fmt():
    t = markdown_table(["a", "b|c"], [[1, "x"], [2, None]])
    assert t.splitlines()[0] == "| a | b\\|c |" and t.splitlines()[1] == "|---|---|"
    assert fmt(0.4567) == "45.7" and fmt(None) == "-" and fmt(float("nan")) == "-"


def test_plots_are_png(tmp_path):
    r = radar_plot({"m": {"a": 0.2, "b": 0.5, "c": 0.9, "d": None}, "base": {"a": 0.1, "b": 0.4, "c": 0.5, "d": 0.3}},
                   tmp_path / "r.png")
    b = bar_chart({"m": {"x": 0.3, "y": 0.6}}, tmp_path / "b.png")
    for p in (r, b):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        radar_plot({"m": {"a": 1, "b": 2}}, tmp_path / "bad.png")
    assert not list(tmp_path.glob("*.tmp*"))


def test_bar_chart_ci_draws_whiskers(tmp_path):
    from balancedbio.report import bar_chart_ci

    series = {"model": {"a": (0.5, 0.4, 0.6), "b": (0.2, 0.1, 0.3)}, "baseline": {"a": (0.3, 0.2, 0.4)}}
    dest = bar_chart_ci(series, tmp_path / "ci.png", title="t")
    assert dest.is_file() and dest.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
