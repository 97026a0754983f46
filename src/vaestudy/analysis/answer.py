"""The answer first: the three to five sentences that open each dataset's part of the report,
and the loss x loss matrices of verdicts beside them.

Why: a reader who opens the report to learn what changes when cross-entropy becomes the
squared error should meet the answer before the evidence: what moves along the KL weight that
a squared error hides, which loss is best on which comparable metric where the paired tests
separate it, and how much the seeds leave undecided. Every number comes from ``metrics`` (one
row per run) and every verdict from ``comparisons``
(:func:`vaestudy.analysis.stats.paired_comparisons`, the one verdict per pair that every table and
sentence repeats); nothing is hand-written.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from vaestudy.analysis.aggregate import COMPARABLE, MECHANISM, SHORT
from vaestudy.analysis.findings import pair_rows
from vaestudy.core.losses import by_falling_beta

#: The comparable metrics the answer names a winner for (the others are in the tables).
HEADLINE = ("fid_classifier", "recon_mse", "knn_accuracy", "recon_accuracy")
#: The words of each verdict in a matrix cell's title, and its CSS class.
CELL = {"different": "separated", "not separated": "not separated",
        "too few seeds": "too few seeds", "non-finite": "no verdict: not finite"}


def _num(value: float) -> str:
    """A mean as the answer prints it: 3 significant digits, 0 for float noise below 1e-4."""
    return "0" if abs(value) < 1e-4 else f"{value:.3g}"


def _at(metrics: pd.DataFrame, latent: int) -> str:
    """" at latent size L" when the study has several, else nothing."""
    return f" at latent size {latent}" if metrics.latent_dim.nunique() > 1 else ""


def along_beta(metrics: pd.DataFrame) -> list[str]:
    """The mechanism (KL per image, active units, reconstruction error, sample quality) at both
    ends of the squared error's KL weight beta = 2 sigma^2, means over seeds, at the largest
    latent size; nothing without two fixed-sigma Gaussian losses."""
    latent = int(metrics.latent_dim.max())
    group = metrics[metrics.latent_dim == latent]
    order = by_falling_beta(group)
    if len(order) < 2:
        return []
    high, low = order[0], order[-1]
    beta = group.groupby("loss").beta.first()
    means = group.groupby("loss")[list(MECHANISM)].mean()
    moves = "; ".join(f"{SHORT[m]} {_num(means.loc[high, m])} → {_num(means.loc[low, m])}"
                      for m in MECHANISM)
    return [f"Along the KL weight a squared error hides, from β = {beta[high]:.3g} ({high}) to "
            f"β = {beta[low]:.3g} ({low}){_at(metrics, latent)}: {moves} (means over seeds)."]


def _leader(metrics: pd.DataFrame, comparisons: pd.DataFrame, metric: str,
            latent: int) -> tuple[str, bool] | None:
    """The loss with the best mean of ``metric`` at ``latent`` and whether the verdicts
    separate it, in its favour, from every other loss (None: fewer than two losses)."""
    higher = COMPARABLE[metric][1]
    means = metrics[metrics.latent_dim == latent].groupby("loss")[metric].mean().dropna()
    if len(means) < 2:
        return None
    top = means.idxmax() if higher else means.idxmin()
    rows = pair_rows(comparisons, metric, latent, top)
    better = (rows.mean_diff > 0) if higher else (rows.mean_diff < 0)
    return top, bool(len(rows) == len(means) - 1 and (rows.verdict == "different").all()
                     and better.all())


def leaders(metrics: pd.DataFrame, comparisons: pd.DataFrame) -> list[str]:
    """Which loss is best on each :data:`HEADLINE` metric: one sentence for the winners that
    the paired tests separate from every other loss, one for the best means they do not."""
    won, ahead = [], []
    for metric in HEADLINE:
        for latent in sorted(set(metrics.latent_dim)):
            found = _leader(metrics, comparisons, metric, latent)
            if found:
                label = COMPARABLE[metric][0]
                (won if found[1] else ahead).append(
                    f"<b>{found[0]}</b> on the {label}{_at(metrics, latent)}")
    out = []
    if won:
        out.append("Best and separated from every other loss by the paired tests over seeds "
                   "(Holm-corrected): " + "; ".join(won) + ".")
    if ahead:
        out.append("Best mean, but not separated from every other loss: " + "; ".join(ahead)
                   + ".")
    return out


def undecided(metrics: pd.DataFrame, comparisons: pd.DataFrame) -> list[str]:
    """How many of the pairs of losses, on the metrics comparable across them, the tests
    separate, do not separate, or cannot test at this many seeds."""
    rows = comparisons[comparisons.metric.isin(list(COMPARABLE))]
    if rows.empty:
        return []
    count = rows.verdict.value_counts()
    seeds = metrics.seed.nunique()
    parts = [f"{count.get('different', 0)} are separated",
             f"{count.get('not separated', 0)} are not separated at {seeds} seed(s)"]
    if count.get("too few seeds", 0):
        parts.append(f"{count['too few seeds']} have too few seeds for any test to decide")
    if count.get("non-finite", 0):
        parts.append(f"{count['non-finite']} have a difference that is not finite")
    return [f"Of the {len(rows)} comparisons of two losses on a metric comparable across "
            f"them, " + ", ".join(parts) + " (the matrices below; every pair in the table "
            "after them)."]


def answer(metrics: pd.DataFrame, comparisons: pd.DataFrame) -> list[str]:
    """The answer of one dataset, in three to five sentences (:func:`along_beta`,
    :func:`leaders`, :func:`undecided`)."""
    return (along_beta(metrics) + leaders(metrics, comparisons)
            + undecided(metrics, comparisons))


def verdict_matrix(comparisons: pd.DataFrame, metric: str, latent: int,
                   losses: list[str]) -> str:
    """An HTML table: rows and columns the ``losses``, each cell the mean difference row −
    column of ``metric`` at ``latent`` over the seeds, its class the verdict and, where
    separated, which side it favours (``row``/``col``: lower or higher is better as
    :data:`vaestudy.analysis.aggregate.COMPARABLE` says; ``diff`` for the KL, which has no better)."""
    higher = COMPARABLE[metric][1]
    head = "".join(f"<th>{html.escape(loss)}</th>" for loss in losses)
    body = []
    for a in losses:
        rows = pair_rows(comparisons, metric, latent, a).set_index("other")
        cells = []
        for b in losses:
            if a == b or b not in rows.index:
                cells.append('<td class="self"></td>' if a == b else "<td></td>")
                continue
            row = rows.loc[b]
            css = CELL[row.verdict].replace(" ", "-").replace(":", "")
            if row.verdict == "different" and higher is not None:
                css = "row" if (row.mean_diff > 0) == higher else "col"
            elif row.verdict == "different":
                css = "diff"
            value = "not finite" if not np.isfinite(row.mean_diff) else f"{row.mean_diff:+.3g}"
            title = f"{a} − {b}: {value}; {CELL[row.verdict]} (Holm p = {row.p_holm:.2g})"
            cells.append(f'<td class="{css}" title="{html.escape(title)}">{value}</td>')
        body.append(f"<tr><th>{html.escape(a)}</th>{''.join(cells)}</tr>")
    return (f'<table class="verdicts"><thead><tr><th>row − column</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")
