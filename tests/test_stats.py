"""The paired tests of vaestudy.analysis.stats at their edges (non-finite differences, Holm families of
unanimous pairs, intervals that do not exist) and how the report's sentences and tables
print what they give."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import template_source

from vaestudy.analysis.stats import paired_comparisons, paired_test, seeds_needed, verdict

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("diff", [[-1, 2, np.inf, 3, 4, 5], [np.inf] * 6, [1, np.nan, 2, 3]])
def test_a_non_finite_difference_gives_no_test_and_no_verdict(diff):
    """An infinite difference makes the SD NaN; that once sent [-1, 2, inf, 3, 4, 5] to the
    sign test (p = 0.031, "different") although its signs disagree."""
    out = paired_test(diff)
    assert out["test"] == "none" and np.isnan(out["p_value"])
    assert np.isnan(out["ci_low"]) and np.isnan(out["ci_high"])
    assert verdict(out, out["p_value"], 1) == "non-finite"


def test_a_non_finite_pair_is_no_verdict_in_the_table_and_the_sentences():
    from vaestudy.analysis.findings import best_per_latent, reference_pairs

    rows = [{"dataset": "mnist", "epochs": 2, "loss": loss, "latent_dim": 16, "seed": seed,
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
    from vaestudy.analysis import across

    rows = [{"dataset": name, "epochs": 2, "loss": loss, "latent_dim": 16, "seed": seed,
             "fid_classifier": value}
            for name, bad in (("mnist", 0.0), ("fashion", np.inf))
            for loss, values in (("bce", [1.0, 2, 3, 4, 5, 6]),
                                 ("mse", [20.0, 22, 21 + bad, 25, 24, 23]))
            for seed, value in enumerate(values)]
    with pytest.warns(UserWarning, match="fashion 2 epochs fid_classifier latent 16 bce - mse"):
        table = across.carry_over(paired_comparisons(pd.DataFrame(rows), ["fid_classifier"]),
                                  "mnist", "fashion")
    assert list(table.outcome) == ["not separated"]
    line = across.sentences(table, "on MNIST", "on Fashion", {})[0]
    assert "not finite on Fashion" in line and "nan" not in line


@pytest.mark.parametrize("family, alpha, seeds", [(1, 0.05, 6), (3, 0.05, 7), (10, 0.05, 9),
                                                  (1, 0.01, 8), (6, 0.05, 8)])
def test_seeds_needed_grows_with_the_holm_family(family, alpha, seeds):
    """m unanimous pairs of one family: the smallest Holm p is m * 2 / 2^n."""
    assert seeds_needed(family, alpha) == seeds
    assert family * 2.0 ** (1 - seeds) < alpha <= family * 2.0 ** (2 - seeds)


def _unanimous(seeds):
    """Three losses whose differences are the same in every seed: three sign tests."""
    return pd.DataFrame([{"dataset": "mnist", "epochs": 2, "loss": loss, "latent_dim": 16, "seed": s,
                          "fid_classifier": value}
                         for loss, value in (("bce", 1.0), ("mse", 5.0), ("cbern", 9.0))
                         for s in range(seeds)])


def test_unanimous_pairs_of_a_family_are_too_few_seeds_until_holm_can_separate_them():
    """At 6 seeds each p = 1/32, and Holm over 3 pairs makes the smallest 3/32 = 0.094: every
    seed agrees, and what keeps the pair unseparated is the number of seeds."""
    from vaestudy.analysis.findings import reference_pairs

    six = paired_comparisons(_unanimous(6), ["fid_classifier"])
    assert list(six.family_size) == [3, 3, 3]
    assert six.p_holm.tolist() == pytest.approx([3 / 32] * 3)
    assert (six.verdict == "too few seeds").all()
    lines = reference_pairs(_unanimous(6), six, "fid_classifier")
    assert all("the same difference in all 6 pairs; with Holm's correction over 3 pairs a "
               "sign test is sure to reach p < 0.05 only from 7 seeds" in line for line in lines)
    seven = paired_comparisons(_unanimous(7), ["fid_classifier"])
    assert (seven.verdict == "different").all()
    one = paired_test([16.0] * 6)
    assert verdict(one, one["p_value"] * 3, 3) == "too few seeds"
    assert verdict(one, one["p_value"], 1) == "different"


def test_an_unseparated_pair_is_never_called_equivalent():
    """A test that does not separate two losses is no evidence that they are equal: the
    verdict is "not separated", as across datasets, and no file of the project says
    otherwise."""
    three = paired_test([1.0, 2.0, 3.5])
    assert verdict(three, 0.3, 1) == "not separated"
    word = "indisting" + "uishable"
    places = [ROOT / name for name in ("src", "workflow", "docs", "tests", "config")]
    files = [p for place in places for p in place.rglob("*") if p.is_file()
             and p.suffix in {".py", ".j2", ".md", ".yaml", ".smk", ".rst", ".html", ""}]
    said = [str(p.relative_to(ROOT)) for p in files + [ROOT / "README.md"]
            if word in p.read_text(errors="ignore").lower()]
    assert not said


def test_a_sign_test_prints_no_zero_width_interval():
    """A difference the same in every seed has no spread: a "95% CI" [-4, -4] would claim a
    certainty no test gives; the words say why there is no interval."""
    from vaestudy.analysis.findings import reference_pairs

    sign = paired_test([16.0] * 3)
    assert sign["test"] == "sign" and np.isnan(sign["ci_low"]) and np.isnan(sign["ci_high"])
    comp = paired_comparisons(_unanimous(3), ["fid_classifier"])
    assert comp.ci_low.isna().all() and comp.ci_high.isna().all()
    lines = reference_pairs(_unanimous(3), comp, "fid_classifier")
    assert lines[0].startswith("Latent size 16: bce − mse in Fréchet distance of samples "
                               "(classifier features): -4 over 3 seed(s): the same difference")
    assert not any("[" in line for line in lines)


def _gaussians(seeds_of_mse=(0, 1, 2)):
    """bce and two fixed-sigma Gaussians at latent 16 with seed noise on every metric."""
    noise = {"bce": (-1.0, 0.2, 0.8), "mse": (0.2, 0.8, -1.0), "mse-sigma0.3": (0.8, -1.0, 0.2)}
    rows = [{"dataset": "mnist", "epochs": 2, "loss": loss, "latent_dim": 16, "seed": s,
             "family": "bce" if beta is None else "mse", "beta": beta,
             "sigma": np.nan if beta is None else np.sqrt(beta / 2),
             "test_kl": 20 + shift + noise[loss][s], "active_units": 16 - shift + noise[loss][s],
             "recon_mse": 0.02 + 1e-3 * (shift + noise[loss][s]),
             "fid_classifier": 40 + shift + noise[loss][s], "knn_accuracy": 0.9}
            for loss, beta, shift in (("bce", None, 0), ("mse", 2.0, 9), ("mse-sigma0.3", 0.18, 1))
            for s in range(3) if loss != "mse" or s in seeds_of_mse]
    return pd.DataFrame(rows)


def test_intervals_beside_holm_verdicts_say_they_are_not_adjusted():
    from vaestudy.analysis.findings import MECHANISM, reference_pairs, versus_bce

    metrics = _gaussians()
    comp = paired_comparisons(metrics, list(MECHANISM))
    line = reference_pairs(metrics, comp, "fid_classifier")[0]
    assert "] (95% CI, not adjusted for multiple comparisons) over 3 seed(s): " in line
    versus = versus_bce(metrics, comp)[0]
    assert versus.startswith("mse − bce (paired over 3 seeds; [ ]: 95% CI per pair, not "
                             "adjusted for multiple comparisons; verdicts Holm-corrected")


def test_a_pair_of_one_seed_prints_no_interval_beside_the_others():
    """mse kept one seed of three (the others diverged): its pairs with bce have no interval
    and no test, though the study has 3 seeds."""
    from vaestudy.analysis.findings import MECHANISM, versus_bce

    metrics = _gaussians(seeds_of_mse=(1,))
    lines = versus_bce(metrics, paired_comparisons(metrics, list(MECHANISM)))
    mse = next(line for line in lines if line.startswith("mse − bce"))
    assert mse.startswith("mse − bce (one seed: no interval, no test): KL per image (nats) "
                          "+9.6; active units")
    assert "nan" not in mse and "[" not in mse
    two = _gaussians(seeds_of_mse=(0, 2))
    lines = versus_bce(two, paired_comparisons(two, list(MECHANISM)))
    assert lines[0].startswith("mse − bce (paired over 2 seeds; [ ]: 95% CI per pair")
    assert lines[1].startswith("mse-sigma0.3 − bce (paired over 3 seeds; [ ]: 95% CI per pair")


def test_log_likelihood_sentences_say_what_their_interval_is():
    from vaestudy.analysis.findings import likelihood_sentences

    runs = pd.DataFrame([{"dataset": "mnist", "epochs": 2, "loss": "bce", "latent_dim": 16, "seed": s,
                          "test_log_px": -100.0 - s, "log_px_data": "binarized",
                          "iwae_samples": 10, "iwae_images": 5, "binarization": "static"}
                         for s in range(3)])
    assert "log p(x) -101 ± 2.5 nats over 3 seed(s), mean ± 95% CI half-width (IWAE K = " in \
        likelihood_sentences(runs)[0]
    assert "log p(x) -100 nats over 1 seed(s) (IWAE K = " in likelihood_sentences(runs[:1])[0]


@pytest.mark.parametrize("kl, collapsed", [((1e-7, 2e-7, 0.0), True), ((2.0, 2.5, 3.0), False)])
def test_no_active_unit_is_posterior_collapse_only_where_the_kl_is_zero_too(kl, collapsed):
    """Active units count the dimensions whose posterior mean varies across the test images
    (Var_x E[z_d|x] > 0.01): zero of them says nothing of the KL, which may still be nats
    per image; only both at zero mean q(z|x) is the prior."""
    from vaestudy.analysis.findings import pixel_averaged

    group = pd.DataFrame([{"loss": "mse-mean", "family": "mse", "beta": 784.0, "sigma": 19.8,
                           "latent_dim": 16, "seed": s, "active_units": 0, "test_kl": kl[s],
                           "fid_classifier": 200.0 + s} for s in range(3)]
                         + [{"loss": "mse", "family": "mse", "beta": 2.0, "sigma": 1.0,
                             "latent_dim": 16, "seed": s, "active_units": 5, "test_kl": 8.0,
                             "fid_classifier": 90.0 + s} for s in range(3)])
    line = pixel_averaged(group)[0]
    assert ("q(z|x) is the prior" in line and "posterior collapse" in line) == collapsed
    assert ("information about x" in line) == collapsed
    if not collapsed:
        assert "KL 2.5 ± " in line and "no unit active: no dimension's posterior mean varies " \
            "across the test images by a variance above 0.01" in line


def test_the_effect_size_is_hedges_g_with_its_small_sample_correction():
    """d_z = mean / sd overstates the effect at few seeds: E[d_z] = d / J(n - 1) with
    J(v) = Gamma(v/2) / (sqrt(v/2) Gamma((v-1)/2)), 1/sqrt(pi) = 0.564 at 3 seeds."""
    three = paired_test([1.0, 2.0, 3.0])  # d_z = 2
    assert "effect_size_dz" not in three
    assert three["effect_size_gz"] == pytest.approx(2 / np.sqrt(np.pi))
    assert paired_test([1.0, 3.0, 5.0, 7.0, 9.0, 11.0])["effect_size_gz"] == pytest.approx(
        6 / np.sqrt(14) * 0.84075, abs=1e-4)  # J(5) = Gamma(2.5) / (sqrt(2.5) Gamma(2))
    assert np.isnan(paired_test([1.0, 3.0])["effect_size_gz"])  # J(1) = 0: no unbiased g
    rng = np.random.default_rng(0)
    many = rng.normal(1.0, 1.0, 2000)
    assert paired_test(many)["effect_size_gz"] == pytest.approx(many.mean() / many.std(ddof=1),
                                                                rel=1e-3)


def test_the_reference_docs_size_the_bias_of_the_first_2000_images_by_their_own_table():
    """docs/reference.md: the first 2,000 test images overstate the all-images log p(x) by
    about twice the standard error of a 2,000-image mean, as its own table says."""
    text = (ROOT / "docs" / "reference.md").read_text()
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines()
             if line.startswith("| ")]
    row = {c[0]: [float(v.replace("−", "-")) for v in c[-2:]] for c in cells
           if len(c) == 4 and c[0] in ("first 2,000", "all")}  # mean log p(x), SE
    bias = row["first 2,000"][0] - row["all"][0]
    assert round(bias, 1) == 1.1 and round(bias / row["first 2,000"][1]) == 2
    assert "by about 1.1 nats here: about twice the standard error of a 2,000-image mean" in text


def test_the_reports_pointer_to_the_reference_says_what_docs_reference_md_measured():
    """The default report's pointer to docs/reference.md names the config's budgets and says
    what that page measured: bce's log p(x) at the longest budget as the page's table and text
    give it, and every 2-epoch difference holding at every longer budget only where the page
    says all of them held."""
    text = (ROOT / "docs" / "reference.md").read_text()
    reference = yaml.safe_load((ROOT / "config" / "reference.yaml").read_text())["study"]
    budgets, longest = reference["epochs"], reference["epochs"][-1]
    table = [[c.strip().strip("*") for c in line.split("|")[1:-1]] for line in text.splitlines()
             if line.startswith("| `bce` |")]
    log_px = next(row[3] for row in table if row[1] == str(longest))  # "−88.7 ± 0.2"
    assert f"over the three seeds {log_px}**" in text
    longer = [str(budget) for budget in budgets[1:]]
    held = ", at ".join(longer[:-1]) + f" and at {longest} epochs"  # "10, at 30 and at 100 epochs"
    found = re.search(rf"of the (\d+) differences between losses found at {budgets[0]} epochs, "
                      rf"all (\d+) hold at {held}", " ".join(text.split()))
    assert found and found.group(1) == found.group(2)
    template = template_source()
    pointer = template[template.index("whether\nthe differences between"):][:1200]
    listed = ", ".join(map(str, budgets[:-1])) + f" and {longest}"
    assert f"budgets of {listed}\nepochs" in pointer  # the pointer names the config's budgets
    said = " ".join(pointer.split())
    assert f"separated in the same direction at {', '.join(longer[:-1])} and {longest} epochs" in said
    assert log_px.replace("−", "&minus;").replace("±", "&plusmn;") in said
    assert "K = 1,000, all 10,000 test images" in said


@pytest.mark.parametrize("table", ["part.comparable", "part.loglik", "cost"])
def test_every_mean_and_interval_table_of_the_report_says_what_its_interval_is(table):
    """The tables of study_plots.summary_table print "mean ± half-width": the text just above
    each in the template says that this is a 95% CI over seeds."""
    template = template_source()
    at = template.index("{{ " + table + "|safe }}")
    above = template[max(0, at - 1500):at]
    assert "95% CI half-width over seeds" in above[above.rindex("<h3"):]


def test_a_density_compares_only_losses_with_the_same_log_likelihood_estimator():
    """bits/dim from K = 1,000 against bits/dim from K = 100 would be a difference of K: such a
    pair is not compared (evaluation.overrides gives some runs another estimator); the
    comparable metrics are compared as ever."""
    rows = [{"dataset": "mnist", "epochs": 2, "loss": loss, "latent_dim": 16, "seed": seed,
             "bits_per_dim": 1.0 + seed + offset, "fid_classifier": 10.0 + seed + offset,
             "iwae_samples": k, "iwae_images": 2000}
            for loss, offset, k in (("dlogistic", 0.0, 100), ("dgauss", 0.5, 100),
                                    ("cbern", 1.0, 1000))
            for seed in range(3)]
    table = paired_comparisons(pd.DataFrame(rows), ["fid_classifier", "bits_per_dim"],
                               estimated=("bits_per_dim",))
    pairs = {m: set(zip(t.loss_a, t.loss_b)) for m, t in table.groupby("metric")}
    assert pairs["bits_per_dim"] == {("dlogistic", "dgauss")}
    assert len(pairs["fid_classifier"]) == 3
    assert table.groupby("metric").family_size.first().to_dict() == {"bits_per_dim": 1,
                                                                      "fid_classifier": 3}
