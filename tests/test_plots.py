"""Confidence intervals and summary tables of the study."""

import numpy as np
import pandas as pd

from vaestudy.plots import summary_table, t_interval


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
