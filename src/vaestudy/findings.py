"""The report's findings, written from the numbers of this run (no hand-written figures).

Sentences compare losses only on metrics that are comparable across likelihoods; log-
likelihoods are reported within their own family. A loss is called better only where the
paired test separates it (Holm-corrected p < 0.05 over the tests of that comparison, or the
same non-zero difference in every pair); otherwise the losses are "indistinguishable at this
many seeds".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vaestudy.aggregate import COMPARABLE
from vaestudy.losses import FAMILIES, PIXELS
from vaestudy.stats import holm, paired_test, t_interval

#: Burda et al. (2016), Table 1: one-stochastic-layer VAE, dynamically binarized MNIST, K=5000.
IWAE_PAPER_VAE_NLL = 86.76
ALPHA = 0.05
#: What "what changes" follows along the Gaussian variants, in the report's order.
MECHANISM = ("test_kl", "active_units", "recon_mse", "fid_classifier")
SHORT = {"test_kl": "KL per image (nats)", "active_units": "active units",
         "recon_mse": "reconstruction MSE per pixel", "fid_classifier": "Fréchet distance",
         "recon_accuracy": "classifier accuracy on reconstructions",
         "knn_accuracy": "k-NN accuracy on latent means"}


def _fmt(values) -> str:
    """Mean ± 95% CI half-width; values indistinguishable from 0 (below 1e-4, e.g. the KL
    of a collapsed posterior, 1e-7 nats) are written as such, not as float noise."""
    lo, hi = t_interval(values)
    mean, half = float(np.mean(values)), (hi - lo) / 2
    if max(abs(lo), abs(hi)) < 1e-4:
        return "0 (below 0.0001)"
    return f"{mean:.3g}" if len(values) < 2 else f"{mean:.3g} ± {half:.2g}"


def separated(test: dict, p_adjusted: float) -> bool:
    """Whether a paired comparison shows a difference: Holm-adjusted p below 5%, or (no
    t-test possible) the same non-zero difference in every one of >= 2 pairs."""
    if test["n_pairs"] < 2:
        return False
    if test["sd_diff"] == 0:
        return test["mean_diff"] != 0
    return bool(p_adjusted < ALPHA)


def _paired(group: pd.DataFrame, metric: str, a: str, b: str) -> dict:
    """Paired test of loss a - loss b on ``metric`` over the seeds of one latent size."""
    wide = group.pivot_table(index="seed", columns="loss", values=metric)[[a, b]].dropna()
    return paired_test(wide[a] - wide[b])


def best_per_latent(metrics: pd.DataFrame, metric: str) -> list[str]:
    """Per latent size: the loss with the best mean of ``metric``, called best only where the
    paired tests against every other loss (Holm-corrected) separate it."""
    label, higher = COMPARABLE[metric]
    out = []
    for latent, group in metrics.groupby("latent_dim"):
        by_loss = group.groupby("loss")[metric]
        means = by_loss.mean().sort_values(ascending=not higher)
        parts = ", ".join(f"{loss} {_fmt(by_loss.get_group(loss))}" for loss in means.index)
        top, others = means.index[0], list(means.index[1:])
        tests = [_paired(group, metric, top, other) for other in others]
        p_adj = holm([t["p_value"] for t in tests])
        tied = [o for o, t, p in zip(others, tests, p_adj) if not separated(t, p)]
        n_seeds = group.seed.nunique()
        if not others:
            verdict = f"only <b>{top}</b> was run"
        elif not tied:
            verdict = f"best {label} with <b>{top}</b>"
        else:
            verdict = (f"{label}: <b>{top}</b> and {', '.join(tied)} are indistinguishable "
                       f"at {n_seeds} seed(s)")
        out.append(f"Latent size {latent}: {verdict} ({parts}; mean ± 95% CI over seeds; "
                   f"paired tests over seeds, Holm-corrected).")
    return out


def pooled_comparisons(comparisons: pd.DataFrame, metric: str) -> list[str]:
    """Per pair of losses that includes the reference (bce if run, else the first loss; the
    other pairs are in the table): the paired difference pooled over every (latent size,
    seed) point both losses ran on, with its Holm-corrected p-value (family: this metric's
    tests)."""
    out = []
    label = COMPARABLE[metric][0]
    rows = comparisons[comparisons.metric == metric]
    names = list(dict.fromkeys([*rows.loss_a, *rows.loss_b]))
    ref = "bce" if "bce" in names else (names[0] if names else None)
    for row in rows[(rows.loss_a == ref) | (rows.loss_b == ref)].itertuples():
        head = f"{row.loss_a} − {row.loss_b} in {label}: {row.mean_diff:.3g}"
        if row.n_pairs < 2:
            out.append(f"{head} (one pair only: no test).")
        elif row.sd_diff == 0:
            same = ("identical in all" if row.mean_diff == 0
                    else "the same difference in every one of the")
            out.append(f"{head}, {same} {row.n_pairs} pairs (no spread: no t-test).")
        else:
            verdict = ("a difference" if separated(row._asdict(), row.p_holm)
                       else "indistinguishable at this many seeds")
            out.append(f"{head} [{row.ci_low:.3g}, {row.ci_high:.3g}] over {row.n_pairs} pairs "
                       f"(latent size, seed); paired t-test p = {row.p_value:.2g}, Holm "
                       f"p = {row.p_holm:.2g}, d<sub>z</sub> = {row.effect_size_dz:.2g}: "
                       f"{verdict}.")
    return out


def by_falling_beta(group: pd.DataFrame) -> list[str]:
    """The fixed-sigma Gaussian losses of ``group`` (the registry's scale ``fixed``), largest
    KL weight beta = 2 sigma^2 first: from collapse to sharp."""
    fixed = group[group.family.map(lambda f: FAMILIES[f].scale) == "fixed"]
    return list(fixed.groupby("loss").beta.first().sort_values(ascending=False).index)


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
    """Where the pixel-averaged squared error (beta = 784, one per pixel) lands."""
    hit = group[group.loss.isin(by_falling_beta(group)) & np.isclose(group.beta, PIXELS)]
    if hit.empty:
        return []
    loss, latent = hit.loss.iloc[0], int(hit.latent_dim.iloc[0])
    active = hit.active_units.mean()
    state = ("every unit inactive: posterior collapse, the decoder ignores z and draws one "
             "average image" if active == 0 else f"{active:.3g} of {latent} units active")
    text = (f"The pixel-averaged squared error ({loss}, β = 784): KL {_fmt(hit.test_kl)} "
            f"nats per image, {state}; Fréchet distance {_fmt(hit.fid_classifier)}")
    if "bce" in set(group.loss):
        text += f" against {_fmt(group[group.loss == 'bce'].fid_classifier)} for bce"
    return [text + "."]


def closest_to_bce(group: pd.DataFrame) -> list[str]:
    """Which Gaussian loss differs from bce on the fewest mechanism metrics (paired over
    seeds, Holm-corrected within each metric), ties broken by the smaller relative gaps."""
    order = by_falling_beta(group)
    if "bce" not in set(group.loss) or not order:
        return []
    tests = {m: {loss: _paired(group, m, loss, "bce") for loss in order} for m in MECHANISM}
    differs = {loss: [] for loss in order}
    for m in MECHANISM:
        p_adj = dict(zip(order, holm([tests[m][loss]["p_value"] for loss in order])))
        for loss in order:
            if separated(tests[m][loss], p_adj[loss]):
                differs[loss].append(m)
    scale = {m: abs(group[group.loss == "bce"][m].mean()) + 1e-9 for m in MECHANISM}
    gap = {loss: sum(abs(tests[m][loss]["mean_diff"]) / scale[m] for m in MECHANISM)
           for loss in order}
    best = min(order, key=lambda loss: (len(differs[loss]), gap[loss]))
    same = [SHORT[m] for m in MECHANISM if m not in differs[best]]
    text = f"Closest to bce: <b>{best}</b> (β = {group[group.loss == best].beta.iloc[0]:.3g})"
    if same:
        text += f", indistinguishable from bce in {', '.join(same)}"
    if differs[best]:
        text += f"; different in {', '.join(SHORT[m] for m in differs[best])}"
    n = group.seed.nunique()
    return [text + f" (paired over {n} seed(s), Holm-corrected per metric)."]


def what_changes(metrics: pd.DataFrame) -> list[str]:
    """The report's first section: per latent size, how sigma moves the mechanism metrics,
    where the pixel-averaged MSE lands and which sigma behaves like bce."""
    out = []
    for latent, group in metrics.groupby("latent_dim"):
        lines = sigma_sweep(group) + pixel_averaged(group) + closest_to_bce(group)
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
    """Best log-likelihood per loss, never compared across losses."""
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
    """All generated findings, by topic ("changes" first: the study's question)."""
    return {
        "changes": what_changes(metrics),
        "samples": best_per_latent(metrics, "fid_classifier")
        + pooled_comparisons(comparisons, "fid_classifier"),
        "reconstructions": best_per_latent(metrics, "recon_mse")
        + pooled_comparisons(comparisons, "recon_accuracy"),
        "latent": best_per_latent(metrics, "knn_accuracy") + [collapse_sentence(metrics)],
        "likelihood": likelihood_sentences(metrics),
    }
