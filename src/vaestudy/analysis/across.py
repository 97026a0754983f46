"""Does a finding on one dataset hold on another, or at a longer training budget? Written from
the paired comparisons.

A finding of the study is a verdict of :func:`vaestudy.analysis.stats.paired_comparisons`: for one
metric at one latent size, loss_a and loss_b are *different* (Holm-corrected paired test over
seeds, within one dataset). Across datasets the same pair is compared again on the other
dataset; the difference **holds** when it is again different in the same direction,
**reverses** when it is different in the other direction, and is **not separated** when the
other dataset's test does not separate the pair (its verdict is not separated, too few seeds,
or non-finite). A pair separated only on the other dataset is **new**. Nothing is pooled
across datasets: each verdict is the one its dataset's section of the report prints. Across
budgets the same words compare one dataset's verdicts at the shortest budget (the reference)
with those at a longer one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vaestudy.analysis.stats import difference_text

#: The outcomes of a pair across two datasets, in the order the report lists them.
OUTCOMES = ("holds", "reverses", "not separated", "new")
_KEY = ["metric", "latent_dim", "loss_a", "loss_b"]
#: How a sentence says each outcome, for one pair and for several.
_VERBS = {"holds": ("holds", "hold"), "reverses": ("reverses", "reverse"),
          "not separated": ("is not separated", "are not separated"),
          "new": ("is separated", "are separated")}


def outcome(diff_ref: float, verdict_ref: str, diff_other: float, verdict_other: str) -> str | None:
    """The outcome (:data:`OUTCOMES`) of one pair on the reference and the other dataset;
    None when neither dataset separates it (no finding to carry over)."""
    if verdict_ref == "different":
        if verdict_other != "different":
            return "not separated"
        return "holds" if np.sign(diff_ref) == np.sign(diff_other) else "reverses"
    return "new" if verdict_other == "different" else None


def carry_over(comparisons: pd.DataFrame, reference, other, by: str = "dataset") -> pd.DataFrame:
    """Every pair separated on ``reference`` or on ``other`` (values of the column ``by`` of
    ``comparisons``: two datasets, or two budgets ``epochs``; the caller keeps one value of the
    other axis), with both mean differences, 95% CIs and verdicts, and its :func:`outcome`.
    Pairs compared on one side only (a loss run on one of them) are left out."""
    sides = [comparisons[comparisons[by] == name] for name in (reference, other)]
    both = sides[0].merge(sides[1], on=_KEY, suffixes=("_ref", "_other"))
    both["outcome"] = [outcome(*values) for values in zip(
        both.mean_diff_ref, both.verdict_ref, both.mean_diff_other, both.verdict_other)]
    found = both[both.outcome.notna()]
    order = {name: i for i, name in enumerate(OUTCOMES)}
    return found.sort_values(["metric", "latent_dim"], kind="stable").sort_values(
        "outcome", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def _interval(row, side: str) -> str:
    """``−1.2 [−1.5, −0.9]``: the mean difference and its 95% CI on one side
    (:func:`vaestudy.analysis.stats.difference_text`)."""
    return difference_text(*(getattr(row, f"{k}_{side}") for k in ("mean_diff", "ci_low",
                                                                    "ci_high")))


def sentences(table: pd.DataFrame, reference: str, other: str, labels: dict[str, str]) -> list[str]:
    """One sentence per metric of :func:`carry_over`'s ``table``: how many of the differences
    found ``reference`` hold, reverse or are not separated ``other`` (and which pairs are new
    there), each pair with its difference and 95% CI on both sides. ``reference`` and ``other``
    say where, with their preposition ("on MNIST", "at 30 epochs"); ``labels`` names the
    metrics."""
    lines = []
    for metric, rows in table.groupby("metric", sort=False):
        found = rows[rows.outcome != "new"]
        parts = []
        for name in OUTCOMES:
            group = rows[rows.outcome == name]
            if group.empty:
                continue
            pairs = "; ".join(f"{r.loss_a} − {r.loss_b} (latent {r.latent_dim}): "
                              f"{_interval(r, 'ref')} {reference}, {_interval(r, 'other')} "
                              f"{other}" for r in group.itertuples())
            verb = _VERBS[name][len(group) > 1]
            parts.append(f"{len(group)} {verb} {other}{' only' if name == 'new' else ''} "
                         f"({pairs})")
        head = (f"{labels.get(metric, metric)}: of {len(found)} difference(s) between losses "
                f"{reference}, " if len(found) else f"{labels.get(metric, metric)}: ")
        lines.append(head + "; ".join(parts) + ".")
    return lines


def counts(table: pd.DataFrame) -> dict[str, int]:
    """How many pairs of :func:`carry_over`'s ``table`` have each outcome."""
    return {name: int((table.outcome == name).sum()) for name in OUTCOMES}
