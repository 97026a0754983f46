"""The report's sections of one dataset and across datasets (vaestudy.report.report_parts), from
tables built here: what each section holds is what the tables say."""

import numpy as np
import pandas as pd
from test_answer import _both, _metrics

from vaestudy.analysis import budgets
from vaestudy.analysis.aggregate import COMPARABLE
from vaestudy.report import report_parts

STUDY = {"datasets": ["mnist"], "epochs": [2], "n_reconstructions": 10,
         "training": {"batch_size": 128}}


def _evaluated(metrics: pd.DataFrame) -> pd.DataFrame:
    """``metrics`` with the columns an evaluation writes beside the comparable ones."""
    out = metrics.copy()
    for column in report_parts.COMPARABLE_TABLE:
        if column not in out:
            out[column] = 1.0
    out = out.assign(
        n_train=55000, n_val=5000, split="all 10,000 official test images", elbo_samples=5,
        iwae_samples=100, iwae_images=1000, n_generated=5000, n_test=10000,
        log_px_images_text="1,000 of the 10,000 official test images (seeded draw)",
        likelihood="a likelihood", data="binary",
        log_px_data="dynamic-binarized", test_log_px=-100.0, test_neg_elbo=110.0,
        test_recon=90.0, iwae_gap=2.0, bits_per_dim=np.nan, bits_per_dim_bound=np.nan,
        mass_inside=np.nan, sigma=np.sqrt(out.beta / 2), binarization="dynamic",
        posterior_collapse=np.where(out.active_units == 0, "full", "none"))
    return out


def test_dataset_part_holds_the_answer_the_verdicts_and_the_tables():
    metrics, comparisons = _both(_metrics())
    metrics = _evaluated(metrics)
    part = report_parts.dataset_part("mnist", 2, metrics, comparisons,
                                     {"plots": {}, "shown": {}}, {"test_accuracy": 0.99},
                                     STUDY, several=(False, False))
    assert part["suffix"] == "" and part["title"] == "MNIST" and part["answer_latent"] == 16
    assert part["study"]["training"] == {"batch_size": 128, "epochs": 2}  # the part's budget
    assert part["answer"][0].startswith("Along the KL weight a squared error hides")
    # one matrix per comparable metric the comparisons hold, at each latent size
    assert [v["label"].split(" (")[0] for v in part["verdicts"]] == [
        COMPARABLE[m][0].split(" (")[0] for m in COMPARABLE if m in set(comparisons.metric)]
    assert part["n_comparisons"] == len(comparisons)
    assert list(part["betas"]) == ["mse-mean", "mse", "mse-sigma0.1"]  # by falling beta
    assert part["reconstructions_shown"] == "one of each of the 10 classes"
    assert "100 x 1,000" in part["loglik"] and "dynamic-binarized" in part["loglik"]
    for several, suffix, heading in (((True, False), "-mnist", "MNIST: "),
                                     ((False, True), "-e2", "2 epochs: "),
                                     ((True, True), "-mnist-e2", "MNIST, 2 epochs: ")):
        part = report_parts.dataset_part("mnist", 2, metrics, comparisons,
                                         {"plots": {}, "shown": {}}, {"test_accuracy": 0.99},
                                         STUDY, several, "2 epochs")
        assert (part["suffix"], part["heading"]) == (suffix, heading)
        assert part["label"] == heading.removesuffix(": ")


def test_the_log_likelihood_design_names_each_estimator_with_its_losses():
    """One phrase when every run (of one dataset and budget) had the same K and images; with
    evaluation.overrides, one per estimator with the losses that had it (the sentence of the
    part's log-likelihood table)."""
    metrics = _evaluated(_metrics())
    drawn = "1,000 of the 10,000 official test images (seeded draw)"
    part = report_parts.dataset_part("mnist", 2, metrics, _both(_metrics())[1],
                                     {"plots": {}, "shown": {}}, {"test_accuracy": 0.99},
                                     STUDY, several=(False, False))
    assert part["study"]["log_px_estimators"] == f"K = 100 on {drawn}"
    bce = metrics.loss == "bce"
    metrics.loc[bce, "iwae_samples"] = 1000
    metrics.loc[bce, "log_px_images_text"] = "all 10,000 official test images"
    assert report_parts.log_px_estimators(metrics) == (
        "K = 1,000 on all 10,000 official test images for bce; "
        f"K = 100 on {drawn} for mse-mean, mse, mse-sigma0.1")


def test_across_part_carries_each_later_dataset_with_its_forest_plot():
    metrics, _ = _both(_metrics())
    other = metrics.assign(dataset="fashion-mnist")
    other.loc[other.loss == "bce", "fid_classifier"] += 200  # bce worst on Fashion-MNIST
    both = pd.concat([metrics, other])
    _, comparisons = _both(both)
    (part,) = report_parts.across_part(comparisons, ["mnist", "fashion-mnist"],
                                       {"fashion-mnist": "data:image/png;base64,AAAA"})
    assert part["reference"] == "MNIST" and part["other"] == "Fashion-MNIST"
    assert part["plot"] == "data:image/png;base64,AAAA"
    assert part["counts"]["reverses"] >= 1 and part["counts"]["holds"] >= 1
    assert any("reverse" in line for line in part["sentences"])
    assert report_parts.across_part(comparisons, ["mnist", "fashion-mnist"])[0]["plot"] is None


def test_budgets_part_follows_each_dataset_from_its_shortest_budget():
    """Two budgets: one entry per dataset, one step (2 -> 30 epochs) whose outcomes are the
    carry-over of the comparisons within that dataset; one budget: no section."""
    metrics, _ = _both(_metrics())
    longer = metrics.assign(epochs=30)
    longer.loc[longer.loss == "bce", "fid_classifier"] += 200  # bce worst after 30 epochs
    _, comparisons = _both(pd.concat([metrics, longer]))
    runs = pd.concat([metrics, longer]).assign(stopped_early_at=np.nan, status="trained")
    runs.loc[(runs.epochs == 30) & (runs.loss != "bce"), "stopped_early_at"] = 12
    (part,) = budgets.section(comparisons, runs, ["mnist"], [2, 30],
                              {"mnist": "data:image/png;base64,AAAA"})
    # at the longest budget, bce's runs trained all 30 epochs: the section names them
    assert part["whole"] == budgets.ran_whole_budget(runs, "mnist", 30) != []
    assert all(line.startswith("bce latent") for line in part["whole"])
    assert part["title"] == "MNIST" and part["plot"] == "data:image/png;base64,AAAA"
    (step,) = part["steps"]
    assert (step["reference"], step["other"]) == (2, 30) and step["counts"]["reverses"] >= 1
    assert {"mean_diff (2 ep.)", "verdict (30 ep.)"} <= set(step["table"].columns)
    assert len(part["stopped"]) == (runs.stopped_early_at == 12).sum()
    assert budgets.section(comparisons, runs, ["mnist"], [2], {}) == []
