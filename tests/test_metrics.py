"""Classifier-based sample metrics, latent metrics, paired statistics and the findings."""

import numpy as np
import pandas as pd
import pytest

from vaestudy import latent
from vaestudy.classifier import class_histogram, frechet_distance
from vaestudy.findings import collapse_sentence, findings
from vaestudy.stats import paired_comparisons, paired_test


def test_frechet_distance_of_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    b = rng.normal(size=(20000, 3)) * 2 + np.array([1.0, 0, 0])
    # |mu|^2 + tr(I + 4I - 2 * 2I) = 1 + 3
    assert frechet_distance(a, b) == pytest.approx(4.0, rel=0.03)


def test_class_histogram():
    h = class_histogram(np.array([0] * 50 + [1] * 50))
    assert h["classes_covered"] == 2 and h["class_entropy"] == pytest.approx(np.log(2))
    assert class_histogram(np.arange(10).repeat(3))["class_entropy"] == pytest.approx(np.log(10))


def test_kl_per_dim_and_active_units():
    rng = np.random.default_rng(1)
    mean = np.stack([rng.normal(size=1000), np.full(1000, 0.001)], axis=1)
    logvar = np.stack([np.full(1000, -2.0), np.zeros(1000)], axis=1)
    kl = latent.kl_per_dim(mean, logvar)
    assert kl[1] == pytest.approx(0.5 * 0.001**2, abs=1e-9)  # the prior: no information
    assert kl[0] == pytest.approx(0.5 * (1 + np.exp(-2) + 2 - 1), rel=0.1)
    assert latent.active_units(mean) == 1
    assert [latent.collapse(a, 2) for a in (0, 1, 2)] == ["full", "partial", "none"]


def test_knn_accuracy():
    train_z = np.array([[0.0], [0.1], [5.0], [5.1], [5.2]])
    train_y = np.array([1, 1, 7, 7, 7])
    assert latent.knn_accuracy(train_z, train_y, np.array([[0.05], [5.05]]),
                               np.array([1, 7]), k=3) == 1.0
    # k=2 with one vote each: the nearest neighbour's class wins.
    assert latent.knn_accuracy(train_z, train_y, np.array([[2.4]]), np.array([1]), k=2) == 1.0


def test_paired_test_known_values():
    out = paired_test([1.0, 2.0, 3.0])  # t = 2 / (1 / sqrt 3) = 3.464 on 2 df: p = 0.0742
    assert out["p_value"] == pytest.approx(0.0742, abs=1e-3)
    assert out["effect_size_dz"] == pytest.approx(2.0)
    assert np.isnan(paired_test([1.0])["p_value"])


def _metrics():
    rows = []
    for loss, fid in (("bce", 10.0), ("mse", 30.0)):
        for latent_dim in (2, 16):
            for seed in (0, 1, 2):
                rows.append({"loss": loss, "latent_dim": latent_dim, "seed": seed,
                             "fid_classifier": fid + seed + latent_dim / 10,
                             "recon_mse": 0.05, "recon_accuracy": 0.9, "knn_accuracy": 0.8,
                             "active_units": latent_dim, "posterior_collapse": "none",
                             "test_log_px": -100.0 - seed, "log_px_data": "x",
                             "iwae_samples": 10, "iwae_images": 5, "bits_per_dim": np.nan,
                             "binarization": "dynamic"})
    return pd.DataFrame(rows)


def test_paired_comparisons_and_generated_findings():
    metrics = _metrics()
    comp = paired_comparisons(metrics, ["fid_classifier", "recon_accuracy"])
    fid = comp[comp.metric == "fid_classifier"].iloc[0]
    assert (fid.loss_a, fid.loss_b, fid.n_pairs, fid.mean_diff) == ("bce", "mse", 6, -20.0)
    text = findings(metrics, comp)
    assert "best Fréchet distance" in text["samples"][0] and "<b>bce</b>" in text["samples"][0]
    assert any("IWAE paper" in line for line in text["likelihood"])
    assert collapse_sentence(metrics).startswith("No run shows posterior collapse")


def test_one_loss_has_no_pairs_but_a_table():
    metrics = _metrics()
    comp = paired_comparisons(metrics[metrics.loss == "bce"], ["fid_classifier"])
    assert comp.empty and "p_value" in comp.columns
    assert findings(metrics[metrics.loss == "bce"], comp)["samples"]
