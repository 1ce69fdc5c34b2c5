"""Power of the balance experiment's paired comparisons (arm vs base on the same items).

For a measure scored per item, the paired difference ``d_i = arm_i - base_i`` has mean ``delta`` and
standard deviation ``sd_d``; a two-sided test at level ``alpha`` with power ``1 - beta`` detects (normal
approximation; for 0/1 items this is McNemar's test, ``sd_d**2 = p_discordant - delta**2``):

    MDE(n) = (z_{1-alpha/2} + z_{1-beta}) * sd_d / sqrt(n)        n(delta) = ((z_a + z_b) * sd_d / delta)**2

``sd_d`` comes from a pilot (the observed per-item differences of a trained arm against base). Seeds:
averaging an item's score over S training seeds can only shrink ``sd_d`` by the share of the discordance
that is seed noise, which one pilot seed cannot separate; the MDE below is the conservative S = 1 figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any

__all__ = ["paired_sd", "mde", "n_needed", "power_table"]

_Z = NormalDist().inv_cdf


def paired_sd(arm: Mapping[str, float], base: Mapping[str, float]) -> tuple[float, float, int]:
    """(sd of the paired differences, share of items whose scores differ, n common items)."""
    common = sorted(set(arm) & set(base))
    d = [arm[i] - base[i] for i in common]
    n = len(d)
    if n < 2:
        return math.nan, math.nan, n
    mean = sum(d) / n
    var = sum((x - mean) ** 2 for x in d) / (n - 1)
    return math.sqrt(var), sum(1 for x in d if x != 0) / n, n


def mde(sd_d: float, n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true mean paired difference detected with ``power`` at two-sided ``alpha`` with ``n`` items."""
    if n <= 0 or math.isnan(sd_d):
        return math.nan
    return (_Z(1 - alpha / 2) + _Z(power)) * sd_d / math.sqrt(n)


def n_needed(sd_d: float, delta: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Items needed to detect a mean paired difference ``delta``."""
    if math.isnan(sd_d) or delta <= 0:
        return math.nan
    return math.ceil(((_Z(1 - alpha / 2) + _Z(power)) * sd_d / delta) ** 2)


def power_table(pilot: Mapping[str, Sequence[tuple[Mapping[str, float], Mapping[str, float]]]],
                planned_n: Mapping[str, int], targets: Mapping[str, float],
                available_n: Mapping[str, int | None]) -> dict[str, Any]:
    """Per measure: the pilot's ``sd_d`` (the largest over the pilot's arm-vs-base pairs, the cautious
    choice), the MDE at the pilot's and the planned n, the n a ``targets`` difference needs, and whether
    the available pool (``available_n``; None = unbounded, e.g. generated synthetic rows) reaches it."""
    out: dict[str, Any] = {}
    for measure, pairs in pilot.items():
        stats = [paired_sd(a, b) for a, b in pairs]
        stats = [s for s in stats if s[2] >= 2]
        if not stats:
            continue
        sd_d, discordant, n_pilot = max(stats, key=lambda s: s[0])
        target = targets.get(measure)
        planned = planned_n.get(measure, n_pilot)
        need = n_needed(sd_d, target) if target else math.nan
        pool = available_n.get(measure)
        entry = {"sd_d": sd_d, "discordant_share": discordant, "n_pilot": n_pilot, "pilot_pairs": len(stats),
                 "mde_at_pilot_n": mde(sd_d, n_pilot), "planned_n": planned, "mde_at_planned_n": mde(sd_d, planned),
                 "target": target, "n_needed_for_target": need, "available_n": pool}
        if target and not math.isnan(need):
            reachable = pool is None or need <= pool
            entry["target_reachable"] = reachable
            entry["underpowered_at_planned_n"] = mde(sd_d, planned) > target
            if not reachable:
                entry["mde_at_available_n"] = mde(sd_d, pool)
        out[measure] = entry
    return out
