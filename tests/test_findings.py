"""The report's findings (vaestudy.analysis.findings) at their edges: how a number is printed, the
verdict words of each kind of comparison row, when a loss is called best, and which
sentences a study with two seeds, two latent sizes, no bce or exact bits/dim gets. The
comparison rows are written by hand here: the sentences word the table they are given."""

import numpy as np
import pandas as pd
import pytest

from vaestudy.analysis import findings as fd
from vaestudy.analysis.stats import paired_comparisons


def _row(loss_b: str = "mse", **values) -> dict:
    """A row of the comparison table: fid_classifier at latent 16, bce - ``loss_b``."""
    return {"dataset": "mnist", "epochs": 2, "metric": "fid_classifier", "latent_dim": 16, "loss_a": "bce",
            "loss_b": loss_b, "n_pairs": 3, "mean_diff": -2.0, "ci_low": np.nan,
            "ci_high": np.nan, "test": "t", "p_value": 0.5, "p_holm": 0.5, "family_size": 1,
            "verdict": "not separated", **values}


def _runs(values: dict[str, list[float]], metric: str = "fid_classifier") -> pd.DataFrame:
    """One row per loss and seed at latent 16 with ``metric`` = the loss's values."""
    return pd.DataFrame([{"dataset": "mnist", "epochs": 2, "loss": loss, "latent_dim": 16, "seed": seed,
                          metric: value} for loss, seeds in values.items()
                         for seed, value in enumerate(seeds)])


@pytest.mark.parametrize("row, words", [
    (_row(n_pairs=1, verdict="too few seeds"), "too few seeds: one pair, no test"),
    (_row(n_pairs=2, test="sign", verdict="too few seeds"),
     "the same difference in all 2 pairs; a sign test needs ≥ 6 seeds to reach p < 0.05"),
    (_row(n_pairs=6, test="sign", family_size=2, verdict="too few seeds"),
     "the same difference in all 6 pairs; with Holm's correction over 2 pairs a sign test is "
     "sure to reach p < 0.05 only from 7 seeds"),
    (_row(test="sign", mean_diff=0.0), "identical in all 3 pairs"),
    (_row(test="sign", p_holm=0.0312, verdict="different"), "different (Holm p = 0.031)"),
    (_row(mean_diff=0.0), "not separated at 3 seed(s) (Holm p = 0.5)"),
])
def test_the_verdict_words_of_each_kind_of_row(row, words):
    metrics = _runs({"bce": [1.0, 2.0, 3.0], "mse": [4.0, 5.0, 6.0]})
    (line,) = fd.reference_pairs(metrics, pd.DataFrame([row]), "fid_classifier")
    assert line.endswith(f": {words}.")


def test_without_bce_the_first_loss_is_the_reference_and_two_seeds_are_compared():
    metrics = _runs({"mse": [4.0, 5.0], "cbern": [1.0, 3.0], "dgauss": [2.0, 2.5]})
    comp = paired_comparisons(metrics, ["fid_classifier"])
    lines = fd.reference_pairs(metrics, comp, "fid_classifier")
    assert [line.split(" in ")[0] for line in lines] == [
        "Latent size 16: mse − cbern", "Latent size 16: mse − dgauss"]
    assert fd.reference_pairs(metrics[metrics.seed == 0], comp, "fid_classifier") == []


@pytest.mark.parametrize("metric, diff", [("fid_classifier", 0.5), ("fid_classifier", 0.0),
                                          ("knn_accuracy", 0.0), ("knn_accuracy", -0.5)])
def test_best_only_where_the_verdict_is_in_the_best_means_favour(metric, diff):
    """The best mean is called best only where its paired difference over the common seeds
    favours it (lower Fréchet distance, higher k-NN accuracy): a "different" row that does
    not, or is 0, leaves it unseparated."""
    higher = metric == "knn_accuracy"
    metrics = _runs({"top": [3.0] * 3, "other": [1.0] * 3} if higher else
                    {"top": [1.0] * 3, "other": [3.0] * 3}, metric)
    row = _row("other", metric=metric, loss_a="top", mean_diff=diff, p_holm=0.01,
               verdict="different")
    line = fd.best_per_latent(metrics, pd.DataFrame([row]), metric)[0]
    assert "best" not in line.split("(")[0] and "<b>top</b> and other are not separated" in line
    favour = {**row, "mean_diff": 0.5 if higher else -0.5}
    assert "with <b>top</b>" in fd.best_per_latent(metrics, pd.DataFrame([favour]), metric)[0]


@pytest.mark.parametrize("values, printed", [
    ([5e-5], "0 (below 0.0001)"), ([1e-4], "0.0001"), ([1.5e-4], "0.00015"),
    ([1.0, 3.0], "2 ± 13"),  # t(0.975, 1 df) = 12.7 times the SE 1
])
def test_numbers_are_printed_as_mean_and_interval_or_as_zero(values, printed):
    runs = pd.DataFrame([{"loss": "mse", "latent_dim": 2, "seed": s, "test_log_px": v,
                          "log_px_data": "binarized", "iwae_samples": 10, "iwae_images": 5,
                          "binarization": "static", "dataset": "mnist"}
                         for s, v in enumerate(values)])
    (line,) = fd.likelihood_sentences(runs)
    assert f"log p(x) {printed} nats over {len(values)} seed(s)" in line
    assert ("mean ± 95% CI half-width" in line) == (len(values) > 1)


def _likelihood_runs(**columns) -> pd.DataFrame:
    """Two seeds of one loss at latent 2 with the columns of a log-likelihood sentence."""
    base = {"loss": "bce", "latent_dim": 2, "test_log_px": -90.0, "log_px_data": "binarized",
            "iwae_samples": 10, "iwae_images": 5, "binarization": "dynamic",
            "dataset": "mnist", **columns}
    return pd.DataFrame([{**base, "seed": s} for s in range(2)])


def test_the_iwae_paper_is_quoted_for_dynamically_binarized_mnist_with_bce_only():
    (line,) = fd.likelihood_sentences(_likelihood_runs())
    assert "reports −86.76 nats (Burda et al. 2016, Table 1" in line
    for other in ({"loss": "mse"}, {"binarization": "static"}, {"dataset": "fashion-mnist"}):
        assert "Burda" not in fd.likelihood_sentences(_likelihood_runs(**other))[0], other


def test_bits_per_dim_exact_or_as_a_bound_with_the_mass_it_bounds():
    (exact,) = fd.likelihood_sentences(_likelihood_runs(loss="dgauss", bits_per_dim=1.5))
    assert ", 1.5 ± 0 bits/dim (exact discrete likelihood)" in exact
    (bound,) = fd.likelihood_sentences(_likelihood_runs(loss="mse", bits_per_dim_bound=2.0,
                                                        mass_inside=0.75))
    assert ", bits/dim bound 2 ± 0 (an upper bound" in bound and "sum to 0.75 ± 0" in bound


def test_exact_bits_per_dim_are_ranked_from_two_losses_on():
    def runs(losses: list[str]) -> pd.DataFrame:
        """Three seeds of bits/dim of each of ``losses`` (1, 2, ... apart) and of bce without."""
        return pd.concat([_runs({loss: [1.0 + i, 1.1 + i, 1.2 + i]}, "bits_per_dim")
                          for i, loss in enumerate(losses)] + [_runs({"bce": [0.0] * 3})])

    two = runs(["dgauss", "dlogistic"])
    (line,) = fd.density_sentences(two, paired_comparisons(two, ["bits_per_dim"]))
    assert "<b>dgauss</b> has the best mean" in line and "dlogistic 2.1 ± 0.25" in line
    one = runs(["dgauss"])
    assert fd.density_sentences(one, paired_comparisons(one, ["bits_per_dim"])) == []
    assert fd.density_sentences(_runs({"a": [1.0], "b": [2.0]}), pd.DataFrame()) == []


def _sweep(kl: float = 8.0, active: int = 5, seeds: int = 3, latents=(16,),
           losses=("bce", "mse-mean", "mse")) -> pd.DataFrame:
    """bce (FID 40), the pixel-averaged mse-mean (beta 784: ``active`` units, KL ``kl``, FID
    200) and mse (beta 2) at each latent size in ``latents``, over ``seeds`` seeds."""
    spec = {"bce": ("bce", np.nan, 16, 25.0, 40.0), "mse-mean": ("mse", 784.0, active, kl, 200.0),
            "mse": ("mse", 2.0, 5, 8.0, 90.0)}
    return pd.DataFrame([{"dataset": "mnist", "epochs": 2, "loss": loss, "latent_dim": latent, "seed": s,
                          "family": spec[loss][0], "beta": spec[loss][1],
                          "sigma": np.sqrt(spec[loss][1] / 2), "active_units": spec[loss][2],
                          "test_kl": spec[loss][3], "recon_mse": 0.02,
                          "fid_classifier": spec[loss][4] + s, "posterior_collapse": "none"}
                         for latent in latents for loss in losses for s in range(seeds)])


@pytest.mark.parametrize("kl, active, state", [
    (5e-5, 0, "every unit inactive: posterior collapse"),
    (1e-4, 0, "no unit active: no dimension's posterior mean varies"),
    (1.5e-4, 0, "no unit active: no dimension's posterior mean varies"),
    (8.0, 5, "5 of 16 units active"),
])
def test_collapse_is_said_only_of_no_active_unit_and_a_kl_below_1e_4(kl, active, state):
    line = fd.pixel_averaged(_sweep(kl, active))[0]
    assert f"nats per image, {state}" in line
    assert line.endswith("Fréchet distance 201 ± 2.5 against 41 ± 2.5 for bce.")
    one = fd.pixel_averaged(_sweep(kl, active, seeds=1, losses=("mse-mean",)))[0]
    assert f"{state}" in one and one.endswith("Fréchet distance 200.")  # no bce run


def test_two_gaussian_losses_make_a_sweep_and_each_faces_bce():
    sweep = _sweep()
    lines = fd.what_changes(sweep, paired_comparisons(sweep, list(fd.MECHANISM)))
    assert lines[0].startswith("Along the Gaussian losses from the largest to the smallest KL "
                               "weight, mse-mean (σ = 19.8, β = 784) → mse (σ = 1, β = 2):")
    assert [line.split(" (")[0] for line in lines if " − bce" in line] == ["mse-mean − bce",
                                                                          "mse − bce"]
    assert fd.sigma_sweep(sweep[sweep.loss != "mse"]) == []  # one Gaussian: no sweep
    no_bce = sweep[sweep.loss != "bce"]
    assert fd.versus_bce(no_bce, paired_comparisons(no_bce, list(fd.MECHANISM))) == []


def test_several_latent_sizes_name_theirs():
    both = _sweep(latents=(2, 16))
    lines = fd.what_changes(both, paired_comparisons(both, list(fd.MECHANISM)))
    starts = [line for line in lines if line.startswith("Latent size")]
    assert [line[:16] for line in starts] == ["Latent size 2. A", "Latent size 16. "]
    one = fd.what_changes(_sweep(), paired_comparisons(_sweep(), list(fd.MECHANISM)))
    assert not any(line.startswith("Latent size") for line in one)


def test_the_collapse_sentence_names_each_collapsed_run():
    runs = _sweep(seeds=1).assign(posterior_collapse=["none", "full", "partial"],
                                  active_units=[16, 0, 5])
    assert fd.collapse_sentence(runs) == (
        "Posterior collapse (active units below the latent size): mse-mean/latent 16/seed 0: "
        "full (0 of 16 units active); mse/latent 16/seed 0: partial (5 of 16 units active).")
