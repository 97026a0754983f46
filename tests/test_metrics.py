"""Classifier-based sample metrics, latent metrics, paired statistics and the findings."""

import numpy as np
import pandas as pd
import pytest

from vaestudy import latent
from vaestudy.classifier import class_histogram, frechet_distance
from vaestudy.findings import collapse_sentence, findings
from vaestudy.stats import holm, paired_comparisons, paired_test, t_interval


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
    # Burda et al.'s threshold 0.01 on the variance across images, exclusive: a variance of
    # 0.02 is active, 0.01 and 0.005 are not
    edge = rng.normal(size=(100_000, 1))
    spread = np.concatenate([s * edge / edge.std() for s in (0.02**0.5, 0.01**0.5, 0.005**0.5)],
                            axis=1)
    assert latent.active_units(spread) == 1
    assert [latent.collapse(a, 2) for a in (0, 1, 2)] == ["full", "partial", "none"]


def test_knn_ties_go_to_the_class_of_the_nearest_neighbour():
    train_z, train_y = np.array([[0.0], [0.3], [5.0]]), np.array([1, 2, 3])
    # k = 2: one vote each for classes 1 and 2; the nearer neighbour decides
    assert latent.knn_accuracy(train_z, train_y, np.array([[0.1]]), np.array([1]), k=2) == 1.0
    assert latent.knn_accuracy(train_z, train_y, np.array([[0.25]]), np.array([2]), k=2) == 1.0
    # a majority beats a nearer single vote: two of class 9 against one nearer of class 0
    z, y = np.array([[0.0], [0.5], [0.6]]), np.array([0, 9, 9])
    assert latent.knn_accuracy(z, y, np.array([[0.1]]), np.array([9]), k=3) == 1.0


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
    assert paired_test([1.0, 3.0, 5.0])["effect_size_dz"] == pytest.approx(1.5)  # 3 / sd 2
    assert np.isnan(paired_test([1.0])["p_value"])
    two = paired_test([1.0, 3.0])  # the smallest sample with a test: 1 df
    assert (two["ci_low"], two["ci_high"]) == pytest.approx((2 - 12.7062, 2 + 12.7062), abs=1e-4)


def test_t_interval_known_values():
    # mean 2, sd 1, t(0.975, 2 df) = 4.3027: 2 -+ 4.3027 / sqrt(3)
    assert t_interval([1.0, 2.0, 3.0]) == pytest.approx((2 - 2.48414, 2 + 2.48414), abs=1e-5)
    # two values: t(0.975, 1 df) = 12.7062, sd sqrt 2, n 2
    assert t_interval([1.0, 3.0]) == pytest.approx((2 - 12.7062, 2 + 12.7062), abs=1e-4)
    assert t_interval([4.0]) == (4.0, 4.0)


def test_a_difference_without_spread_has_no_p_value():
    """Active units 16 vs 0 in every seed: no t-test exists; the p-value is not 0."""
    out = paired_test([16.0, 16.0, 16.0])
    assert np.isnan(out["p_value"]) and out["sd_diff"] == 0 and out["mean_diff"] == 16
    # a small difference with a real (if tiny) spread is tested: the tolerance is relative
    small = paired_test(1e-3 * (1 + np.array([0.0, 1e-8, 2e-8])))
    assert small["sd_diff"] == pytest.approx(1e-11, rel=1e-3) and small["p_value"] < 1e-6


def test_holm_adjustment_known_values():
    adjusted = holm([0.01, 0.04, 0.03, np.nan, 0.005])  # m = 4 tests: NaN is not one
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, np.nan, 0.02])
    assert holm([0.3, 0.2])[0] == pytest.approx(0.4)  # 2 x 0.2 = 0.4 carried up (monotone)
    assert holm([0.6, 0.7]).tolist() == [1.0, 1.0]  # 2 x 0.6 = 1.2 is capped at 1


def _metrics():
    rows = []
    for loss, fid in (("bce", 10.0), ("mse", 30.0)):
        for latent_dim in (2, 16):
            for seed in (0, 1, 2):
                rows.append({"loss": loss, "latent_dim": latent_dim, "seed": seed,
                             "fid_classifier": fid + seed + latent_dim / 10,
                             "recon_mse": 0.05, "recon_accuracy": 0.9, "knn_accuracy": 0.8,
                             "active_units": latent_dim, "posterior_collapse": "none",
                             "family": loss, "beta": 2.0 if loss == "mse" else np.nan,
                             "sigma": 1.0 if loss == "mse" else np.nan, "test_kl": 20.0,
                             "test_log_px": -100.0 - seed, "log_px_data": "x",
                             "iwae_samples": 10, "iwae_images": 5, "bits_per_dim": np.nan,
                             "binarization": "dynamic"})
    return pd.DataFrame(rows)


def test_paired_comparisons_and_generated_findings():
    metrics = _metrics()
    comp = paired_comparisons(metrics, ["fid_classifier", "recon_accuracy"])
    fid = comp[comp.metric == "fid_classifier"].iloc[0]
    assert (fid.loss_a, fid.loss_b, fid.n_pairs, fid.mean_diff) == ("bce", "mse", 6, -20.0)
    # FID differs by exactly -20 in every pair up to float rounding: no spread, no p = 1e-82
    assert fid.sd_diff == 0 and np.isnan(fid.p_value) and np.isnan(fid.p_holm)
    text = findings(metrics, comp)
    assert "best Fréchet distance" in text["samples"][0] and "<b>bce</b>" in text["samples"][0]
    assert "indistinguishable" not in text["samples"][0]
    assert "the same difference in every one of the 6 pairs (no spread" in text["samples"][2]
    assert any("IWAE paper" in line for line in text["likelihood"])
    assert collapse_sentence(metrics).startswith("No run shows posterior collapse")


def test_one_loss_has_no_pairs_but_a_table():
    metrics = _metrics()
    comp = paired_comparisons(metrics[metrics.loss == "bce"], ["fid_classifier"])
    assert comp.empty and "p_value" in comp.columns
    assert findings(metrics[metrics.loss == "bce"], comp)["samples"]


PERMUTATIONS = [(0, 1, 2), (1, 2, 0), (2, 0, 1), (0, 2, 1), (1, 0, 2)]


def _sweep(noise=1.0):
    """bce and four Gaussian losses at latent 16, 3 seeds: KL falls and collapse grows with
    beta; mse-sigma0.3 matches bce up to seed noise."""
    spec = {"bce": (None, 25.0, 16, 0.020, 40.0), "mse-mean": (784.0, 0.0, 0, 0.065, 200.0),
            "mse": (2.0, 8.0, 5, 0.045, 90.0), "mse-sigma0.3": (0.18, 25.0, 16, 0.021, 41.0),
            "mse-sigma0.1": (0.02, 60.0, 16, 0.010, 55.0)}
    rows = []
    for i, (loss, (beta, kl, active, mse, fid)) in enumerate(spec.items()):
        for seed in range(3):
            e = (-1.0, 0.2, 0.8)[PERMUTATIONS[i][seed]]  # noise that differs between losses
            rows.append({"loss": loss, "latent_dim": 16, "seed": seed,
                         "family": "bce" if beta is None else "mse", "beta": beta,
                         "sigma": np.nan if beta is None else np.sqrt(beta / 2),
                         "test_kl": kl + noise * e * (kl > 0), "active_units": active,
                         "recon_mse": mse + 1e-3 * noise * e, "fid_classifier": fid + noise * e,
                         "knn_accuracy": 0.9})
    return pd.DataFrame(rows)


def test_what_changes_follows_sigma_and_finds_the_bce_like_loss():
    from vaestudy.findings import what_changes

    lines = what_changes(_sweep())
    assert "mse-mean (σ = 19.8, β = 784) → mse (σ = 1, β = 2) → mse-sigma0.3" in lines[0]
    kl_line = next(line for line in lines if line.startswith("KL per image"))
    assert kl_line.startswith("KL per image (nats): 0 (below 0.0001) → 8 ± ")  # falling beta
    assert any("mse-mean, β = 784): KL 0 (below 0.0001) nats per image, every unit inactive: "
               "posterior "
               "collapse" in line for line in lines)
    closest = lines[-1]
    assert closest.startswith("Closest to bce: <b>mse-sigma0.3</b> (β = 0.18), "
                              "indistinguishable from bce in KL per image")
    assert "different in" not in closest  # identical active units: no difference claimed


def test_best_is_only_claimed_where_the_paired_test_separates():
    from vaestudy.findings import best_per_latent

    line = best_per_latent(_sweep(), "fid_classifier")[0]
    assert "<b>bce</b> and mse-sigma0.3 are indistinguishable at 3 seed(s)" in line
    clear = _sweep()[lambda m: m.loss.isin(["bce", "mse"])]
    assert "best Fréchet distance of samples (classifier features) with <b>bce</b>" in \
        best_per_latent(clear, "fid_classifier")[0]
