"""The report's findings, written from the numbers of this run (no hand-written numbers).

Sentences compare losses only on metrics that are comparable across likelihoods; log-
likelihoods are reported within their own family. Every verdict on a pair of losses is the
``verdict`` column of the study's paired comparisons (:func:`vaestudy.analysis.stats.
paired_comparisons`: per metric and latent size, Holm-corrected over all pairs): a loss is
called best only where that verdict separates it from every other loss; otherwise the losses
are "not separated" (no claim that they are equal), or there are too few seeds for any test
to decide.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vaestudy.analysis.aggregate import COMPARABLE, DENSITY, MECHANISM, SHORT
from vaestudy.analysis.stats import difference_text, seeds_needed, t_interval
from vaestudy.core.losses import PIXELS, by_falling_beta

#: Burda et al. (2016), Table 1: one-stochastic-layer VAE, dynamically binarized MNIST, K=5000.
IWAE_PAPER_VAE_NLL = 86.76
IWAE_PAPER = (f"the IWAE paper's one-stochastic-layer VAE reports −{IWAE_PAPER_VAE_NLL} nats "
              "(Burda et al. 2016, Table 1: an MLP encoder and decoder with 50 latent units, "
              "3,280 passes over the data, K = 5000 on all 10,000 test images)")


def _fmt(values) -> str:
    """Mean ± 95% CI half-width; values that round to 0 (below 1e-4, e.g. the KL
    of a collapsed posterior, 1e-7 nats) are written as such, not as float noise; a value
    that is ±inf or NaN leaves no mean to print."""
    if not np.isfinite(np.asarray(values, dtype=float)).all():
        return "not finite"
    lo, hi = t_interval(values)
    mean, half = float(np.mean(values)), (hi - lo) / 2
    if max(abs(lo), abs(hi)) < 1e-4:
        return "0 (below 0.0001)"
    return f"{mean:.3g}" if len(values) < 2 else f"{mean:.3g} ± {half:.2g}"


def pair_rows(comparisons: pd.DataFrame, metric: str, latent: int, loss: str) -> pd.DataFrame:
    """The comparison rows of ``metric`` at latent size ``latent`` that involve ``loss``,
    oriented as ``loss`` - other (``other``, ``mean_diff``, ``ci_low``, ``ci_high``)."""
    rows = comparisons[(comparisons.metric == metric) & (comparisons.latent_dim == latent)
                       & ((comparisons.loss_a == loss) | (comparisons.loss_b == loss))].copy()
    flip = rows.loss_b == loss
    rows["other"] = rows.loss_b.where(~flip, rows.loss_a)
    rows.loc[flip, ["mean_diff", "ci_low", "ci_high"]] = -rows.loc[
        flip, ["mean_diff", "ci_high", "ci_low"]].to_numpy() + 0.0  # + 0.0: no "-0"
    return rows


#: What the interval of a pair is, where it stands beside a Holm-corrected verdict.
UNADJUSTED = "95% CI, not adjusted for multiple comparisons"


def _verdict_words(row, n_seeds: int) -> str:
    """A row's verdict as the report prints it everywhere."""
    if row.verdict == "non-finite":
        return "no verdict: a difference is not finite (±inf or NaN)"
    if row.verdict == "too few seeds":
        if row.n_pairs < 2:
            return "too few seeds: one pair, no test"
        if row.family_size < 2:
            return (f"the same difference in all {row.n_pairs} pairs; a sign test needs "
                    f"≥ {seeds_needed(1)} seeds to reach p < 0.05")
        return (f"the same difference in all {row.n_pairs} pairs; with Holm's correction over "
                f"{row.family_size} pairs a sign test is sure to reach p < 0.05 only from "
                f"{seeds_needed(row.family_size)} seeds")
    if row.test == "sign" and row.mean_diff == 0:
        return f"identical in all {row.n_pairs} pairs"
    if row.verdict == "different":
        return f"different (Holm p = {row.p_holm:.2g})"
    return f"not separated at {n_seeds} seed(s) (Holm p = {row.p_holm:.2g})"


def best_per_latent(metrics: pd.DataFrame, comparisons: pd.DataFrame, metric: str) -> list[str]:
    """Per latent size: the loss with the best mean of ``metric``, called best only where
    the comparison table's verdict separates it from every other loss, in its favour."""
    label, higher = {**COMPARABLE, **DENSITY}[metric]
    out = []
    for latent, group in metrics.groupby("latent_dim"):
        by_loss = group.groupby("loss")[metric]
        means = by_loss.mean().sort_values(ascending=not higher)
        parts = ", ".join(f"{loss} {_fmt(by_loss.get_group(loss))}" for loss in means.index)
        top, n_seeds = means.index[0], group.seed.nunique()
        rows = pair_rows(comparisons, metric, latent, top)
        better = (rows.mean_diff > 0) if higher else (rows.mean_diff < 0)
        tied = list(rows.other[(rows.verdict != "different") | ~better])
        broken = list(rows.other[rows.verdict == "non-finite"])
        if len(means) < 2:
            verdict = f"only <b>{top}</b> was run"
        elif broken:
            verdict = (f"{label}: no verdict: a difference between {top} and "
                       f"{', '.join(broken)} is not finite (±inf or NaN)")
        elif not tied:
            verdict = f"best {label} with <b>{top}</b>"
        elif (rows.verdict == "too few seeds").all():
            verdict = (f"{label}: <b>{top}</b> has the best mean; {n_seeds} seed(s) are too "
                       f"few for a test to separate it")
        else:
            verdict = (f"{label}: <b>{top}</b> and {', '.join(tied)} are not separated at "
                       f"{n_seeds} seed(s)")
        out.append(f"Latent size {latent}: {verdict} ({parts}; mean ± 95% CI over seeds; "
                   f"paired tests over seeds, Holm-corrected over all pairs of losses).")
    return out


def reference_pairs(metrics: pd.DataFrame, comparisons: pd.DataFrame,
                    metric: str) -> list[str]:
    """Per latent size, the pairs with the reference loss (bce if run, else the first loss):
    the paired difference over seeds with its 95% CI (per pair, not Holm-adjusted: said so)
    and the table's verdict."""
    label = COMPARABLE[metric][0]
    losses = list(dict.fromkeys(metrics.loss))
    ref = "bce" if "bce" in losses else losses[0]
    out = []
    for latent, group in metrics.groupby("latent_dim"):
        n_seeds = group.seed.nunique()
        if n_seeds < 2:  # no interval, no test: the line of best_per_latent says so once
            continue
        for row in pair_rows(comparisons, metric, latent, ref).itertuples():
            diff = difference_text(row.mean_diff, row.ci_low, row.ci_high)
            diff += "" if np.isnan(row.ci_low) else f" ({UNADJUSTED})"
            out.append(f"Latent size {latent}: {ref} − {row.other} in {label}: "
                       f"{diff} over {row.n_pairs} seed(s): "
                       f"{_verdict_words(row, n_seeds)}.")
    return out


def sigma_sweep(group: pd.DataFrame) -> list[str]:
    """How the fixed sigma moves the mechanism metrics, in order of falling beta."""
    order = by_falling_beta(group)
    if len(order) < 2:
        return []
    beta = group.groupby("loss").beta.first()
    sigma = group.groupby("loss").sigma.first()
    path = " → ".join(f"{loss} (σ = {sigma[loss]:.3g}, β = {beta[loss]:.3g})" for loss in order)
    out = [f"Along the Gaussian losses from the largest to the smallest KL weight, {path}:"]
    for metric in MECHANISM:
        values = " → ".join(_fmt(group[group.loss == loss][metric]) for loss in order)
        out.append(f"{SHORT[metric]}: {values}.")
    return out


def pixel_averaged(group: pd.DataFrame) -> list[str]:
    """Where the pixel-averaged squared error (beta = 784, one per pixel) lands. Posterior
    collapse (q(z|x) is the prior) is said only where no unit is active *and* the KL per
    image is below 1e-4 nats in every seed: active units measure how much the posterior means
    vary across images (Var_x E[z_d|x] > 0.01 per dimension), not the KL, and the mutual
    information of x and z is at most the mean KL."""
    hit = group[group.loss.isin(by_falling_beta(group)) & np.isclose(group.beta, PIXELS)]
    if hit.empty:
        return []
    loss, latent = hit.loss.iloc[0], int(hit.latent_dim.iloc[0])
    active, kl = hit.active_units.mean(), hit.test_kl.abs().max()
    if active == 0 and kl < 1e-4:
        state = ("every unit inactive: posterior collapse (q(z|x) is the prior up to a KL "
                 "below 0.0001 nats per image, so z carries at most that much information "
                 "about x)")
    elif active == 0 and kl >= 1e-4:
        state = ("no unit active: no dimension's posterior mean varies across the test images "
                 "by a variance above 0.01; that measures the means, not the KL, which is not "
                 "0 here: q(z|x) differs from the prior")
    else:
        state = f"{active:.3g} of {latent} units active"
    text = (f"The pixel-averaged squared error ({loss}, β = {PIXELS}): KL {_fmt(hit.test_kl)} "
            f"nats per image, {state}; Fréchet distance {_fmt(hit.fid_classifier)}")
    if "bce" in set(group.loss):
        text += f" against {_fmt(group[group.loss == 'bce'].fid_classifier)} for bce"
    return [text + "."]


def versus_bce(group: pd.DataFrame, comparisons: pd.DataFrame) -> list[str]:
    """Each Gaussian loss against bce on the mechanism metrics: the paired difference over
    the seeds both ran (a loss may have lost seeds to divergence) with its 95% CI (per pair,
    not Holm-adjusted: said so) and the comparison table's verdict (effect sizes, no
    ranking)."""
    order = by_falling_beta(group)
    if "bce" not in set(group.loss) or not order:
        return []
    latent, out = int(group.latent_dim.iloc[0]), []
    for loss in order:
        found = [(metric, row) for metric in MECHANISM
                 for row in pair_rows(comparisons, metric, latent, loss).itertuples()
                 if row.other == "bce"]
        counts = sorted({row.n_pairs for _, row in found})
        tested = bool(counts) and counts[-1] >= 2
        parts = [f"{SHORT[metric]} "
                 f"{difference_text(row.mean_diff, row.ci_low, row.ci_high, signed=True)}"
                 + (f": {_verdict_words(row, row.n_pairs)}" if tested else "")
                 for metric, row in found]
        head = (f"paired over {' or '.join(map(str, counts))} seeds; [ ]: 95% CI per pair, "
                "not adjusted for multiple comparisons; verdicts Holm-corrected over all pairs "
                "of losses" if tested else "one seed: no interval, no test")
        out.append(f"{loss} − bce ({head}): " + "; ".join(parts) + ".")
    return out


def what_changes(metrics: pd.DataFrame, comparisons: pd.DataFrame) -> list[str]:
    """The report's first section: per latent size, how sigma moves the mechanism metrics,
    where the pixel-averaged MSE lands and how far each sigma is from bce."""
    out = []
    for latent, group in metrics.groupby("latent_dim"):
        lines = sigma_sweep(group) + pixel_averaged(group) + versus_bce(group, comparisons)
        if lines and metrics.latent_dim.nunique() > 1:
            lines[0] = f"Latent size {latent}. " + lines[0]
        out += lines
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
    """log p(x) per loss and latent size as mean ± 95% CI over seeds, with the estimator's
    K and images; never compared across losses."""
    out = []
    for (loss, latent), group in metrics.groupby(["loss", "latent_dim"]):
        first = group.iloc[0]
        images = first.get("log_px_images_text", f"{first.iwae_images:,} test images")
        text = (f"<b>{loss}</b>, latent {latent} ({first.log_px_data} test images): log p(x) "
                f"{_fmt(group.test_log_px)} nats over {len(group)} seed(s)"
                f"{', mean ± 95% CI half-width' if len(group) > 1 else ''} (IWAE K = "
                f"{first.iwae_samples} on {images})")
        if group.get("bits_per_dim", pd.Series(dtype=float)).notna().any():
            text += f", {_fmt(group.bits_per_dim)} bits/dim (exact discrete likelihood)"
        if group.get("bits_per_dim_bound", pd.Series(dtype=float)).notna().any():
            text += (f", bits/dim bound {_fmt(group.bits_per_dim_bound)} (an upper bound for "
                     f"the 8-bit bins' probabilities, which sum to {_fmt(group.mass_inside)} "
                     f"per pixel: p(x|z)'s mass inside [0, 1])")
        if loss == "bce" and first.binarization == "dynamic" and first.get("dataset") == "mnist":
            trained = (f"after {int(first.epochs_run)} epoch(s) of training"
                       if pd.notna(first.get("epochs_run")) else "")
            text += f"; this study's convolutional VAE {trained}; {IWAE_PAPER}"
        out.append(text + ".")
    return out


def density_sentences(metrics: pd.DataFrame, comparisons: pd.DataFrame) -> list[str]:
    """Per latent size, the likelihoods of the 8-bit levels ranked by their exact bits/dim
    of the test images (the one likelihood quantity they share: docs/theory.md Section 7),
    with the comparison table's verdict; nothing when fewer than two losses have bits/dim."""
    gray = metrics[metrics.bits_per_dim.notna()] if "bits_per_dim" in metrics else metrics[:0]
    return best_per_latent(gray, comparisons, "bits_per_dim") if gray.loss.nunique() > 1 else []


def findings(metrics: pd.DataFrame, comparisons: pd.DataFrame) -> dict[str, list[str]]:
    """All generated findings of one dataset, by topic ("changes" first: the study's
    question)."""
    return {
        "changes": what_changes(metrics, comparisons),
        "samples": best_per_latent(metrics, comparisons, "fid_classifier")
        + reference_pairs(metrics, comparisons, "fid_classifier"),
        "reconstructions": best_per_latent(metrics, comparisons, "recon_mse")
        + reference_pairs(metrics, comparisons, "recon_accuracy"),
        "latent": best_per_latent(metrics, comparisons, "knn_accuracy")
        + [collapse_sentence(metrics)],
        "likelihood": likelihood_sentences(metrics),
        "density": density_sentences(metrics, comparisons),
    }
