"""The report's sections of one dataset at one training budget, and the section across
datasets: the numbers of the run as HTML tables and generated sentences,
for :func:`vaestudy.report.report.render`."""

from __future__ import annotations

import pandas as pd

from vaestudy.analysis import across
from vaestudy.analysis.aggregate import COMPARABLE, DENSITY, LABELS
from vaestudy.analysis.answer import answer, verdict_matrix
from vaestudy.analysis.findings import findings
from vaestudy.analysis.study_plots import summary_table
from vaestudy.core import datasets, pictured
from vaestudy.core.losses import by_falling_beta

COMPARABLE_TABLE = ["fid_classifier", "class_entropy", "classes_covered", "recon_accuracy",
                    "recon_mse", "recon_bce", "knn_accuracy", "active_units", "test_kl"]
LIKELIHOOD_TABLE = ["test_log_px", "test_neg_elbo", "test_recon", "iwae_gap", "bits_per_dim",
                    "bits_per_dim_bound", "mass_inside"]


def likelihood_table(metrics: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The log-likelihood table: mean ± CI per (loss, latent size), with the data each number
    is measured on and the importance samples K x test images of log p(x)."""
    table = summary_table(metrics, columns)
    by = ["dataset", "epochs", "loss", "latent_dim"]
    first = metrics.groupby(by).first()
    keys = list(zip(*(table[k] for k in by)))
    at = table.columns.get_loc("seeds") + 1
    table.insert(at, "data", [first.loc[k, "log_px_data"] for k in keys])
    table.insert(at + 1, "K x images", [f"{first.loc[k, 'iwae_samples']} x "
                                        f"{first.loc[k, 'iwae_images']:,}" for k in keys])
    return table


def table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, classes="metrics", border=0, float_format="{:.4g}".format,
                         na_rep="")


def dataset_part(name: str, epochs: int, metrics: pd.DataFrame, comparisons: pd.DataFrame,
                 pictures: dict, classifier: dict, study: dict,
                 several: tuple[bool, bool], budget: str = "") -> dict:
    """The report's sections of one dataset after the training budget ``epochs`` (findings,
    design, tables, plots, samples, latent space) from its rows of ``metrics`` and
    ``comparisons``; ``pictures`` holds its embedded ``plots`` and ``shown`` run pictures;
    ``several``: whether the study has more datasets, more budgets (the section titles and
    anchors then name the dataset, the budget in words: ``budget``, e.g. "10 epochs")."""
    info = datasets.get(name)
    sizes = design(metrics)
    ll_cols = [c for c in LIKELIHOOD_TABLE if metrics[c].notna().any()]
    density = comparisons[comparisons.metric.isin(list(DENSITY))]
    names = [info.title] if several[0] else []
    names += [budget] if several[1] else []
    return dict(
        name=name, title=info.title, item=info.item, epochs=epochs,
        label=", ".join(names) or info.title,
        suffix=(f"-{name}" if several[0] else "") + (f"-e{epochs}" if several[1] else ""),
        heading=", ".join(names) + ": " if names else "",
        study={**study, **sizes, "training": {**study["training"], "epochs": epochs},
               "log_px_estimators": log_px_estimators(metrics)},
        # the classes of the reconstructions in words, as their captions say them
        reconstructions_shown=pictured.reconstructions_shown(study["n_reconstructions"],
                                                             sizes["n_test"], name),
        losses=list(dict.fromkeys(metrics.loss)),
        latents=sorted(set(metrics.latent_dim)),
        first_seed=min(metrics.seed),
        likelihoods=dict(zip(metrics.loss, metrics.likelihood)),  # as the evaluation wrote it
        data_per_loss=dict(zip(metrics.loss, metrics.log_px_data)),
        mixed_data=metrics.data.nunique() > 1,  # binary and gray losses side by side
        betas={loss: metrics[metrics.loss == loss].beta.iloc[0]
               for loss in by_falling_beta(metrics)},
        comparable=table_html(summary_table(metrics, COMPARABLE_TABLE)),
        loglik=table_html(likelihood_table(metrics, ll_cols)),
        comparisons=table_html(comparisons.rename(columns={"effect_size_gz": "g_z"})),
        density=table_html(density.rename(columns={"effect_size_gz": "g_z"})),
        binary_losses=sorted(set(metrics.loss[metrics.data == "binary"])),
        dequantized=sorted(set(metrics.loss[metrics.data == "gray"])),
        findings=findings(metrics, comparisons),
        answer=answer(metrics, comparisons),
        verdicts=verdicts(metrics, comparisons),
        answer_latent=int(metrics.latent_dim.max()),
        n_comparisons=int(comparisons.metric.isin(list(COMPARABLE)).sum()),
        classifier=classifier, plots=pictures["plots"], shown=pictures["shown"],
    )


def verdicts(metrics: pd.DataFrame, comparisons: pd.DataFrame) -> list[dict]:
    """One loss x loss matrix of verdicts per comparable metric and latent size
    (:func:`vaestudy.analysis.answer.verdict_matrix`), with the metric's label and direction."""
    losses = list(dict.fromkeys(metrics.loss))
    out = []
    for metric, (label, higher) in COMPARABLE.items():
        for latent in sorted(set(metrics.latent_dim)):
            if not ((comparisons.metric == metric) & (comparisons.latent_dim == latent)).any():
                continue
            better = "" if higher is None else (" (higher is better)" if higher
                                                else " (lower is better)")
            out.append({"label": label + better, "latent": latent,
                        "html": verdict_matrix(comparisons, metric, latent, losses)})
    return out


def across_part(comparisons: pd.DataFrame, names: list[str],
                plots: dict[str, str] | None = None, epochs: int | None = None) -> list[dict]:
    """The cross-dataset section (of one training budget's ``comparisons``; ``epochs``: that
    budget, named in the headings when the study has several): for each dataset after the
    first (the reference), the pairs of losses separated on either, what became of them
    (:mod:`vaestudy.analysis.across`), as counts, sentences, a table and the forest plot of
    ``plots`` (by dataset, embedded)."""
    reference, parts = names[0], []
    for other in names[1:]:
        table = across.carry_over(comparisons, reference, other)
        shown = table[["metric", "latent_dim", "loss_a", "loss_b", "mean_diff_ref",
                       "ci_low_ref", "ci_high_ref", "verdict_ref", "mean_diff_other",
                       "ci_low_other", "ci_high_other", "verdict_other", "outcome"]]
        parts.append({"reference": datasets.get(reference).title,
                      "other": datasets.get(other).title, "counts": across.counts(table),
                      "plot": (plots or {}).get(other), "epochs": epochs,
                      "sentences": across.sentences(
                          table, f"on {datasets.get(reference).title}",
                          f"on {datasets.get(other).title}", LABELS),
                      "table": table_html(shown.rename(columns=lambda c: c.replace(
                          "_ref", f" ({reference})").replace("_other", f" ({other})")))})
    return parts


def design(metrics: pd.DataFrame) -> dict:
    """The evaluation's sizes as the metrics (of one dataset, or of the study) recorded them
    (the same for every run; the log-likelihood's estimator may not be: :func:`log_px_estimators`)."""
    first = metrics.iloc[0]
    return {"n_train": int(first.n_train), "n_val": int(first.n_val),
            "test_split": first.split, "elbo_samples": int(first.elbo_samples),
            "n_generated": int(first.n_generated), "n_test": int(first.n_test)}


def log_px_estimators(metrics: pd.DataFrame) -> str:
    """The importance samples K and the test images of log p(x) of one dataset's runs at one
    budget, in words: one phrase when every run had the same, else one per setting with the
    losses that had it (``evaluation.overrides``)."""
    groups = list(metrics.groupby(["iwae_samples", "log_px_images_text"], sort=False))
    return "; ".join(f"K = {int(k):,} on {images}"
                     + (" for " + ", ".join(dict.fromkeys(runs.loss)) if len(groups) > 1 else "")
                     for (k, images), runs in groups)
