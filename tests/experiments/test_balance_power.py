"""The balance experiment's power arithmetic against numbers worked by hand."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))

from balance_power import mde, n_needed, paired_sd, power_table  # noqa: E402

Z = 1.959964 + 0.841621  # two-sided 0.05, power 0.8


def test_mde_and_n_needed_by_hand():
    assert mde(0.5, 100) == pytest.approx(Z * 0.5 / 10, rel=1e-5)
    assert n_needed(0.5, 0.1) == math.ceil((Z * 0.5 / 0.1) ** 2) == 197
    assert mde(0.5, 197) <= 0.1 < mde(0.5, 196)   # the returned n is the smallest that reaches the target


def test_paired_sd_counts_discordant_items():
    arm = {"a": 1.0, "b": 0.0, "c": 1.0, "d": 1.0, "x": 1.0}
    base = {"a": 1.0, "b": 1.0, "c": 0.0, "d": 1.0}
    sd, discordant, n = paired_sd(arm, base)       # d = 0, -1, 1, 0: mean 0, sample variance 2/3
    assert n == 4 and discordant == 0.5 and sd == pytest.approx(math.sqrt(2 / 3))


def test_power_table_flags_underpowered_and_unmoved_measures():
    base = {str(i): float(i % 2) for i in range(40)}
    arm = dict(base, **{"0": 1.0, "1": 0.0})        # 2 of 40 items flipped
    table = power_table({"m": [(arm, base)], "still": [(base, base)]}, {"m": 100}, {"m": 0.03, "still": 0.05},
                        {"m": 120})
    m = table["m"]
    assert m["n_needed_for_target"] > 120 and m["target_reachable"] is False
    assert m["underpowered_at_planned_n"] is True and m["mde_at_available_n"] == pytest.approx(mde(m["sd_d"], 120))
    assert m["sd_d_if_independent"] == pytest.approx(math.sqrt(0.5 * 0.5 * 2))  # pa = pb = 0.5
    assert "variance not estimated" in table["still"]["note"]
