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


def _independent_sd(pairs: Sequence[tuple[Mapping[str, float], Mapping[str, float]]]) -> float | None:
    """For 0/1 items: the largest over pairs of sd(d) when arm and base err independently,
    sqrt(pa (1 - pb) + pb (1 - pa) - (pa - pb)**2); None when the items are not 0/1."""
    best = None
    for a, b in pairs:
        common = sorted(set(a) & set(b))
        if not common or any(a[i] not in (0.0, 1.0) or b[i] not in (0.0, 1.0) for i in common):
            return None
        pa, pb = sum(a[i] for i in common) / len(common), sum(b[i] for i in common) / len(common)
        sd = math.sqrt(max(pa * (1 - pb) + pb * (1 - pa) - (pa - pb) ** 2, 0.0))
        best = sd if best is None else max(best, sd)
    return best


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
        if sd_d == 0:  # no item moved: the pilot cannot estimate the variance
            out[measure] = {"sd_d": 0.0, "n_pilot": n_pilot, "pilot_pairs": len(stats), "target": target,
                            "note": "no item changed between arm and base in the pilot: variance not estimated"}
            continue
        entry = {"sd_d": sd_d, "discordant_share": discordant, "n_pilot": n_pilot, "pilot_pairs": len(stats),
                 "mde_at_pilot_n": mde(sd_d, n_pilot), "planned_n": planned, "mde_at_planned_n": mde(sd_d, planned),
                 "target": target, "n_needed_for_target": need, "available_n": pool}
        bound = _independent_sd(pairs)
        if bound is not None:  # the discordance if the arm's errors were independent of base's: an upper bound
            entry.update(sd_d_if_independent=bound, mde_at_planned_n_if_independent=mde(bound, planned),
                         n_needed_if_independent=n_needed(bound, target) if target else None)
        if target and not math.isnan(need):
            reachable = pool is None or need <= pool
            entry["target_reachable"] = reachable
            entry["underpowered_at_planned_n"] = mde(sd_d, planned) > target
            if not reachable:
                entry["mde_at_available_n"] = mde(sd_d, pool)
        out[measure] = entry
    return out
