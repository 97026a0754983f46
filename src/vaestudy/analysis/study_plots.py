"""Seaborn comparison plots of the whole study (every run together), with Student-t 95%
confidence intervals over seeds; the pictures of one run: :mod:`vaestudy.evaluation.run_pictures`.

Log-likelihoods of different likelihood families are different quantities (a Bernoulli
probability mass versus a Gaussian density), so they get one panel per loss with its own
axis; only metrics comparable across losses (``aggregate.COMPARABLE``) share axes.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from vaestudy.analysis.aggregate import COMPARABLE, MECHANISM, SHORT  # noqa: E402
from vaestudy.analysis.stats import t_interval  # noqa: E402
from vaestudy.core.atomic import atomic_path
from vaestudy.core.losses import by_falling_beta  # noqa: E402


def _latent_axis(ax, latents) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(set(latents)), [str(v) for v in sorted(set(latents))])
    ax.minorticks_off()


def loss_order(metrics: pd.DataFrame) -> list[str]:
    """The losses along the KL weight: fixed-sigma Gaussians by falling beta = 2 sigma^2
    (from collapse to sharp), then the other losses in the order of the table."""
    fixed = by_falling_beta(metrics)
    return fixed + [loss for loss in metrics.loss.unique() if loss not in fixed]


def comparable_panels(height: float) -> tuple[plt.Figure, list[tuple[plt.Axes, str]]]:
    """A figure of one panel per metric comparable across likelihoods (4 columns, ``height``
    inches a row), each titled with its label and which way is better; the panels with the
    metric each shows (the panels left over are blank)."""
    cols = 4
    rows = -(-len(COMPARABLE) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, height * rows), squeeze=False)
    for ax, (label, higher) in zip(axes.flat, COMPARABLE.values()):
        ax.set_title(label + ("" if higher is None else (" ↑" if higher else " ↓")), fontsize=9)
    for ax in axes.flat[len(COMPARABLE):]:
        ax.axis("off")
    return fig, list(zip(axes.flat, COMPARABLE))


def plot_comparable(metrics: pd.DataFrame, path: Path | str) -> None:
    """Every metric comparable across likelihoods, mean and 95% CI over seeds: against the
    latent size, one line per loss; with one latent size, against the loss, ordered by the
    KL weight (:func:`loss_order`), which shows what the sigma of an MSE loss does."""
    one_size = metrics.latent_dim.nunique() == 1
    fig, panels = comparable_panels(4.2 if one_size else 3.5)
    for ax, col in panels:
        if one_size:
            sns.pointplot(metrics, x="loss", y=col, order=loss_order(metrics), hue="loss",
                          errorbar=t_interval, linestyle="none", capsize=0.2, ax=ax,
                          legend=False)
            ax.tick_params(axis="x", labelrotation=45, labelsize=8)
            xlabel = f"loss by falling KL weight β (latent size {metrics.latent_dim.iloc[0]})"
        else:
            sns.lineplot(metrics, x="latent_dim", y=col, hue="loss", style="loss", markers=True,
                         dashes=False, errorbar=t_interval, err_style="bars", ax=ax,
                         legend=ax is panels[0][0])
            _latent_axis(ax, metrics.latent_dim)
            xlabel = "latent size"
        ax.set(xlabel=xlabel, ylabel="")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_mechanism(metrics: pd.DataFrame, path: Path | str) -> None:
    """What the KL weight of a squared error does, the report's first plot: the KL per
    image, active units, reconstruction MSE and Fréchet distance of samples (mean and 95% CI
    over seeds) of the fixed-sigma Gaussian losses against beta = 2 sigma^2 (log scale), at
    the largest latent size; every other loss as a horizontal line (its mean) and band (its
    CI). Without two fixed-sigma losses, each loss is a point with its interval."""
    latent = int(metrics.latent_dim.max())
    group = metrics[metrics.latent_dim == latent]
    fixed = by_falling_beta(group)
    sweep = len(fixed) >= 2
    fig, axes = plt.subplots(1, len(MECHANISM), figsize=(4.1 * len(MECHANISM), 3.6))
    others = [loss for loss in loss_order(group) if loss not in fixed] if sweep else []
    colours = dict(zip(others, sns.color_palette("tab10")))
    for ax, metric in zip(axes, MECHANISM):
        label, higher = COMPARABLE[metric]
        if sweep:
            sns.lineplot(group[group.loss.isin(fixed)], x="beta", y=metric, marker="o",
                         errorbar=t_interval, err_style="bars", ax=ax, color="black")
            ax.set_xscale("log")
            betas = group.groupby("loss").beta.first()[fixed]
            ax.set_xticks(betas.to_numpy(), [f"{b:.3g} {loss}" for loss, b in betas.items()],
                          fontsize=7, rotation=35, ha="right")
            ax.minorticks_off()
            for loss in others:
                values = group[group.loss == loss][metric]
                low, high = t_interval(values)
                ax.axhline(values.mean(), color=colours[loss], lw=1.2, label=loss)
                ax.axhspan(low, high, color=colours[loss], alpha=0.15, lw=0)
            xlabel = "KL weight β = 2σ² of the squared error"
        else:
            sns.pointplot(group, x="loss", y=metric, order=loss_order(group), hue="loss",
                          errorbar=t_interval, linestyle="none", capsize=0.2, ax=ax,
                          legend=False)
            ax.tick_params(axis="x", labelrotation=45, labelsize=8)
            xlabel = "loss"
        arrow = "" if higher is None else (" ↑" if higher else " ↓")
        ax.set(xlabel=xlabel, ylabel="", title=SHORT[metric] + arrow)
    fig.suptitle(f"latent size {latent}: mean and 95% CI over seeds", fontsize=10)
    fig.tight_layout()
    if others:  # beside the panels, not over the data
        fig.legend(*axes[0].get_legend_handles_labels(), loc="center left", fontsize=8,
                   title="other losses", title_fontsize=8, bbox_to_anchor=(1.0, 0.5))
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def plot_log_likelihood(metrics: pd.DataFrame, path: Path | str) -> None:
    """Test log-likelihood estimate (IWAE) vs latent size, one panel per loss with its own
    y axis: the families' numbers are different quantities."""
    grid = sns.relplot(metrics, x="latent_dim", y="test_log_px", col="loss", kind="line",
                       marker="o", errorbar=t_interval, err_style="bars",
                       facet_kws={"sharey": False}, height=3.4, aspect=1.2)
    for ax in grid.axes.flat:
        _latent_axis(ax, metrics.latent_dim)
    grid.set_axis_labels("latent size", "test log p(x), IWAE (nats/image)")
    grid.set_titles("likelihood: {col_name}")
    grid.savefig(path, dpi=110)
    plt.close(grid.figure)


def plot_training_curves(history: pd.DataFrame, path: Path | str) -> None:
    """Train and validation negative ELBO per epoch, per loss and latent size, mean and
    95% CI over seeds."""
    long = history.melt(id_vars=["loss", "latent_dim", "seed", "epoch"],
                        value_vars=["train_neg_elbo", "val_neg_elbo"], var_name="split",
                        value_name="neg_elbo")
    long["split"] = long.split.str.removesuffix("_neg_elbo")
    long["latent size"] = long.latent_dim.astype(str)  # categorical colours, not a colour scale
    grid = sns.relplot(long, x="epoch", y="neg_elbo", hue="latent size", style="split",
                       col="loss", kind="line", errorbar=t_interval, palette="colorblind",
                       facet_kws={"sharey": False}, height=3.4, aspect=1.2)
    grid.set_axis_labels("epoch", "negative ELBO (nats/image)")
    grid.set_titles("likelihood: {col_name}")
    grid.savefig(path, dpi=110)
    plt.close(grid.figure)


def summary_table(metrics: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Mean and 95% CI half-width over seeds of ``columns`` per (dataset, budget, loss, latent
    size); blank where a loss has no such number (bits/dim of a loss that is no density of
    the gray levels), and no mean where a value is ±inf or NaN beside finite ones."""
    def fmt(values) -> str:
        finite = np.isfinite(values.to_numpy(dtype=float))
        if values.isna().all():
            return ""
        if not finite.all():
            return f"not finite in {(~finite).sum()} of {len(values)} seeds"
        lo, hi = t_interval(values)
        return f"{np.mean(values):.4g} ± {(hi - lo) / 2:.3g}" if len(values) > 1 else \
            f"{np.mean(values):.4g}"

    by = ["dataset", "epochs", "loss", "latent_dim"]
    table = metrics.groupby(by)[columns].agg(fmt)
    table.insert(0, "seeds", metrics.groupby(by).size())
    return table.reset_index()


def plot_heatmap(metrics: pd.DataFrame, column: str, label: str, path: Path | str) -> None:
    """Mean of ``column`` over seeds for every loss x latent size of the grid."""
    table = metrics.pivot_table(index="loss", columns="latent_dim", values=column, aggfunc="mean")
    fig, ax = plt.subplots(figsize=(1.3 * table.shape[1] + 3.5, 0.6 * table.shape[0] + 1.8))
    sns.heatmap(table, annot=True, fmt=".3g", cmap="viridis_r", ax=ax)
    ax.set(xlabel="latent size", ylabel="loss")
    ax.set_title(f"{label},\nmean over seeds", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_nothing(text: str, path: Path | str) -> None:
    """A plot that says why there is nothing to plot (e.g. every run diverged)."""
    fig, ax = plt.subplots(figsize=(6, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_side_by_side(pictures: dict[str, Path | str], title: str, path: Path | str,
                      rows: int | None = None) -> None:
    """Pictures of several losses next to each other, one titled panel per loss: in a row
    for square pictures (sample grids), in two columns of wide ones (reconstructions, rows of
    samples; one column for two losses or fewer). ``rows``: only the first rows of tiles of
    each picture (:func:`vaestudy.evaluation.picture_files.top_rows`), e.g. one row of samples per loss."""
    import imageio.v3 as iio

    from vaestudy.evaluation.picture_files import top_rows

    read = {loss: iio.imread(picture) for loss, picture in pictures.items()}
    if rows:
        read = {loss: top_rows(image, rows) for loss, image in read.items()}
    heights = [image.shape[0] for image in read.values()]
    width = next(iter(read.values())).shape[1]
    n, wide = len(read), width > 1.5 * max(heights)
    if wide:  # each panel as tall as its picture (rows of images), plus its title
        cols = 2 if n > 2 else 1
        tall = [max(heights[i : i + cols]) for i in range(0, n, cols)]  # per row of panels
        size = (6.0 * cols, sum(6.0 * h / width + 0.45 for h in tall) + 0.6)
        fig, axes = plt.subplots(len(tall), cols, figsize=size, squeeze=False,
                                 gridspec_kw={"height_ratios": tall})
        for ax in axes.flat[n:]:
            ax.axis("off")
    else:
        fig, axes = plt.subplots(1, n, figsize=(3.3 * n, 3.7), squeeze=False)
    for ax, (loss, image) in zip(axes.flat, read.items()):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(loss)
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(metrics_csv: str, history_csv: str, out: dict[str, str], dataset: str,
                epochs: int) -> None:
    """The comparison plots of ``dataset`` at the training budget ``epochs`` named in ``out``
    (mechanism, comparable, loglik, training, heatmap) from the aggregated tables; when every
    run of it diverged, each is a plot that says so."""
    metrics, history = (pd.read_csv(path) for path in (metrics_csv, history_csv))
    metrics, history = (t[(t.dataset == dataset) & (t.epochs == int(epochs))]
                        for t in (metrics, history))
    if metrics.empty:
        for path in out.values():
            with atomic_path(path) as tmp:
                plot_nothing(f"Every run on {dataset} at {epochs} epochs diverged: nothing to "
                             f"plot.", tmp)
        return
    for name, draw, table in (("mechanism", plot_mechanism, metrics),
                              ("comparable", plot_comparable, metrics),
                              ("loglik", plot_log_likelihood, metrics),
                              ("training", plot_training_curves, history)):
        with atomic_path(out[name]) as tmp:
            draw(table, tmp)
    with atomic_path(out["heatmap"]) as tmp:
        plot_heatmap(metrics, "fid_classifier", COMPARABLE["fid_classifier"][0], tmp)
