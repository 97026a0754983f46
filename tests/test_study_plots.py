"""Confidence intervals and summary tables of the study."""

import numpy as np
import pandas as pd

from vaestudy.analysis.study_plots import loss_order, plot_comparable, summary_table


def test_summary_table_has_one_row_per_loss_and_latent():
    metrics = pd.DataFrame({"loss": ["bce"] * 4 + ["mse"] * 2, "latent_dim": [2, 2, 16, 16, 2, 2],
                            "seed": [0, 1, 0, 1, 0, 1], "recon_mse": [1, 3, 2, 2, 5, 5.0],
                            "dataset": "mnist", "epochs": 2})
    table = summary_table(metrics, ["recon_mse"])
    assert table.shape == (3, 6)
    assert list(table.columns[:4]) == ["dataset", "epochs", "loss", "latent_dim"]
    assert table.loc[0, "recon_mse"].startswith("2 ± ") and table.loc[0, "seeds"] == 2


def test_losses_are_ordered_along_the_kl_weight():
    metrics = pd.DataFrame({
        "loss": ["bce", "mse-sigma0.1", "mse", "mse-mean", "gauss-learned", "mse"],
        "family": ["bce", "mse", "mse", "mse", "gauss-learned", "mse"],
        "beta": [np.nan, 0.02, 2.0, 784.0, 0.01, 2.0]})
    assert loss_order(metrics) == ["mse-mean", "mse", "mse-sigma0.1", "bce", "gauss-learned"]


def test_one_latent_size_plots_the_metrics_per_loss(tmp_path, monkeypatch):
    """One panel per comparable metric, titled with its label and direction, the losses on
    the x axis in the order of the KL weight, one point (mean) per loss; the PNG decodes."""
    import imageio.v3 as iio
    from matplotlib.figure import Figure

    from vaestudy.analysis.aggregate import COMPARABLE

    rng = np.random.default_rng(0)
    rows = [{"loss": loss, "family": "mse" if beta else "bce", "beta": beta or np.nan,
             "latent_dim": 16, "seed": seed, **{c: rng.normal() for c in COMPARABLE}}
            for loss, beta in (("bce", None), ("mse", 2.0), ("mse-mean", 784.0))
            for seed in range(3)]
    saved, save = [], Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: (saved.append(fig), save(fig, *a, **k)))
    plot_comparable(pd.DataFrame(rows), tmp_path / "c.png")
    axes = [ax for ax in saved[0].axes if ax.get_title()]
    labels = [label for label, _ in COMPARABLE.values()]
    assert [ax.get_title().rstrip(" ↑↓") for ax in axes] == labels
    metrics = pd.DataFrame(rows)
    for ax, col in zip(axes, COMPARABLE):
        assert [t.get_text() for t in ax.get_xticklabels()] == ["mse-mean", "mse", "bce"]
        means = metrics.groupby("loss")[col].mean()[["mse-mean", "mse", "bce"]]
        shown = np.full(3, np.nan)  # the mean drawn at each x position (one line per loss)
        for line in ax.lines:
            x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
            if len(x) == 3 and np.isfinite(y).sum() == 1:  # a point, not an error bar
                shown[np.isfinite(y)] = y[np.isfinite(y)]
        np.testing.assert_allclose(shown, means, rtol=1e-6)
    assert iio.imread(tmp_path / "c.png").ndim == 3


def test_summary_table_prints_no_nan_interval():
    """bits/dim exists only for densities of gray levels: a loss without it gets a blank cell,
    not "nan ± nan"; a value that is ±inf leaves no mean to print."""
    metrics = pd.DataFrame({"dataset": "mnist", "epochs": 2, "loss": ["bce"] * 2 + ["gauss"] * 2 + ["x"] * 2,
                            "latent_dim": 16, "seed": [0, 1] * 3,
                            "bits_per_dim": [np.nan, np.nan, 1.0, 1.2, 2.0, np.inf]})
    table = summary_table(metrics, ["bits_per_dim"]).set_index("loss").bits_per_dim
    assert table["bce"] == "" and table["gauss"].startswith("1.1 ± ")
    assert table["x"] == "not finite in 1 of 2 seeds"
