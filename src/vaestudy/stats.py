"""Statistics across seeds: Student-t confidence intervals and paired comparisons of losses.

Runs that share a latent size and a seed share their data split, latent draws and
initialisation seed, so two losses are compared *paired* over (latent size, seed): the test is
a paired t-test on the differences, the effect size Cohen's d_z = mean(diff) / sd(diff).
The tests of one metric (every pair of losses) are one family: their p-values are corrected
with Holm's step-down method (``p_holm``), which holds the family-wise error rate at 5%.
scipy.stats, not TensorFlow Probability: the study-level jobs (tables, plots, report) load no
TensorFlow.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats


def t_interval(values) -> tuple[float, float]:
    """Student-t 95% confidence interval of the mean; a single value gives (v, v)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float(v.mean()), float(v.mean())
    half = float(stats.t.ppf(0.975, len(v) - 1)) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean() - half), float(v.mean() + half)


def paired_test(diff) -> dict:
    """Paired t-test of mean(diff) = 0: n, mean difference, 95% CI, two-sided p, d_z. A
    difference with no spread (the same in every pair, e.g. active units 16 vs 0) has no
    t-test: its p-value is NaN, not 0 (``sd_diff`` = 0 says why); a spread below 1e-9 of the
    differences is float rounding and counts as none."""
    d = np.asarray(diff, dtype=float)
    n = len(d)
    out = {"n_pairs": n, "mean_diff": float(d.mean()) if n else np.nan, "sd_diff": np.nan,
           "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, "effect_size_dz": np.nan}
    if n < 2:
        return out
    sd = float(d.std(ddof=1))
    sd = out["sd_diff"] = 0.0 if sd <= 1e-9 * np.max(np.abs(d)) else sd  # rounding, not spread
    out["ci_low"], out["ci_high"] = t_interval(d)
    if sd > 0:
        t = d.mean() / (sd / np.sqrt(n))
        out["p_value"] = float(2 * stats.t.sf(abs(t), n - 1))
        out["effect_size_dz"] = float(d.mean() / sd)
    return out


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN stays NaN and is not
    counted): the i-th smallest of m is multiplied by m - i + 1, then made monotone."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out


def paired_comparisons(metrics: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """For every pair of losses and every metric in ``columns``: the paired test of
    (loss_a - loss_b) over the (latent size, seed) points both losses were run on."""
    rows = []
    losses = list(dict.fromkeys(metrics["loss"]))
    wide = metrics.pivot_table(index=["latent_dim", "seed"], columns="loss", values=columns)
    for a, b in itertools.combinations(losses, 2):
        for col in columns:
            pair = wide[col][[a, b]].dropna()
            rows.append({"metric": col, "loss_a": a, "loss_b": b,
                         **paired_test(pair[a] - pair[b])})
    columns = ["metric", "loss_a", "loss_b", *paired_test([]).keys(), "p_holm"]
    table = pd.DataFrame(rows, columns=columns)  # a one-loss study has no pairs: no rows
    for _, index in table.groupby("metric").groups.items():  # one family per metric
        table.loc[index, "p_holm"] = holm(table.loc[index, "p_value"])
    return table
