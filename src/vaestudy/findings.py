"""The report's findings, written from the numbers of this run (no hand-written figures).

Sentences compare losses only on metrics that are comparable across likelihoods; log-
likelihoods are reported within their own family.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vaestudy.aggregate import COMPARABLE
from vaestudy.stats import t_interval

#: Burda et al. (2016), Table 1: one-stochastic-layer VAE, dynamically binarized MNIST, K=5000.
IWAE_PAPER_VAE_NLL = 86.76


def _fmt(values) -> str:
    lo, hi = t_interval(values)
    mean = float(np.mean(values))
    return f"{mean:.3g}" if len(values) < 2 else f"{mean:.3g} ± {(hi - lo) / 2:.2g}"


def best_per_latent(metrics: pd.DataFrame, metric: str) -> list[str]:
    """Per latent size: which loss has the best mean of ``metric`` and by how much."""
    label, higher = COMPARABLE[metric]
    out = []
    for latent, group in metrics.groupby("latent_dim"):
        by_loss = group.groupby("loss")[metric]
        means = by_loss.mean().sort_values(ascending=not higher)
        parts = ", ".join(f"{loss} {_fmt(by_loss.get_group(loss))}" for loss in means.index)
        out.append(f"Latent size {latent}: best {label} with <b>{means.index[0]}</b> "
                   f"({parts}; mean ± 95% CI over seeds).")
    return out


def pooled_comparisons(comparisons: pd.DataFrame, metric: str) -> list[str]:
    """Per pair of losses: the paired difference over (latent size, seed) and whether it is
    distinguishable from noise (the 95% CI of the mean difference excludes 0)."""
    out = []
    label = COMPARABLE[metric][0]
    for row in comparisons[comparisons.metric == metric].itertuples():
        if row.n_pairs < 2 or np.isnan(row.ci_low):
            out.append(f"{row.loss_a} − {row.loss_b} in {label}: {row.mean_diff:.3g} "
                       f"(one pair only: no test).")
            continue
        if row.ci_low == row.ci_high == row.mean_diff == 0:
            out.append(f"{row.loss_a} and {row.loss_b} give identical {label} in all "
                       f"{row.n_pairs} paired runs.")
            continue
        verdict = ("within noise (the 95% CI contains 0)" if row.ci_low <= 0 <= row.ci_high
                   else "a difference beyond seed noise")
        effect = ("" if np.isnan(row.effect_size_dz)
                  else f", d<sub>z</sub> = {row.effect_size_dz:.2g}")
        out.append(f"{row.loss_a} − {row.loss_b} in {label}: {row.mean_diff:.3g} "
                   f"[{row.ci_low:.3g}, {row.ci_high:.3g}] over {row.n_pairs} paired runs "
                   f"(paired t-test p = {row.p_value:.2g}{effect}): {verdict}.")
    return out


def collapse_sentence(metrics: pd.DataFrame) -> str:
    """Which runs show posterior collapse (no or some inactive latent dimensions)."""
    hit = metrics[metrics.posterior_collapse != "none"]
    if hit.empty:
        return "No run shows posterior collapse: every latent dimension is active."
    parts = [f"{r.loss}/latent {r.latent_dim}/seed {r.seed}: {r.posterior_collapse} "
             f"({r.active_units} of {r.latent_dim} units active)" for r in hit.itertuples()]
    return "Posterior collapse (active units below the latent size): " + "; ".join(parts) + "."


def likelihood_sentences(metrics: pd.DataFrame) -> list[str]:
    """Best log-likelihood per family, never compared across families."""
    out = []
    for loss, group in metrics.groupby("loss"):
        best = group.loc[group.test_log_px.idxmax()]
        text = (f"<b>{loss}</b> ({best.log_px_data} test images): best log p(x) "
                f"{best.test_log_px:.2f} nats (latent {best.latent_dim}, seed {best.seed}; "
                f"IWAE K = {best.iwae_samples} on {best.iwae_images} images)")
        if pd.notna(best.get("bits_per_dim")):
            text += f", {best.bits_per_dim:.3f} bits/dim"
        if loss == "bce" and best.binarization == "dynamic":
            text += (f"; the IWAE paper's one-layer VAE reports −{IWAE_PAPER_VAE_NLL} nats "
                     f"(K = 5000, all test images, converged training)")
        out.append(text + ".")
    return out


def findings(metrics: pd.DataFrame, comparisons: pd.DataFrame) -> dict[str, list[str]]:
    """All generated findings, by topic."""
    return {
        "samples": best_per_latent(metrics, "fid_classifier")
        + pooled_comparisons(comparisons, "fid_classifier"),
        "reconstructions": best_per_latent(metrics, "recon_mse")
        + pooled_comparisons(comparisons, "recon_accuracy"),
        "latent": best_per_latent(metrics, "knn_accuracy") + [collapse_sentence(metrics)],
        "likelihood": likelihood_sentences(metrics),
    }
