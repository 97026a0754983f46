"""Confidence intervals and summary tables of the study."""

import numpy as np
import pandas as pd

from vaestudy.study_plots import loss_order, plot_comparable, summary_table, t_interval


def test_t_interval_matches_textbook_value():
    lo, hi = t_interval([1.0, 2.0, 3.0])  # mean 2, s = 1, t(0.975, 2) = 4.3027
    np.testing.assert_allclose([lo, hi], [2 - 4.3027 / np.sqrt(3), 2 + 4.3027 / np.sqrt(3)],
                               rtol=1e-4)
    assert t_interval([5.0]) == (5.0, 5.0)


def test_summary_table_has_one_row_per_loss_and_latent():
    metrics = pd.DataFrame({"loss": ["bce"] * 4 + ["mse"] * 2, "latent_dim": [2, 2, 16, 16, 2, 2],
                            "seed": [0, 1, 0, 1, 0, 1], "recon_mse": [1, 3, 2, 2, 5, 5.0]})
    table = summary_table(metrics, ["recon_mse"])
    assert table.shape == (3, 4)
    assert table.loc[0, "recon_mse"].startswith("2 ± ") and table.loc[0, "seeds"] == 2


def test_losses_are_ordered_along_the_kl_weight():
    metrics = pd.DataFrame({
        "loss": ["bce", "mse-sigma0.1", "mse", "mse-mean", "gauss-learned", "mse"],
        "family": ["bce", "mse", "mse", "mse", "gauss-learned", "mse"],
        "beta": [np.nan, 0.02, 2.0, 784.0, 0.01, 2.0]})
    assert loss_order(metrics) == ["mse-mean", "mse", "mse-sigma0.1", "bce", "gauss-learned"]


def test_one_latent_size_plots_the_metrics_per_loss(tmp_path):
    from vaestudy.aggregate import COMPARABLE

    rng = np.random.default_rng(0)
    rows = [{"loss": loss, "family": "mse" if beta else "bce", "beta": beta or np.nan,
             "latent_dim": 16, "seed": seed, **{c: rng.normal() for c in COMPARABLE}}
            for loss, beta in (("bce", None), ("mse", 2.0), ("mse-mean", 784.0))
            for seed in range(3)]
    plot_comparable(pd.DataFrame(rows), tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000
