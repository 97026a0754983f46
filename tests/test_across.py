"""Findings across datasets (vaestudy.analysis.across) and the per-dataset paired comparisons behind
them (vaestudy.analysis.stats.paired_comparisons)."""

import numpy as np
import pandas as pd
import pytest

from vaestudy.analysis import across
from vaestudy.analysis.stats import paired_comparisons

NOISE = (-1.0, 0.2, 0.8, -0.3, 0.5, -0.2)


def _runs(dataset, shifts, seeds=6, bits=None):
    """One row per loss and seed of ``dataset``: fid = 50 + the loss's shift + seed noise
    (the noise differs between losses, so that the paired differences have spread);
    ``bits``: bits/dim per loss (NaN where a loss has none)."""
    rows = []
    for i, (loss, shift) in enumerate(shifts.items()):
        for seed in range(seeds):
            noise = NOISE[(seed + i) % len(NOISE)] * 0.5
            rows.append({"dataset": dataset, "epochs": 2, "loss": loss, "latent_dim": 16, "seed": seed,
                         "fid_classifier": 50.0 + shift + noise,
                         "bits_per_dim": (bits or {}).get(loss, np.nan) + 0.01 * noise})
    return rows


@pytest.fixture
def comparisons():
    """Every pair differs on mnist; on fashion bce still beats mse (holds), cbern now beats
    bce (reverses), mse and x are equal (not separated), and only fashion has gauss (bits/dim
    among the densities)."""
    rows = _runs("mnist", {"bce": 0.0, "mse": 20.0, "cbern": 10.0, "x": 30.0})
    rows += _runs("fashion-mnist", {"bce": 0.0, "mse": 20.0, "cbern": -20.0, "x": 20.0,
                                    "gauss": 5.0}, bits={"cbern": 3.0, "gauss": 4.0})
    return paired_comparisons(pd.DataFrame(rows), ["fid_classifier", "bits_per_dim"])


def test_runs_of_different_datasets_are_never_paired(comparisons):
    fid = comparisons[comparisons.metric == "fid_classifier"]
    assert sorted(fid.groupby("dataset").size().items()) == [("fashion-mnist", 10),
                                                              ("mnist", 6)]
    # Holm within (dataset, metric, latent): the mnist family has 6 tests, fashion's 10
    mnist = fid[fid.dataset == "mnist"]
    assert (mnist.p_holm >= mnist.p_value).all() and (mnist.verdict == "different").all()


def test_bits_per_dim_compares_only_the_losses_that_have_it(comparisons):
    bits = comparisons[comparisons.metric == "bits_per_dim"]
    assert list(zip(bits.dataset, bits.loss_a, bits.loss_b)) == [("fashion-mnist", "cbern",
                                                                  "gauss")]
    assert bits.mean_diff.iloc[0] == pytest.approx(-1.0) and bits.verdict.iloc[0] == "different"


@pytest.mark.parametrize("ref, v_ref, other, v_other, expected", [
    (-20, "different", -18, "different", "holds"),
    (-20, "different", 18, "different", "reverses"),
    (-20, "different", -18, "not separated", "not separated"),
    (-20, "different", np.nan, "too few seeds", "not separated"),
    (1, "not separated", 5, "different", "new"),
    (1, "not separated", 5, "too few seeds", None),
])
def test_outcome_of_a_pair(ref, v_ref, other, v_other, expected):
    assert across.outcome(ref, v_ref, other, v_other) == expected


def test_carry_over_says_what_became_of_each_finding(comparisons):
    table = across.carry_over(comparisons, "mnist", "fashion-mnist")
    got = {(r.metric, r.loss_a, r.loss_b): r.outcome for r in table.itertuples()}
    assert got == {("fid_classifier", "bce", "mse"): "holds",
                   ("fid_classifier", "bce", "cbern"): "reverses",
                   ("fid_classifier", "bce", "x"): "holds",
                   ("fid_classifier", "mse", "cbern"): "holds",
                   ("fid_classifier", "mse", "x"): "not separated",
                   ("fid_classifier", "cbern", "x"): "holds"}  # gauss: mnist lacks it
    assert list(table.outcome) == ["holds"] * 4 + ["reverses", "not separated"]
    assert across.counts(table) == {"holds": 4, "reverses": 1, "not separated": 1, "new": 0}
    lines = across.sentences(table, "on MNIST", "on Fashion-MNIST", {"fid_classifier": "FID"})
    assert len(lines) == 1 and lines[0].startswith("FID: of 6 difference(s) between losses on "
                                                   "MNIST, 4 hold on Fashion-MNIST (bce − mse")
    assert "1 reverses on Fashion-MNIST (bce − cbern (latent 16): -10 [" in lines[0]
    assert "1 is not separated on Fashion-MNIST (mse − x (latent 16): -10 [" in lines[0]


def test_a_pair_separated_only_on_the_other_dataset_is_new():
    rows = _runs("mnist", {"bce": 0.0, "mse": 0.0}) + _runs("fashion-mnist", {"bce": 0.0,
                                                                               "mse": 9.0})
    comp = paired_comparisons(pd.DataFrame(rows), ["fid_classifier"])
    table = across.carry_over(comp, "mnist", "fashion-mnist")
    assert list(table.outcome) == ["new"]
    line = across.sentences(table, "on MNIST", "on Fashion-MNIST", {})[0]
    assert line.startswith("fid_classifier: 1 is separated on Fashion-MNIST only (bce − mse")


def test_two_pairs_take_the_plural():
    rows = _runs("mnist", {"bce": 0.0, "mse": 0.0, "x": 0.0})
    rows += _runs("fashion-mnist", {"bce": 0.0, "mse": 9.0, "x": 0.0})
    table = across.carry_over(paired_comparisons(pd.DataFrame(rows), ["fid_classifier"]),
                              "mnist", "fashion-mnist")
    assert list(table.outcome) == ["new", "new"]
    line = across.sentences(table, "on MNIST", "on Fashion-MNIST", {})[0]
    assert line.startswith("fid_classifier: 2 are separated on Fashion-MNIST only (bce − mse")
