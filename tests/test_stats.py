"""The paired tests of vaestudy.stats at their edges (non-finite differences, Holm families of
unanimous pairs, intervals that do not exist) and how the report's sentences and tables
print what they give."""

import numpy as np
import pandas as pd
import pytest

from vaestudy.stats import paired_comparisons, paired_test, verdict


@pytest.mark.parametrize("diff", [[-1, 2, np.inf, 3, 4, 5], [np.inf] * 6, [1, np.nan, 2, 3]])
def test_a_non_finite_difference_gives_no_test_and_no_verdict(diff):
    """An infinite difference makes the SD NaN; that once sent [-1, 2, inf, 3, 4, 5] to the
    sign test (p = 0.031, "different") although its signs disagree."""
    out = paired_test(diff)
    assert out["test"] == "none" and np.isnan(out["p_value"])
    assert np.isnan(out["ci_low"]) and np.isnan(out["ci_high"])
    assert verdict(out, out["p_value"]) == "non-finite"


def test_a_non_finite_pair_is_no_verdict_in_the_table_and_the_sentences():
    from vaestudy.findings import best_per_latent, reference_pairs

    rows = [{"dataset": "mnist", "loss": loss, "latent_dim": 16, "seed": seed,
             "fid_classifier": value}
            for loss, values in (("bce", [1.0, 2, 3, 4, 5, 6]),
                                 ("mse", [2.0, 0, np.inf, 1, 1, 1]))
            for seed, value in enumerate(values)]
    metrics = pd.DataFrame(rows)
    with pytest.warns(UserWarning, match="1 paired comparison.* non-finite .* bce - mse"):
        comp = paired_comparisons(metrics, ["fid_classifier"])
    assert list(comp.verdict) == ["non-finite"]
    line = reference_pairs(metrics, comp, "fid_classifier")[0]
    assert "no verdict: a difference is not finite" in line and "nan" not in line
    best = best_per_latent(metrics, comp, "fid_classifier")[0]  # never "best" from an inf
    assert "no verdict" in best and "best" not in best and "nan" not in best


def test_a_non_finite_pair_on_the_other_dataset_is_not_carried_over():
    from vaestudy import across

    rows = [{"dataset": name, "loss": loss, "latent_dim": 16, "seed": seed,
             "fid_classifier": value}
            for name, bad in (("mnist", 0.0), ("fashion", np.inf))
            for loss, values in (("bce", [1.0, 2, 3, 4, 5, 6]),
                                 ("mse", [20.0, 22, 21 + bad, 25, 24, 23]))
            for seed, value in enumerate(values)]
    with pytest.warns(UserWarning, match="fashion fid_classifier latent 16 bce - mse"):
        table = across.carry_over(paired_comparisons(pd.DataFrame(rows), ["fid_classifier"]),
                                  "mnist", "fashion")
    assert list(table.outcome) == ["not separated"]
    line = across.sentences(table, "MNIST", "Fashion", {})[0]
    assert "not finite on Fashion" in line and "nan" not in line
