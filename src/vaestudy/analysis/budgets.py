"""Do the answers hold as training goes on? The study's training budgets side by side.

A study with several budgets (``study.epochs``) trains every grid point to each of them, a
longer budget continuing the shorter one's run. Its comparable metrics are plotted against the
budget, one line per loss with its Student-t 95% CI over seeds, and every difference between
losses found at the shortest budget is followed to each longer one with the words of
:mod:`vaestudy.analysis.across` (holds, reverses, not separated, new). Nothing is pooled over
budgets: each verdict is the one its budget's section of the report prints.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from vaestudy.analysis import across  # noqa: E402
from vaestudy.analysis.aggregate import LABELS  # noqa: E402
from vaestudy.analysis.stats import t_interval  # noqa: E402
from vaestudy.analysis.study_plots import comparable_panels, plot_nothing  # noqa: E402
from vaestudy.core import datasets  # noqa: E402
from vaestudy.core.atomic import atomic_path  # noqa: E402


def budget_text(epochs: int) -> str:
    """``1 epoch``, ``10 epochs``: a training budget in words (the sentences across budgets,
    the report's headings)."""
    return f"{epochs} epoch" + ("" if int(epochs) == 1 else "s")


def plot_budgets(metrics: pd.DataFrame, title: str, path: Path | str) -> None:
    """Every comparable metric of one dataset's ``metrics`` against the training budget
    (epochs, log scale): mean and 95% CI over seeds, one line per loss (and marker style per
    latent size when there are several)."""
    budgets = sorted(set(metrics.epochs))
    fig, panels = comparable_panels(3.6)
    style = "latent_dim" if metrics.latent_dim.nunique() > 1 else None
    first = panels[0][0]
    for ax, col in panels:
        sns.lineplot(metrics, x="epochs", y=col, hue="loss", style=style, markers=True,
                     dashes=False, errorbar=t_interval, err_style="bars", ax=ax,
                     legend=ax is first)
        ax.set_xscale("log")
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.minorticks_off()
        ax.set(xlabel="training budget (epochs)", ylabel="")
    if first.get_legend():  # one legend for every panel, beside them
        handles, labels = first.get_legend_handles_labels()
        first.get_legend().remove()
        fig.legend(handles, labels, loc="center right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 0.88, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_budgets_plot(metrics_csv: str, dataset: str, title: str, path: str) -> None:
    """:func:`plot_budgets` of ``dataset``'s rows of the study's ``metrics.csv``; a plot that
    says so when no run of it trained."""
    metrics = pd.read_csv(metrics_csv)
    metrics = metrics[metrics.dataset == dataset]
    with atomic_path(path) as tmp:
        if metrics.empty:
            plot_nothing(f"Every run on {dataset} diverged: nothing to plot.", tmp)
        else:
            plot_budgets(metrics, title, tmp)


def stopped_early(runs: pd.DataFrame, dataset: str) -> list[str]:
    """One phrase per run of ``dataset`` (rows of ``runs.csv``) that early stopping ended
    before its budget: ``bce latent 16 seed 0: stopped at epoch 23 of 30``."""
    rows = runs[(runs.dataset == dataset) & runs.stopped_early_at.notna()]
    return [f"{r.loss} latent {r.latent_dim} seed {r.seed}: stopped at epoch "
            f"{int(r.stopped_early_at)} of {r.epochs}" for r in rows.itertuples()]


def ran_whole_budget(runs: pd.DataFrame, dataset: str, budget: int) -> list[str]:
    """One phrase per trained run of ``dataset`` at ``budget`` (the longest) that early
    stopping did not end: it trained every epoch of the cap, so its numbers are those of a
    run that may still improve, not of a converged one (``bce latent 16 seed 1``)."""
    rows = runs[(runs.dataset == dataset) & (runs.epochs == budget)
                & (runs.status == "trained") & runs.stopped_early_at.isna()]
    return [f"{r.loss} latent {r.latent_dim} seed {r.seed}" for r in rows.itertuples()]


def budget_parts(comparisons: pd.DataFrame, dataset: str, budgets: list[int]) -> list[dict]:
    """For each budget after the shortest: what became of the differences between losses
    found at the shortest budget (and which are new), :func:`vaestudy.analysis.across.carry_over`
    within ``dataset``, as counts, sentences and the table's rows."""
    mine = comparisons[comparisons.dataset == dataset]
    first, parts = budgets[0], []
    for longer in budgets[1:]:
        table = across.carry_over(mine, first, longer, by="epochs")
        parts.append({"reference": first, "other": longer, "table": table,
                      "counts": across.counts(table),
                      "sentences": across.sentences(table, f"at {budget_text(first)}",
                                                    f"at {budget_text(longer)}", LABELS)})
    return parts


#: The columns of a step's table in the report, with the budgets in their names.
STEP_COLUMNS = ["metric", "latent_dim", "loss_a", "loss_b", "mean_diff_ref", "ci_low_ref",
                "ci_high_ref", "verdict_ref", "mean_diff_other", "ci_low_other", "ci_high_other",
                "verdict_other", "outcome"]


def section(comparisons: pd.DataFrame, runs: pd.DataFrame, names: list[str],
            epochs: list[int], plots: dict[str, str]) -> list[dict]:
    """The report's section across training budgets (a study with two budgets or more), one
    entry per dataset of ``names``: the differences between losses at the shortest budget
    followed to each longer one (:func:`budget_parts`, each step's ``table`` with its columns
    named by budget), the runs early stopping ended before their budget and those it did not
    end at the longest (from ``runs``), and the plot of the metrics against the budget
    (``plots`` by dataset, embedded)."""
    if len(epochs) < 2:
        return []
    out = []
    for name in names:
        steps = budget_parts(comparisons, name, epochs)
        for step in steps:
            step["table"] = step["table"][STEP_COLUMNS].rename(columns=lambda c: c.replace(
                "_ref", f" ({step['reference']} ep.)").replace("_other", f" ({step['other']} ep.)"))
        out.append({"name": name, "title": datasets.get(name).title, "steps": steps,
                    "stopped": stopped_early(runs, name),
                    "whole": ran_whole_budget(runs, name, max(epochs)), "plot": plots.get(name)})
    return out
