"""Statistics across seeds: Student-t confidence intervals and paired comparisons of losses.

Runs that share a latent size and a seed share their data split, latent draws and
initialisation seed, so two losses are compared *paired* over the seeds of one latent size:
a paired t-test on the differences, the effect size Hedges' g_z = J * d_z, d_z = mean(diff) /
sd(diff), with the small-sample correction J of :func:`hedges_j` (d_z overstates the effect at
few seeds, in expectation by 1 / J = 1.77 at 3). A difference that is the same in every pair
has no t-test; it gets the exact two-sided sign test (p = 2 / 2^n), which at fewer than 6
seeds cannot reach 5%. The tests of one metric at
one latent size (every pair of losses) are one family: their p-values are corrected with
Holm's step-down method (``p_holm``; ``family_size`` tests), and each row's ``verdict``
(:func:`verdict`) is the one every table and sentence of the report prints for that pair. A
pair the tests do not separate is "not separated", never called equal: a test that fails to
reject is no evidence of equivalence. A difference that is ±inf or
NaN gets no test and no verdict (``non-finite``), and a warning names the pair.
The intervals and tests cover training randomness (seeds) only: every run is evaluated on
the same split and the same evaluation binarization.
scipy.stats, not TensorFlow Probability: the study-level jobs (tables, plots, report) load no
TensorFlow.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
from scipy import special, stats


def t_interval(values) -> tuple[float, float]:
    """Student-t 95% confidence interval of the mean; a single value gives (v, v)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float(v.mean()), float(v.mean())
    half = float(stats.t.ppf(0.975, len(v) - 1)) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean() - half), float(v.mean() + half)


ALPHA = 0.05


def paired_test(diff) -> dict:
    """Paired test of mean(diff) = 0: n, mean difference, 95% CI, two-sided p, g_z and the
    test used. A difference with no spread (the same in every pair, e.g. active units 16 vs
    0) has no t-test: it gets the exact sign test, p = 2 / 2^n (``sd_diff`` = 0 says why),
    and no interval (a t interval of zero width would claim a certainty no test gives); a
    spread below 1e-9 of the differences is float rounding and counts as none; no difference
    at all is p = 1. A difference that is ±inf or NaN has neither a spread nor a sign to
    count: no test (its ``mean_diff`` is then not finite, and :func:`verdict` says so)."""
    d = np.asarray(diff, dtype=float)
    n = len(d)
    out = {"n_pairs": n, "mean_diff": float(d.mean()) if n else np.nan, "sd_diff": np.nan,
           "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, "effect_size_gz": np.nan,
           "test": "none"}
    if n < 2 or not np.isfinite(d).all():
        return out
    sd = float(d.std(ddof=1))
    sd = out["sd_diff"] = 0.0 if sd <= 1e-9 * np.max(np.abs(d)) else sd  # rounding, not spread
    if sd > 0:
        out["ci_low"], out["ci_high"] = t_interval(d)
        t = d.mean() / (sd / np.sqrt(n))
        out.update(p_value=float(2 * stats.t.sf(abs(t), n - 1)),
                   effect_size_gz=hedges_j(n - 1) * float(d.mean() / sd), test="paired t")
    else:  # every pair the same difference: all signs agree (or all zero: nothing to test)
        # n >= 2 here, so the exact two-sided p = 2 / 2^n is at most 0.5
        out.update(p_value=2.0 * 0.5**n if d.mean() != 0 else 1.0, test="sign")
    return out


def hedges_j(dof: int) -> float:
    """Hedges' small-sample correction J(v) = Gamma(v/2) / (sqrt(v/2) Gamma((v - 1)/2)): with
    v = n - 1, J * d_z is unbiased for the population's mean / sd (Hedges 1981); 0.564 at
    3 pairs (the approximation 1 - 3/(4v - 1) gives 0.571), 0.84 at 6, 1 in the limit. At
    one degree of freedom J = 0 (E[d_z] is infinite): no corrected effect size, NaN."""
    if dof < 2:
        return np.nan
    return float(np.exp(special.gammaln(dof / 2) - special.gammaln((dof - 1) / 2))
                 / np.sqrt(dof / 2))


def difference_text(mean: float, low: float, high: float, signed: bool = False) -> str:
    """A paired difference as the report's sentences print it: ``mean [low, high]`` (its
    95% CI; the caller says what the interval is), the mean alone where the test gave no
    interval (the verdict's words say why), ``not finite`` where a difference is ±inf or
    NaN (no number worth printing, no verdict). ``signed``: the mean with its sign (+1.2)."""
    if not np.isfinite(mean):
        return "not finite"
    text = f"{mean:+.3g}" if signed else f"{mean:.3g}"
    return text if np.isnan(low) else f"{text} [{low:.3g}, {high:.3g}]"


def seeds_needed(family_size: int, alpha: float = ALPHA) -> int:
    """The fewest pairs at which a sign test whose signs all agree is sure to reach a
    Holm-adjusted p < alpha in a family of ``family_size`` tests: its p = 2 / 2^n is
    multiplied by at most the family's size, so the smallest n with
    family_size * 2^(1 - n) < alpha (6 for one test at 0.05, 7 for three, 9 for ten)."""
    n = 2
    while family_size * 2.0 ** (1 - n) >= alpha:
        n += 1
    return n


def verdict(test: dict, p_adjusted: float, family_size: int, alpha: float = ALPHA) -> str:
    """The one verdict on a pair, whose test is one of ``family_size`` that Holm corrects
    over: ``non-finite`` (a difference is ±inf or NaN: no verdict), ``different``
    (Holm-adjusted p < alpha), ``too few seeds`` (one pair, or a difference the same in every
    pair that is not yet separated below :func:`seeds_needed` of the family: what holds it
    back is the number of seeds) or ``not separated`` (the tests do not separate the pair,
    which is no claim that it is equal). NaN never counts as different."""
    n = test["n_pairs"]
    if n and not np.isfinite(test["mean_diff"]):  # the mean of finite differences is finite
        return "non-finite"
    if p_adjusted < alpha:  # False for NaN
        return "different"
    if n < 2 or (test["test"] == "sign" and test["mean_diff"] != 0
                 and n < seeds_needed(family_size, alpha)):
        return "too few seeds"
    return "not separated"


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


#: The settings of the log-likelihood estimator a run was evaluated with (its metrics' columns;
#: ``evaluation.overrides`` may give some runs others).
ESTIMATOR = ["iwae_samples", "iwae_images"]


def paired_comparisons(metrics: pd.DataFrame, columns: list[str],
                       estimated: tuple[str, ...] = ()) -> pd.DataFrame:
    """For every dataset, training budget (``epochs``), metric in ``columns``, latent size
    and pair of losses with values of that metric: the paired test of (loss_a - loss_b) over
    the seeds both losses were run (and trained) on, Holm-corrected within (dataset, epochs,
    metric, latent size), and its :func:`verdict`. Runs of different datasets or budgets are
    never paired; a metric only some losses have (bits/dim: the densities on gray data)
    compares those losses only, and a metric of the log-likelihood estimate (``estimated``)
    only losses evaluated with the same :data:`ESTIMATOR` settings (a larger K tightens the
    estimate: a difference of K is not a difference of the losses)."""
    names = ["dataset", "epochs", "metric", "latent_dim", "loss_a", "loss_b",
             *paired_test([]).keys(), "p_holm", "family_size", "verdict"]
    rows = [{"dataset": name, "epochs": epochs, **row}
            for (name, epochs), group in metrics.groupby(["dataset", "epochs"], sort=False)
            for row in _pairs(group, columns, estimated)]
    table = pd.DataFrame(rows, columns=names)  # a one-loss study has no pairs: no rows
    families = table.groupby(["dataset", "epochs", "metric", "latent_dim"])
    for _, index in families.groups.items():
        table.loc[index, "p_holm"] = holm(table.loc[index, "p_value"])  # one family each
    table["family_size"] = families.p_value.transform("count").astype(int)  # as holm counts
    table["verdict"] = [verdict(row, row["p_holm"], row["family_size"])
                        for row in table.to_dict("records")]
    bad = table[table.verdict == "non-finite"]
    if len(bad):
        warnings.warn(f"{len(bad)} paired comparison(s) with a non-finite difference get no "
                      "verdict: " + "; ".join(f"{r.dataset} {r.epochs} epochs {r.metric} "
                                               f"latent {r.latent_dim} "
                                               f"{r.loss_a} - {r.loss_b}"
                                               for r in bad.itertuples()), stacklevel=2)
    return table


def _pairs(metrics: pd.DataFrame, columns: list[str], estimated: tuple[str, ...]) -> list[dict]:
    """The paired tests of one dataset's runs at one budget (see :func:`paired_comparisons`)."""
    rows = []
    settings = pd.Series(list(metrics.reindex(columns=ESTIMATOR).fillna(-1)
                              .itertuples(index=False, name=None)), index=metrics.index)
    estimators = settings.groupby([metrics.loss, metrics.latent_dim]).agg(set)
    wide = metrics.pivot_table(index=["latent_dim", "seed"], columns="loss", values=columns,
                               dropna=False)
    for col in columns:
        losses = list(dict.fromkeys(metrics.loss[metrics[col].notna()]))
        for latent in sorted(set(metrics["latent_dim"])):
            for a, b in itertools.combinations(losses, 2):
                if col in estimated and (estimators.get((a, latent))
                                         != estimators.get((b, latent))):
                    continue
                pair = wide[col].loc[latent].reindex(columns=[a, b]).dropna()
                rows.append({"metric": col, "latent_dim": latent, "loss_a": a, "loss_b": b,
                             **paired_test(pair[a] - pair[b])})
    return rows
