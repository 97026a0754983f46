"""Classifier-based sample metrics, latent metrics, paired statistics and the findings."""

import numpy as np
import pandas as pd
import pytest

from vaestudy.analysis.findings import collapse_sentence, findings
from vaestudy.analysis.stats import (
    holm,
    paired_comparisons,
    paired_test,
    seeds_needed,
    t_interval,
    verdict,
)
from vaestudy.evaluation import latent_code
from vaestudy.evaluation.classifier import class_histogram, frechet_distance


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
    kl = latent_code.kl_per_dim(mean, logvar)
    assert kl[1] == pytest.approx(0.5 * 0.001**2, abs=1e-9)  # the prior: no information
    assert kl[0] == pytest.approx(0.5 * (1 + np.exp(-2) + 2 - 1), rel=0.1)
    assert latent_code.active_units(mean) == 1
    # Burda et al.'s threshold 0.01 on the variance across images, exclusive: a variance of
    # 0.02 is active, 0.01 and 0.005 are not
    edge = rng.normal(size=(100_000, 1))
    spread = np.concatenate([s * edge / edge.std() for s in (0.02**0.5, 0.01**0.5, 0.005**0.5)],
                            axis=1)
    assert latent_code.active_units(spread) == 1
    assert [latent_code.collapse(a, 2) for a in (0, 1, 2)] == ["full", "partial", "none"]


def test_knn_ties_go_to_the_class_of_the_nearest_neighbour():
    train_z, train_y = np.array([[0.0], [0.3], [5.0]]), np.array([1, 2, 3])
    # k = 2: one vote each for classes 1 and 2; the nearer neighbour decides
    assert latent_code.knn_accuracy(train_z, train_y, np.array([[0.1]]), np.array([1]), k=2) == 1.0
    assert latent_code.knn_accuracy(train_z, train_y, np.array([[0.25]]), np.array([2]), k=2) == 1.0
    # a majority beats a nearer single vote: two of class 9 against one nearer of class 0
    z, y = np.array([[0.0], [0.5], [0.6]]), np.array([0, 9, 9])
    assert latent_code.knn_accuracy(z, y, np.array([[0.1]]), np.array([9]), k=3) == 1.0


def test_knn_accuracy():
    train_z = np.array([[0.0], [0.1], [5.0], [5.1], [5.2]])
    train_y = np.array([1, 1, 7, 7, 7])
    assert latent_code.knn_accuracy(train_z, train_y, np.array([[0.05], [5.05]]),
                               np.array([1, 7]), k=3) == 1.0
    # k=2 with one vote each: the nearest neighbour's class wins.
    assert latent_code.knn_accuracy(train_z, train_y, np.array([[2.4]]), np.array([1]), k=2) == 1.0


@pytest.mark.parametrize("k", [1, 3, 5])
def test_knn_neighbours_are_the_full_stable_sorts(k):
    """The partition that finds the k nearest gives exactly the stable full sort's first k:
    random distances, rows with ties at and around the k-th (duplicated columns, a collapsed
    row where every distance is equal) and a row whose k nearest are at one distance."""
    rng = np.random.default_rng(0)
    dist = rng.integers(0, 6, size=(40, 30)).astype(float)  # many ties
    dist[:10] = rng.normal(size=(10, 30))  # no ties
    dist[10] = 1.0  # collapsed: every distance equal
    dist[11, :k] = -1.0  # the k nearest tie among themselves only
    expected = np.argsort(dist, axis=1, kind="stable")[:, :k]
    assert np.array_equal(latent_code._nearest(dist, k), expected)


class _Widths(list):
    """The width of every argsort call, and NumPy's own argsort."""

    argsort = staticmethod(np.argsort)


@pytest.fixture()
def sort_widths(monkeypatch) -> _Widths:
    """Counts the width of every np.argsort call inside vaestudy.evaluation.latent_code."""
    widths = _Widths()

    def counted(a, *args, **kwargs):
        widths.append(a.shape[-1])
        return widths.argsort(a, *args, **kwargs)

    monkeypatch.setattr(latent_code.np, "argsort", counted)
    return widths


@pytest.mark.parametrize("k", [1, 3])
def test_knn_neighbours_sort_only_k_columns_where_nothing_ties(k, sort_widths):
    """The speed of the partition (issue 30): without ties no row is sorted in full, only its
    k nearest (a full sort of 10,000 columns per test code took 9 s of an evaluation)."""
    widths = sort_widths
    dist = np.random.default_rng(1).normal(size=(8, 30))
    latent_code._nearest(dist, k)
    assert widths and set(widths) == {k}


@pytest.mark.parametrize("k", [1, 3])
def test_knn_neighbours_of_a_collapsed_code_need_no_full_sort(k, monkeypatch, sort_widths):
    """A collapsed code (every distance of a row equal; mse-mean's runs) sorted all 10,000
    columns of each row, and NumPy's partition of equal values is slow too: such rows are
    neither sorted wider than k nor partitioned, and get the stable sort's neighbours."""
    widths, argsort = sort_widths, sort_widths.argsort
    partitions = []
    monkeypatch.setattr(latent_code.np, "argpartition",
                        lambda a, *args, **kw: partitions.append(a.shape) or
                        np.ones(a.shape, np.intp) * np.arange(a.shape[1]))
    dist = np.ones((6, 30))
    dist[3, [4, 9]] = 0.5  # two columns below the tied k-th (for k = 3)
    dist[4, :] = 0.0  # a row at distance 0 from every column
    got = latent_code._nearest(dist, k)
    assert max(widths, default=0) <= k
    assert all(shape[0] <= 1 for shape in partitions)  # only row 3 (k = 3) is partitioned
    monkeypatch.setattr(latent_code.np, "argsort", argsort)
    assert np.array_equal(got, np.argsort(dist, axis=1, kind="stable")[:, :k])


def test_knn_with_one_neighbour_is_the_nearest_neighbours_class():
    """k = 1 (allowed: evaluation.knn_k >= 1): one vote, worth more than its rank 0, so that
    a vote weight of k - 1 = 0 would leave every class at 0 and pick class 0."""
    train_z, train_y = np.array([[0.0], [1.0], [3.0]]), np.array([3, 8, 3])
    test_z, test_y = np.array([[0.1], [0.9], [2.2], [2.9]]), np.array([3, 8, 3, 3])
    assert latent_code.knn_accuracy(train_z, train_y, test_z, test_y, k=1) == 1.0
    assert latent_code.knn_accuracy(train_z, train_y, test_z, np.array([3, 8, 8, 3]), k=1) == 0.75


def test_paired_test_known_values():
    out = paired_test([1.0, 2.0, 3.0])  # t = 2 / (1 / sqrt 3) = 3.464 on 2 df: p = 0.0742
    assert out["p_value"] == pytest.approx(0.0742, abs=1e-3)
    j = 1 / np.sqrt(np.pi)  # Hedges' J at 2 df: Gamma(1) / Gamma(1/2)
    assert out["effect_size_gz"] == pytest.approx(2.0 * j)  # d_z = 2 / sd 1
    assert paired_test([1.0, 3.0, 5.0])["effect_size_gz"] == pytest.approx(1.5 * j)  # 3 / sd 2
    assert np.isnan(paired_test([1.0])["p_value"])
    two = paired_test([1.0, 3.0])  # the smallest sample with a test: 1 df
    assert (two["ci_low"], two["ci_high"]) == pytest.approx((2 - 12.7062, 2 + 12.7062), abs=1e-4)


def test_t_interval_known_values():
    # mean 2, sd 1, t(0.975, 2 df) = 4.3027: 2 -+ 4.3027 / sqrt(3)
    assert t_interval([1.0, 2.0, 3.0]) == pytest.approx((2 - 2.48414, 2 + 2.48414), abs=1e-5)
    # two values: t(0.975, 1 df) = 12.7062, sd sqrt 2, n 2
    assert t_interval([1.0, 3.0]) == pytest.approx((2 - 12.7062, 2 + 12.7062), abs=1e-4)
    assert t_interval([4.0]) == (4.0, 4.0)


def test_a_difference_without_spread_gets_the_sign_test():
    """Active units 16 vs 0 in every seed: no t-test exists; the exact sign test gives
    p = 2 / 2^n, which cannot reach 5% below 6 seeds: no difference is claimed."""
    out = paired_test([16.0, 16.0, 16.0])
    assert (out["test"], out["p_value"], out["sd_diff"], out["mean_diff"]) == ("sign", 0.25, 0, 16)
    assert verdict(out, out["p_value"], 1) == "too few seeds"
    six = paired_test([16.0] * 6)
    assert six["p_value"] == pytest.approx(2 / 64) and verdict(six, six["p_value"], 1) == "different"
    assert seeds_needed(1) == 6 and seeds_needed(1, 0.01) == 8  # 2/2^6 < .05 <= 2/2^5
    assert paired_test([0.0, 0.0, 0.0])["p_value"] == 1.0  # no difference at all
    # a small difference with a real (if tiny) spread is tested: the tolerance is relative
    small = paired_test(1e-3 * (1 + np.array([0.0, 1e-8, 2e-8])))
    assert small["sd_diff"] == pytest.approx(1e-11, rel=1e-3) and small["p_value"] < 1e-6
    assert small["test"] == "paired t"


def test_verdict_never_calls_nan_different():
    one = paired_test([3.0])
    assert verdict(one, np.nan, 0) == "too few seeds"
    three = paired_test([1.0, 2.0, 3.5])
    assert verdict(three, np.nan, 1) == "not separated"
    assert verdict(three, 0.049, 1) == "different" and verdict(three, 0.05, 1) == "not separated"


def test_verdict_at_the_edges_of_too_few_seeds():
    """Two pairs already allow a t-test (1 df can reach 0.05), so an unseparated pair is
    not separated, not short of seeds; a unanimous sign test at exactly seeds_needed() pairs
    of its family is sure to reach 0.05, so one that did not would be not separated too."""
    two = paired_test([1.0, 3.0])
    assert two["test"] == "paired t" and verdict(two, 0.3, 1) == "not separated"
    n = seeds_needed(1)
    at = paired_test([16.0] * n)
    assert at["test"] == "sign" and verdict(at, 0.1, 1) == "not separated"
    below = paired_test([16.0] * (n - 1))
    assert verdict(below, 0.1, 1) == "too few seeds"


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
                rows.append({"dataset": "mnist", "epochs": 2, "loss": loss, "latent_dim": latent_dim,
                             "seed": seed,
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
    fid = comp[comp.metric == "fid_classifier"]
    assert list(fid.latent_dim) == [2, 16]  # one family per metric and latent size
    row = fid.iloc[0]
    assert (row.loss_a, row.loss_b, row.n_pairs, row.mean_diff) == ("bce", "mse", 3, -20.0)
    # FID differs by exactly -20 in every pair up to float rounding: no spread, no p = 1e-82,
    # and 3 seeds are too few for the sign test to decide
    assert row.sd_diff == 0 and row.p_value == 0.25 and row.verdict == "too few seeds"
    text = findings(metrics, comp)
    assert "<b>bce</b> has the best mean; 3 seed(s) are too few" in text["samples"][0]
    assert "best Fréchet" not in " ".join(text["samples"])
    assert "the same difference in all 3 pairs; a sign test needs ≥ 6 seeds" in text["samples"][2]
    lik = [line for line in text["likelihood"] if line.startswith("<b>bce</b>, latent 2")][0]
    assert "log p(x) -101 ± 2.5 nats over 3 seed(s)" in lik and "best" not in lik  # a mean
    assert "50 latent units" in lik and "K = 5000 on all 10,000" in lik
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
            rows.append({"dataset": "mnist", "epochs": 2, "loss": loss, "latent_dim": 16, "seed": seed,
                         "family": "bce" if beta is None else "mse", "beta": beta,
                         "sigma": np.nan if beta is None else np.sqrt(beta / 2),
                         "test_kl": kl + noise * e * (kl > 0), "active_units": active,
                         "recon_mse": mse + 1e-3 * noise * e, "fid_classifier": fid + noise * e,
                         "knn_accuracy": 0.9})
    return pd.DataFrame(rows)


def test_what_changes_follows_sigma_and_finds_the_bce_like_loss():
    from vaestudy.analysis.findings import MECHANISM, what_changes

    sweep = _sweep()
    lines = what_changes(sweep, paired_comparisons(sweep, list(MECHANISM)))
    assert "mse-mean (σ = 19.8, β = 784) → mse (σ = 1, β = 2) → mse-sigma0.3" in lines[0]
    kl_line = next(line for line in lines if line.startswith("KL per image"))
    assert kl_line.startswith("KL per image (nats): 0 (below 0.0001) → 8 ± ")  # falling beta
    assert any("mse-mean, β = 784): KL 0 (below 0.0001) nats per image, every unit inactive: "
               "posterior "
               "collapse" in line for line in lines)
    versus = next(line for line in lines if line.startswith("mse-sigma0.3 − bce (paired over 3 seeds"))
    assert "active units +0: identical in all 3 pairs" in versus  # no spread: no interval
    assert "Fréchet distance +1" in versus and "Closest" not in " ".join(lines)
    collapsed = next(line for line in lines if line.startswith("mse-mean − bce"))
    # 16 active units vs 0 in every seed: a sign test at 3 seeds cannot decide
    assert "active units -16: the same difference in all 3 pairs" in collapsed


def _separated_by_few_tests():
    """Five losses; "top" beats each of the other four with a paired p of about 0.012 (3
    seeds), the others do not differ among themselves: Holm over the 4 tests with the top
    would separate it, Holm over all 10 pairs of losses does not."""
    noise = [(-1.0, 0.2, 0.8), (0.2, 0.8, -1.0), (0.8, -1.0, 0.2), (-1.0, 0.8, 0.2)]
    sd = np.std(noise[0], ddof=1)
    gap = 9.0 * sd / np.sqrt(3)  # t = 9 on 2 df: p = 0.012
    rows = [{"dataset": "mnist", "epochs": 2, "loss": "top", "latent_dim": 16, "seed": s, "fid_classifier": 50.0}
            for s in range(3)]
    rows += [{"dataset": "mnist", "epochs": 2, "loss": f"other{i}", "latent_dim": 16, "seed": s,
              "fid_classifier": 50.0 + gap + e[s]} for i, e in enumerate(noise) for s in range(3)]
    return pd.DataFrame(rows)


def test_one_verdict_per_pair_wherever_it_is_printed():
    from vaestudy.analysis.findings import best_per_latent, reference_pairs

    metrics = _separated_by_few_tests()
    comp = paired_comparisons(metrics, ["fid_classifier"])
    top = comp[comp.loss_a == "top"]
    assert (holm(top.p_value) < 0.05).all()  # the old family of 4 would call "top" best
    assert (top.verdict == "not separated").all()  # the family of all 10 pairs does not
    line = best_per_latent(metrics, comp, "fid_classifier")[0]
    assert "best Fréchet" not in line and "are not separated at 3 seed(s)" in line
    pairs = reference_pairs(metrics, comp, "fid_classifier")
    assert len(pairs) == 4 and all("not separated at 3 seed(s)" in p for p in pairs)
    # with a clear gap every printed verdict says "different", the table's too
    clear = metrics.assign(fid_classifier=np.where(metrics.loss == "top", 0.0,
                                                   metrics.fid_classifier * 10))
    comp = paired_comparisons(clear, ["fid_classifier"])
    assert (comp[comp.loss_a == "top"].verdict == "different").all()
    assert "best Fréchet distance of samples (classifier features) with <b>top</b>" in \
        best_per_latent(clear, comp, "fid_classifier")[0]


def test_best_is_only_claimed_where_the_paired_test_separates():
    from vaestudy.analysis.findings import best_per_latent

    sweep = _sweep()
    line = best_per_latent(sweep, paired_comparisons(sweep, ["fid_classifier"]),
                           "fid_classifier")[0]
    assert "<b>bce</b> and mse-sigma0.3 are not separated at 3 seed(s)" in line
    clear = sweep[lambda m: m.loss.isin(["bce", "mse"])]
    assert "best Fréchet distance of samples (classifier features) with <b>bce</b>" in \
        best_per_latent(clear, paired_comparisons(clear, ["fid_classifier"]),
                        "fid_classifier")[0]
