"""Forest plots of what carries over: for every pair of losses separated on either of two
datasets (:func:`vaestudy.analysis.across.carry_over`), its mean difference and 95% CI on the first
beside the second, one panel per metric (metrics have their own units), the outcome (holds,
reverses, not separated, new) written beside each pair.

Why a plot: the section across datasets used to be a page of intervals in prose; side by
side, a reader sees at a glance which differences keep their sign and which lose it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

#: Marker colour of each side and of each outcome's label.
SIDES = (("ref", "o", "#1f77b4"), ("other", "s", "#d62728"))
OUTCOME_COLOURS = {"holds": "#2ca02c", "reverses": "#d62728", "not separated": "#7f7f7f",
                   "new": "#9467bd"}


def plot_forest(table: pd.DataFrame, names: tuple[str, str], labels: dict[str, str],
                path: Path | str) -> None:
    """``table``: the rows of :func:`vaestudy.analysis.across.carry_over` (mean_diff, ci_low,
    ci_high with the suffixes _ref and _other, and the outcome); ``names``: the two datasets'
    titles; ``labels``: each metric's name. A table without rows draws a plot that says so."""
    metrics = list(dict.fromkeys(table.metric))
    if not metrics:
        fig, ax = plt.subplots(figsize=(7, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, f"No pair of losses is separated on {names[0]} or on {names[1]}.",
                ha="center", va="center")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return
    sizes = [int((table.metric == m).sum()) for m in metrics]
    fig, axes = plt.subplots(len(metrics), 1, figsize=(9, 0.42 * sum(sizes) + 1.0 * len(metrics)),
                             squeeze=False, gridspec_kw={"height_ratios": sizes})
    for ax, metric in zip(axes[:, 0], metrics):
        rows = table[table.metric == metric].reset_index(drop=True)
        y = np.arange(len(rows))[::-1]  # the first pair on top
        for (side, marker, colour), shift in zip(SIDES, (0.15, -0.15)):
            mean = rows[f"mean_diff_{side}"].to_numpy(dtype=float)
            err = np.abs(np.stack([mean - rows[f"ci_low_{side}"], rows[f"ci_high_{side}"] - mean]))
            ax.errorbar(mean, y + shift, xerr=np.nan_to_num(err), fmt=marker, color=colour,
                        capsize=2, ms=4, label=names[0] if side == "ref" else names[1])
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, [f"{r.loss_a} − {r.loss_b} (latent {r.latent_dim})"
                          for r in rows.itertuples()], fontsize=8)
        for yy, outcome in zip(y, rows.outcome):
            ax.annotate(outcome, (1.01, yy), xycoords=("axes fraction", "data"), va="center",
                        fontsize=8, color=OUTCOME_COLOURS[outcome])
        ax.set_title(labels.get(metric, metric), fontsize=9, loc="left")
        ax.set_ylim(-0.7, len(rows) - 0.3)
    axes[0, 0].legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.15), ncol=2,
                      title="mean difference loss_a − loss_b, 95% CI per pair", title_fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def write_forest(comparisons_csv: str, reference: str, other: str, epochs: int,
                 path: str) -> None:
    """The forest plot of the pairs separated on ``reference`` or ``other`` (datasets of the
    study's paired comparisons, ``comparisons.csv``) at the training budget ``epochs``,
    written to ``path``."""
    from vaestudy.analysis.across import carry_over
    from vaestudy.analysis.aggregate import LABELS
    from vaestudy.core import datasets
    from vaestudy.core.atomic import atomic_path

    comparisons = pd.read_csv(comparisons_csv)
    table = carry_over(comparisons[comparisons.epochs == int(epochs)], reference, other)
    with atomic_path(path) as tmp:
        plot_forest(table, (datasets.get(reference).title, datasets.get(other).title), LABELS,
                    tmp)
