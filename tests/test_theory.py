"""vaestudy.theory: the numerical checks of docs/theory.md, the closed forms, and the rendering
of the notes to HTML with MathML."""

import csv
import math
import re
import runpy
from types import SimpleNamespace

import numpy as np
import pytest

from vaestudy import mathdoc, theory

DOC = "docs/theory.md"


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return theory.run_all(seed=0)


def test_every_check_passes(records):
    assert len(records) >= 20
    assert all(set(r) == {"identity", "max_abs_error", "tolerance", "passed"} for r in records)
    failed = [r for r in records if not r["passed"]]
    assert not failed, failed


def test_run_all_is_deterministic(records):
    again = theory.run_all(seed=0)
    assert [(r["identity"], r["max_abs_error"]) for r in again] == \
        [(r["identity"], r["max_abs_error"]) for r in records]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((0.0, 1.0, 0.0, 1.0), 0.0),
        ((1.0, 1.0, 0.0, 1.0), 0.5),
        ((0.0, 2.0, 0.0, 1.0), math.log(1 / 2) + 4 / 2 - 1 / 2),
        ((0.0, 1.0, 0.0, 2.0), math.log(2) + 1 / 8 - 1 / 2),
        ((3.0, 0.5, -1.0, 2.0), math.log(4) + (0.25 + 16) / 8 - 1 / 2),
    ],
)
def test_kl_gaussian_hand_values(args, expected):
    assert theory.kl_gaussian(*args) == pytest.approx(expected, abs=1e-14)


def test_kl_direction():
    """KL(N(0, 2^2) || N(0, 1)) = 0.807 but KL(N(0, 1) || N(0, 2^2)) = 0.318: swapping the
    arguments anywhere (closed form, VAE term, TFP order) fails this test."""
    import tensorflow_probability as tfp

    tfd = tfp.distributions
    forward, backward = math.log(1 / 2) + 2 - 1 / 2, math.log(2) + 1 / 8 - 1 / 2
    assert theory.kl_gaussian(0.0, 2.0, 0.0, 1.0) == pytest.approx(forward)
    assert theory.kl_gaussian(0.0, 1.0, 0.0, 2.0) == pytest.approx(backward)
    # the VAE's KL(q || N(0, I)) with q = N(0, 2^2) per coordinate, 3 coordinates
    assert theory.kl_diag_standard_normal(np.zeros(3), np.full(3, math.log(4.0))) == \
        pytest.approx(3 * forward)
    tfp_kl = tfd.kl_divergence(tfd.Normal(0.0, 2.0), tfd.Normal(0.0, 1.0)).numpy()
    assert tfp_kl == pytest.approx(forward, rel=1e-6)


def test_kl_diag_standard_normal_matches_tfp():
    import tensorflow_probability as tfp

    tfd = tfp.distributions
    rng = np.random.default_rng(1)
    mean, logvar = rng.normal(0, 2, (32, 6)), rng.uniform(-8, 4, (32, 6))
    q = tfd.MultivariateNormalDiag(loc=mean, scale_diag=np.exp(0.5 * logvar))
    p = tfd.MultivariateNormalDiag(loc=np.zeros(6), scale_diag=np.ones(6))
    expected = tfd.kl_divergence(q, p).numpy()
    np.testing.assert_allclose(theory.kl_diag_standard_normal(mean, logvar), expected,
                               rtol=1e-12, atol=1e-12)
    assert theory.kl_diag_standard_normal([0.0], [0.0]) == 0.0


def test_kl_discrete_conventions():
    assert theory.kl_discrete([1.0, 0.0], [0.5, 0.5]) == pytest.approx(math.log(2))  # 0 log 0 = 0
    assert theory.kl_discrete([0.5, 0.5], [1.0, 0.0]) == math.inf  # p log(p/0) = inf
    assert theory.kl_discrete([0.2, 0.8], [0.2, 0.8]) == 0.0


def test_iwae_bound_is_a_stable_log_mean_exp():
    assert theory.iwae_bound(np.array([-1000.0, -1000.0])) == pytest.approx(-1000.0)
    a = np.array([[0.3, -1.2, 2.0], [5.0, 5.0, 5.0]])
    np.testing.assert_allclose(theory.iwae_bound(a), np.log(np.mean(np.exp(a), axis=-1)))


def test_linear_gaussian_posterior_is_gaussian_conditioning():
    rng = np.random.default_rng(2)
    model = theory.LinearGaussian(rng.normal(size=(5, 3)), rng.normal(size=5), 0.7)
    x = rng.normal(size=5)
    mean, cov = model.posterior(x)
    cov_x = model.W @ model.W.T + model.s**2 * np.eye(5)  # joint (z, x) conditioning
    gain = model.W.T @ np.linalg.inv(cov_x)
    np.testing.assert_allclose(mean, gain @ (x - model.b), atol=1e-12)
    np.testing.assert_allclose(cov, np.eye(3) - gain @ model.W, atol=1e-12)
    # Bayes: log p(x, z) - log p(z | x) = log p(x) for every z
    z = rng.normal(size=(10, 3))
    np.testing.assert_allclose(model.log_joint(x, z) - theory.mvn_logpdf(z, mean, cov),
                               model.log_evidence(x), atol=1e-10)


# ---------------------------------------------------------------- rendering docs/theory.md
def test_every_formula_converts(root):
    found = mathdoc.formulas((root / DOC).read_text(encoding="utf-8"))
    assert len(found) > 100
    assert not [f for f, _ in found if "\n\n" in f], "a stray $ swallowed a paragraph"
    failures = []
    for latex, display in found:
        try:
            mathdoc.latex_to_mathml(latex, display)
        except ValueError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)


def test_render_markdown(root):
    html = mathdoc.render_markdown(root / DOC)
    found = mathdoc.formulas((root / DOC).read_text(encoding="utf-8"))
    assert html.count("<math ") == len(found)
    assert html.count('display="block"') == sum(display for _, display in found)
    text = re.sub(r"<[^>]+>", "", html)
    assert "$" not in text and "MATHPH" not in html
    assert "<h2>1. The KL divergence is non-negative</h2>" in html


@pytest.mark.parametrize("latex", [r"\foo{x}", r"\begin{aligned} a &= b \end{aligned}",
                                   r"\frac{a}{", r"\left( a"])
def test_unsupported_latex_is_rejected(latex):
    with pytest.raises(ValueError):
        mathdoc.latex_to_mathml(latex)


def test_render_protects_math_and_reports_failures(tmp_path):
    good = tmp_path / "good.md"
    good.write_text("Text $a_1 * b_2 * c_3$ and `$not math$`.\n\n$$x_i^2 \\| y$$\n")
    html = mathdoc.render_markdown(good)
    assert "<em>" not in html and "<code>$not math$</code>" in html
    assert html.count("<math ") == 2 and "<p><math" not in html  # display math unwrapped
    bad = tmp_path / "bad.md"
    bad.write_text("ok $x$ and bad $\\unknowncommand$ and $$\\frac{a}{$$\n")
    with pytest.raises(ValueError, match="2 formula"):
        mathdoc.render_markdown(bad)


# ---------------------------------------------------------------- workflow script
def test_theory_check_script_writes_csv_then_fails(root, tmp_path, monkeypatch):
    fake = [{"identity": "good", "max_abs_error": 0.0, "tolerance": 1.0, "passed": True},
            {"identity": "bad", "max_abs_error": 2.0, "tolerance": 1.0, "passed": False}]
    monkeypatch.setattr(theory, "run_all", lambda seed=0: fake)
    monkeypatch.syspath_prepend(str(root / "workflow" / "scripts"))
    out = tmp_path / "theory" / "checks.csv"
    sm = SimpleNamespace(output=[str(out)], log=[str(tmp_path / "log.txt")],
                         params=SimpleNamespace())
    with pytest.raises(RuntimeError, match="1 theory check"):
        runpy.run_path(str(root / "workflow" / "scripts" / "theory_check.py"),
                       init_globals={"snakemake": sm})
    rows = list(csv.DictReader(out.open()))
    assert [r["identity"] for r in rows] == ["good", "bad"]
    assert list(rows[0]) == ["identity", "max_abs_error", "tolerance", "passed"]
    assert rows[1]["passed"] == "False"
