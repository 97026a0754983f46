"""The answer first (vaestudy.analysis.answer): every number of its sentences comes from the run's
tables, every verdict from the paired comparisons; the matrices colour each pair by its verdict
and the side it favours."""

import re

import numpy as np
import pandas as pd
import pytest

from vaestudy.analysis import answer
from vaestudy.analysis.stats import paired_comparisons

BETA = {"mse-mean": 784.0, "mse": 2.0, "mse-sigma0.1": 0.02}


def _metrics(seeds: int = 3, fid_bce: float = 10.0) -> pd.DataFrame:
    """bce and three fixed-sigma Gaussians at latent 16: the KL and active units rise as beta
    falls, bce has the lowest Fréchet distance (``fid_bce``), mse-sigma0.1 the lowest MSE."""
    rng = np.random.default_rng(0)
    rows = []
    for loss, family, beta, kl, active, mse, fid, knn in (
            ("bce", "bce", np.nan, 25.0, 16, 0.020, fid_bce, 0.95),
            ("mse-mean", "mse", 784.0, 0.0, 0, 0.070, 150.0, 0.11),
            ("mse", "mse", 2.0, 8.0, 6, 0.040, 40.0, 0.90),
            ("mse-sigma0.1", "mse", 0.02, 30.0, 16, 0.012, 20.0, 0.96)):
        for seed in range(seeds):
            noise = rng.normal(0, 1)
            rows.append({"dataset": "mnist", "epochs": 2, "loss": loss, "family": family, "beta": beta,
                         "latent_dim": 16, "seed": seed, "test_kl": kl + (kl > 0) * 0.1 * noise,
                         "active_units": active, "recon_mse": mse + 0.0005 * noise,
                         "fid_classifier": fid + 0.3 * noise, "knn_accuracy": knn + 0.002 * noise,
                         "recon_accuracy": knn + 0.001 * noise})
    return pd.DataFrame(rows)


def _both(metrics):
    columns = ["test_kl", "active_units", "recon_mse", "fid_classifier", "knn_accuracy",
               "recon_accuracy"]
    return metrics, paired_comparisons(metrics, columns)


def test_along_beta_prints_the_mechanism_at_both_ends_of_the_sweep():
    metrics, _ = _both(_metrics())
    (line,) = answer.along_beta(metrics)
    assert line.startswith("Along the KL weight a squared error hides, from β = 784 (mse-mean) "
                           "to β = 0.02 (mse-sigma0.1): ")
    means = metrics.groupby("loss").mean(numeric_only=True)
    assert f"KL per image (nats) 0 → {means.test_kl['mse-sigma0.1']:.3g}" in line
    assert "active units 0 → 16" in line
    # a number of the table changes: the sentence changes with it
    changed = metrics.copy()
    changed.loc[changed.loss == "mse-mean", "recon_mse"] = 0.5
    assert "reconstruction MSE per pixel 0.5 → " in answer.along_beta(changed)[0]
    assert answer.along_beta(metrics[metrics.loss.isin(["bce", "mse"])]) == []  # no sweep


def test_leaders_claim_a_winner_only_where_every_pair_is_separated():
    metrics, comparisons = _both(_metrics())
    text = " ".join(answer.leaders(metrics, comparisons))
    assert ("Best and separated from every other loss by the paired tests over seeds "
            "(Holm-corrected): <b>bce</b> on the Fréchet distance") in text
    assert "<b>mse-sigma0.1</b> on the reconstruction MSE" in text
    # one seed: no test separates anything; the best means are said as such
    one, comparisons_one = _both(_metrics(seeds=1))
    (line,) = answer.leaders(one, comparisons_one)
    assert line.startswith("Best mean, but not separated from every other loss: <b>bce</b>")
    # bce's Fréchet distance made worse in the table: the sentence names the new best
    worse, comparisons_worse = _both(_metrics(fid_bce=30.0))
    assert "<b>mse-sigma0.1</b> on the Fréchet distance" in " ".join(
        answer.leaders(worse, comparisons_worse))


def test_undecided_counts_the_verdicts_of_the_table():
    metrics, comparisons = _both(_metrics())
    (line,) = answer.undecided(metrics, comparisons)
    count = comparisons.verdict.value_counts()
    assert f"Of the {len(comparisons)} comparisons of two losses" in line
    assert f"{count.get('different', 0)} are separated" in line
    numbers = [int(n) for n in re.findall(r"(\d+) (?:are|have)", line)]
    assert sum(numbers) == len(comparisons)
    assert 3 <= len(answer.answer(metrics, comparisons)) <= 5


def test_verdict_matrix_colours_each_pair_by_its_verdict_and_side():
    metrics, comparisons = _both(_metrics())
    losses = ["bce", "mse-mean", "mse", "mse-sigma0.1"]
    html = answer.verdict_matrix(comparisons, "fid_classifier", 16, losses)
    cells = re.findall(r'<td class="([^"]*)" title="([^"]*)">([^<]*)</td>', html)
    bce_vs_mean = next(c for c in cells if c[1].startswith("bce − mse-mean"))
    assert bce_vs_mean[0] == "row" and float(bce_vs_mean[2]) == pytest.approx(-140, abs=2)
    mean_vs_bce = next(c for c in cells if c[1].startswith("mse-mean − bce"))
    assert mean_vs_bce[0] == "col" and float(mean_vs_bce[2]) == -float(bce_vs_mean[2])
    assert len(cells) == 12 and html.count("<tr>") == 5  # 4 x 3 pairs; a header row
    kl = answer.verdict_matrix(comparisons, "test_kl", 16, losses)
    assert 'class="diff"' in kl and 'class="row"' not in kl  # the KL has no better side
    one = _both(_metrics(seeds=1))[1]
    assert 'class="too-few-seeds"' in answer.verdict_matrix(one, "recon_mse", 16, losses)
