"""vaestudy.theory.theory: the numerical checks of docs/theory.md, the closed forms, and the rendering
of the notes to HTML with MathML."""

import csv
import math
import re
import runpy
from types import SimpleNamespace

import numpy as np
import pytest

from vaestudy.report import mathdoc
from vaestudy.theory import theory

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


# ---------------------------------------------------------------- planted bugs
def _orig(module, name):
    return getattr(module, name)


def _planted(module, name: str, old: str, new: str):
    """``module.name`` compiled again from its own source with ``old`` (which must occur there
    exactly once: a changed source fails here, not silently) replaced by ``new``, in the
    module's namespace: a bug planted inside a function, as mutation testing would."""
    import inspect
    import linecache
    import textwrap

    source = textwrap.dedent(inspect.getsource(getattr(module, name)))
    assert source.count(old) == 1, (module.__name__, name, old)
    planted = source.replace(old, new)
    filename = f"<planted {module.__name__}.{name}: {old!r} -> {new!r}>"
    # the source where inspect looks for it: tf.function's autograph reads it from there
    linecache.cache[filename] = (len(planted), None, planted.splitlines(True), filename)
    namespace = dict(vars(module))
    exec(compile(planted, filename, "exec"), namespace)  # noqa: S102
    return namespace[name]


def _mutants():
    """(name, check function, [(module, attribute, replacement factory)], failing records):
    one planted bug per check record; each must fail the records named (substrings) and no
    other record of its check function."""
    from vaestudy.core import data
    from vaestudy.theory import theory_data, theory_estimator
    from vaestudy.vae import iwae, likelihoods, model

    lik = likelihoods.likelihood
    estimator = theory_estimator.check_iwae_estimator
    scale = likelihoods.Scale

    def family_bug(family, fn):
        return lambda f, logits, sigma=1.0: fn(logits, sigma) if f == family else lik(
            f, logits, sigma)

    kl_d, kl_g, lg = theory.kl_discrete, theory.kl_gaussian, theory.LinearGaussian
    ell, evidence = lg.expected_log_lik, lg.log_evidence
    iw, lr = theory.iwae_bound, theory.log_ratio
    return [
        ("KL offset", theory.check_discrete_kl,
         [(theory, "kl_discrete", lambda p, q: kl_d(p, q) + 1e-3)], ["KL(p||p) = 0", "log 2"]),
        ("KL direction", theory.check_discrete_kl,
         [(theory, "kl_discrete", lambda p, q: kl_d(q, p))], ["log 2"]),
        ("KL sign", theory.check_discrete_kl,
         [(theory, "kl_discrete", lambda p, q: -kl_d(p, q))],
         ["KL(p||q) >= 0", "1 - sum", "Pinsker", "log 2"]),
        ("Gaussian KL direction", theory.check_gaussian_kl,
         [(theory, "kl_gaussian", lambda mp, sp, mq, sq: kl_g(mq, sq, mp, sp))],
         ["TFP", "quadrature", "Monte Carlo"]),
        ("log-ratio sign", theory.check_gaussian_kl,
         [(theory, "log_ratio", lambda *a: -lr(*a))], ["quadrature", "Monte Carlo"]),
        ("expected log-likelihood without the trace", theory.check_linear_gaussian,
         [(lg, "expected_log_lik", lambda self, x, m, S: ell(self, x, m, 0 * S))],
         ["eq. 2", "B <= log p", "B = log p(x) for q", "eq. 3: E_q", "eq. 3: B =",
          "IWAE K=1 on"]),
        ("KL of Gaussians reversed", theory.check_linear_gaussian,
         [(theory, "kl_mvn", lambda m0, s0, m1, s1: theory_kl_mvn(m1, s1, m0, s0))],
         ["eq. 2", "B = log p(x) for q", "eq. 3: E_q", "kl_mvn", "eq. 3: B =",
          "IWAE K=1 on"]),
        ("IWAE log sum, not log mean", theory.check_linear_gaussian,
         [(theory, "iwae_bound", lambda lw: iw(lw) + np.log(lw.shape[-1]))],
         ["<= log p(x) [excess", "for q = p(z|x), every"]),
        ("IWAE minus log K twice", theory.check_linear_gaussian,
         [(theory, "iwae_bound", lambda lw: iw(lw) - np.log(lw.shape[-1]))],
         ["non-decreasing", "gap log p(x)", "for q = p(z|x), every"]),
        ("IWAE is the ELBO for every K", theory.check_linear_gaussian,
         [(theory, "iwae_bound", lambda lw: lw.mean(-1))], ["gap log p(x)"]),
        ("IWAE offset", theory.check_linear_gaussian,
         [(theory, "iwae_bound", lambda lw: iw(lw) + 0.2)],
         ["<= log p(x) [excess", "IWAE K=1 on", "gap log p(x)", "for q = p(z|x), every"]),
        ("evidence off by 0.5 nats", theory.check_linear_gaussian,
         [(lg, "log_evidence", lambda self, x: evidence(self, x) + 0.5)],
         ["eq. 2", "B = log p(x) for q", "gap log p(x)", "for q = p(z|x), every"]),
        ("diagonal KL without -1", theory.check_vae_code,
         [(theory, "kl_diag_standard_normal",
           lambda m, lv: theory_kl_diag(m, lv) + 0.5 * np.shape(m)[-1])], ["TFP KL(model"]),
        ("reparameterization with the variance", theory.check_vae_code,
         [(model, "reparameterize", lambda m, lv, eps: m + tf_exp(lv) * eps)],
         ["reparameterize"]),
        ("bce with flipped logits", theory.check_vae_code,
         [(likelihoods, "likelihood", family_bug("bce", lambda lo, s: lik("bce", -lo)))],
         ["bce:"]),
        ("mse with sigma as variance", theory.check_vae_code,
         [(likelihoods, "likelihood", family_bug("mse", lambda lo, s: lik("mse", lo, s**0.5)))],
         ["mse:"]),
        ("dequantization by 255, not 256", theory_data.check_dequantization,
         [(data, "binarize", lambda x, scheme, rng=None: _ORIGINALS["binarize"](x, scheme, rng)
           * (256 / 255 if scheme == "dequantized" else 1))],
         ["dequantization bound", "in [i/256", "uniform on [0, 1)", "bits/dim:"]),
        ("dequantization without noise", theory_data.check_dequantization,
         [(data, "binarize", lambda x, scheme, rng=None: (np.round(x * 255) + 0.5) / 256)],
         ["dequantization bound", "uniform on [0, 1)"]),
        ("bits/dim without D log 256", theory_data.check_dequantization,
         [(iwae, "bits_per_dim", lambda lp, dims=784: float(-np.mean(lp) / (dims * np.log(2))))],
         ["dequantization bound", "bits/dim:"]),
        ("continuous Bernoulli normaliser without the 2", theory_data.check_grayscale_likelihoods,
         [(theory_data, "cbern_log_norm", lambda lam: theory_cbern(lam) - np.log(2))],
         ["int_0^1", "cbern: log_prob"]),
        ("cbern as an unnormalised Bernoulli", theory_data.check_grayscale_likelihoods,
         [(likelihoods, "likelihood", family_bug("cbern", lambda lo, s: lik("bce", lo)))],
         ["cbern: log_prob"]),
        ("learned sigma as a variance", theory_data.check_grayscale_likelihoods,
         [(likelihoods, "likelihood", family_bug("gauss-learned",
                                                 lambda lo, s: lik("mse", lo, s**0.5)))],
         ["gauss-learned"]),
        ("Scale.set_sigma without inverting the soft floor",
         theory_data.check_grayscale_likelihoods,
         [(scale, "set_sigma", lambda self, sigma: self.raw.assign(np.log(sigma)))],
         ["gauss-learned"]),
        ("Scale without its softplus (a learned sigma = e^raw)",
         theory_data.check_grayscale_likelihoods,
         [(scale, "__call__", lambda self: tf_exp(self.raw))], ["gauss-learned"]),
        ("Scale's soft floor 4 nats below the loss's min_log_sigma",
         theory_data.check_grayscale_likelihoods,
         [(scale, "__init__", _floor_lowered(scale.__init__))], ["gauss-learned"]),
        ("estimator without -log K (a log-sum, not a log-mean)", estimator,
         [(iwae, "iwae_estimate", _planted(iwae, "iwae_estimate", " - math.log(k)", ""))],
         ["every one of", "<= log p(x) [excess"]),
        ("estimator with -log K twice", estimator,
         [(iwae, "iwae_estimate", _planted(iwae, "iwae_estimate", " - math.log(k)",
                                           " - 2 * math.log(k)"))],
         ["every one of", "non-decreasing", "gap log p(x)"]),
        ("streaming log-sum-exp without rescaling the running sum", estimator,
         [(iwae, "iwae_estimate", _planted(iwae, "iwae_estimate",
                                           "running_sum * np.exp(running_max - new_max)",
                                           "running_sum"))],
         ["<= log p(x) [excess", "non-decreasing"]),
        ("log-sum-exp without adding back its maximum", estimator,
         [(iwae, "iwae_estimate", _planted(iwae, "iwae_estimate",
                                           "running_max + np.log(running_sum)",
                                           "np.log(running_sum)"))],
         ["every one of", "non-decreasing", "gap log p(x)"]),
        ("ELBO of the draws divided by K + 1", estimator,
         [(iwae, "iwae_estimate", _planted(iwae, "iwae_estimate", "total / k",
                                           "total / (k + 1)"))], ["elbo of the"]),
        ("log-weights without -log q(z|x)", estimator,
         [(iwae, "make_log_weights", _planted(iwae, "make_log_weights",
                                              " - posterior(mean, logvar).log_prob(z)", ""))],
         ["every one of", "gap log p(x)", "elbo of the"]),
    ]


def theory_kl_mvn(*a):
    return _ORIGINALS["kl_mvn"](*a)


def theory_kl_diag(*a):
    return _ORIGINALS["kl_diag"](*a)


def theory_cbern(lam):
    return _ORIGINALS["cbern"](lam)


def _floor_lowered(init):
    """Scale.__init__ that reads its soft floor 4 nats below the loss's ``min_log_sigma``."""
    def lowered(self, spec, value=None):
        init(self, spec)
        if self.learned:
            self.floor -= 4.0
        if value is not None:
            self.set_sigma(value)
    return lowered


def tf_exp(x):
    import tensorflow as tf

    return tf.exp(x)


def _originals():
    from vaestudy.core import data
    from vaestudy.theory import theory_data

    return {"kl_mvn": theory.kl_mvn, "kl_diag": theory.kl_diag_standard_normal,
            "cbern": theory_data.cbern_log_norm, "binarize": data.binarize}


_ORIGINALS = _originals()
MUTANTS = _mutants()


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_each_check_fails_on_its_planted_bug(mutant, monkeypatch):
    """Every record of every check is the target of at least one planted bug (test below),
    and each bug fails exactly the records it should, no other record of its check."""
    _name, check, patches, expected = mutant
    clean = {r["identity"] for r in check(np.random.default_rng(7))}
    for module, attr, value in patches:
        monkeypatch.setattr(module, attr, value)
    failed = {r["identity"] for r in check(np.random.default_rng(7)) if not r["passed"]}
    want = {i for i in clean if any(e in i for e in expected)}
    assert len(want) == len(expected), (expected, clean)  # each substring names one record
    assert failed == want


def test_every_check_record_has_a_planted_bug(records):
    expected = [e for m in MUTANTS for e in m[3]]
    untargeted = [r["identity"] for r in records
                  if not any(e in r["identity"] for e in expected)]
    assert not untargeted


# ---------------------------------------------------------------- planted NaN
def _nan_like(value):
    """``value`` (a number, array, tensor or tuple of them) with every entry NaN."""
    import tensorflow as tf

    if isinstance(value, tuple):
        return tuple(_nan_like(v) for v in value)
    if isinstance(value, dict):
        return {k: _nan_like(v) for k, v in value.items()}
    if tf.is_tensor(value):
        return value * tf.constant(np.nan, value.dtype)
    return np.asarray(value) * np.nan  # a float32 array stays float32 (a Python scalar)


def _nan_output(fn):
    return lambda *args, **kwargs: _nan_like(fn(*args, **kwargs))


def _nan_cases():
    """(check, module or class, attribute, NaN version): every project function a theory
    check calls; functions that return a distribution get NaN parameters."""
    from vaestudy.core import data
    from vaestudy.theory import theory_data, theory_estimator
    from vaestudy.vae import iwae, likelihoods, model

    lik, post, lg = likelihoods.likelihood, model.posterior, theory.LinearGaussian
    estimator, weights = theory_estimator.check_iwae_estimator, iwae.make_log_weights
    cases = [(theory.check_discrete_kl, theory, "kl_discrete"),
             (theory.check_gaussian_kl, theory, "kl_gaussian"),
             (theory.check_gaussian_kl, theory, "log_ratio"),
             *[(theory.check_linear_gaussian, theory, name)
               for name in ("kl_mvn", "mvn_logpdf", "iwae_bound")],
             *[(theory.check_linear_gaussian, lg, name)
               for name in ("log_evidence", "posterior", "log_joint", "expected_log_lik",
                            "elbo")],
             (theory.check_vae_code, theory, "kl_diag_standard_normal"),
             (theory.check_vae_code, model, "reparameterize"),
             (theory_data.check_dequantization, data, "binarize"),
             (theory_data.check_dequantization, iwae, "bits_per_dim"),
             (theory_data.check_grayscale_likelihoods, theory_data, "cbern_log_norm"),
             (theory_data.check_grayscale_likelihoods, likelihoods.Scale, "__call__"),
             *[(estimator, iwae, name) for name in ("iwae_estimate", "reparameterize",
                                                    "split_moments", "batched")],
             (estimator, theory_estimator.LinearGaussianVAE, "log_evidence")]
    out = [(check, owner, name, _nan_output(getattr(owner, name)))
           for check, owner, name in cases]
    nan_logits = lambda family, logits, sigma=1.0: lik(family, _nan_like(logits), sigma)  # noqa: E731
    return out + [
        (theory.check_vae_code, likelihoods, "likelihood", nan_logits),
        (theory_data.check_grayscale_likelihoods, likelihoods, "likelihood", nan_logits),
        (theory.check_vae_code, model, "posterior", lambda m, lv: post(_nan_like(m), lv)),
        (theory.check_vae_code, model, "prior",
         lambda dim: post(np.full(dim, np.nan, np.float32), np.zeros(dim, np.float32))),
        (estimator, iwae, "likelihood", nan_logits),  # iwae's own name of the function
        (estimator, iwae, "make_log_weights", lambda *a: _nan_output(weights(*a))),
        (estimator, iwae, "prior",
         lambda dim: post(np.full(dim, np.nan, np.float32), np.zeros(dim, np.float32))),
        (estimator, iwae, "posterior", lambda m, lv: post(_nan_like(m), lv)),
    ]


NAN_CASES = _nan_cases()


@pytest.mark.parametrize("case", NAN_CASES,
                         ids=[f"{c[0].__name__}-{c[2]}" for c in NAN_CASES])
def test_a_planted_nan_fails_its_check(case, monkeypatch):
    """NaN from any project function a check calls fails at least one of its records (a
    check that accumulated errors with Python's max() passed on NaN)."""
    check, owner, name, nan_version = case
    monkeypatch.setattr(owner, name, nan_version)
    with np.errstate(all="ignore"):
        records = check(np.random.default_rng(7))
    assert any(not r["passed"] for r in records), records


def test_worst_and_record_fail_on_nan():
    from vaestudy.theory.check_records import record, worst

    assert np.isnan(worst(0.0, np.nan)) and np.isnan(worst(np.array([1.0, np.nan]), 0.0))
    assert max(0.0, np.nan) == 0.0  # why worst exists
    assert worst(0.0, np.array([-1.0, -2.0])) == 0.0 and worst(-3.0, [2.0]) == 2.0
    assert not record("x", np.nan, 1.0)["passed"] and record("x", 1.0, 1.0)["passed"]
