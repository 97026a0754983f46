"""Numerical verification of the identities derived in ``docs/theory.md`` (which
:mod:`vaestudy.report.mathdoc` renders into the report).

Why: the study's loss code rests on a handful of identities (Gibbs' inequality, the evidence
decomposition, the Gaussian KL, the importance-weighted bound, losses as likelihoods). Each
``check_*`` function tests some of them numerically and returns records
``{identity, max_abs_error, tolerance, passed}``; :func:`run_all` collects them (workflow rule
``theory_check``). Deterministic checks run in float64 with tolerances near machine precision;
Monte Carlo checks report their largest deviation in standard errors (SE) and pass below 4.
The notes themselves are rendered by :mod:`vaestudy.report.mathdoc`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vaestudy.theory.check_records import MC_SE_TOL, max_z, record, worst

LOG2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------- closed forms (Sections 1, 4)
def kl_discrete(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) = sum_i p_i log(p_i / q_i) over the last axis, with 0 log(0/q) = 0 and
    p log(p/0) = +inf."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    return terms.sum(axis=-1)


def kl_gaussian(mu_p, sigma_p, mu_q, sigma_q) -> np.ndarray:
    """KL(N(mu_p, sigma_p^2) || N(mu_q, sigma_q^2)), expectation under the first argument p;
    ``sigma_*`` are standard deviations. Vectorised (numpy broadcasting)."""
    mu_p, sd_p, mu_q, sd_q = (np.asarray(a, dtype=float) for a in (mu_p, sigma_p, mu_q, sigma_q))
    return np.log(sd_q / sd_p) + (sd_p**2 + (mu_p - mu_q) ** 2) / (2 * sd_q**2) - 0.5


def kl_diag_standard_normal(mean, logvar) -> np.ndarray:
    """KL(N(mean, diag(exp(logvar))) || N(0, I)) = 1/2 sum_d (mean^2 + exp(logvar) - logvar - 1),
    summed over the last axis: the VAE's regularisation term (the encoder is the first argument)."""
    mean, logvar = np.asarray(mean, dtype=float), np.asarray(logvar, dtype=float)
    return 0.5 * np.sum(mean**2 + np.exp(logvar) - logvar - 1.0, axis=-1)


def kl_mvn(m0: np.ndarray, s0: np.ndarray, m1: np.ndarray, s1: np.ndarray) -> float:
    """KL(N(m0, s0) || N(m1, s1)) for full covariances s0, s1 [k, k]."""
    s1_inv, d = np.linalg.inv(s1), m1 - m0
    return 0.5 * float(np.trace(s1_inv @ s0) + d @ s1_inv @ d - len(m0)
                       + np.linalg.slogdet(s1)[1] - np.linalg.slogdet(s0)[1])


def mvn_logpdf(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """log N(x; mean, cov) for x [..., k] (via the Cholesky factor)."""
    chol = np.linalg.cholesky(cov)
    diff = np.asarray(x, dtype=float) - mean
    sol = np.linalg.solve(chol, diff.reshape(-1, len(mean)).T).T.reshape(diff.shape)
    logdet = 2.0 * np.sum(np.log(np.diag(chol)))
    return -0.5 * (len(mean) * LOG2PI + logdet + np.sum(sol**2, axis=-1))


def iwae_bound(log_w: np.ndarray) -> np.ndarray:
    """log (1/K) sum_k w_k over the last axis, from log-weights log w_k = log p(x, z_k) -
    log q(z_k|x): a log-sum-exp shifted by the maximum (log-weights are often -100s of nats)."""
    a = np.max(log_w, axis=-1, keepdims=True)
    return a[..., 0] + np.log(np.mean(np.exp(log_w - a), axis=-1))


# ---------------------------------------------------------------- Section 1: Gibbs' inequality
def check_discrete_kl(rng: np.random.Generator, pairs_per_case: int = 250) -> list[dict]:
    """Random pairs (p, q) of sizes 2..200 from Dirichlet(alpha) with alpha down to 0.01 (near
    one-hot, with exact zeros in p) plus nearly equal pairs (rounding stress): KL >= 0, the
    proof's bound KL >= 1 - sum_{p>0} q (>= 0), Pinsker KL >= 2 TV^2, and KL(p || p) = 0."""
    neg, bound, pinsker, self_kl = 0.0, 0.0, 0.0, 0.0
    for n in (2, 10, 200):
        for alpha in (0.01, 0.1, 1.0, 10.0):
            p = rng.dirichlet(np.full(n, alpha), size=pairs_per_case)
            q = rng.dirichlet(np.full(n, alpha), size=pairs_per_case)
            near = p * np.exp(1e-6 * rng.standard_normal(p.shape))
            q = np.concatenate([q, near / near.sum(-1, keepdims=True)])
            p = np.concatenate([p, p])
            kl = kl_discrete(p, q)
            neg = worst(neg, -kl)
            bound = worst(bound, 1 - np.where(p > 0, q, 0).sum(-1) - kl)
            pinsker = worst(pinsker, 2 * (0.5 * np.abs(p - q).sum(-1)) ** 2 - kl)
            self_kl = worst(self_kl, np.abs(kl_discrete(p, p)))
    names = ("KL(p||q) >= 0", "KL(p||q) >= 1 - sum_{p>0} q (log x <= x-1)",
             "Pinsker KL(p||q) >= 2 TV(p,q)^2")
    # values by hand: the properties above hold for KL(q || p) too, these do not
    p = np.array([[1.0, 0.0], [0.25, 0.75], [0.5, 0.5]])
    q = np.array([[0.5, 0.5], [0.5, 0.5], [1.0, 0.0]])
    known = np.array([math.log(2), 0.25 * math.log(0.5) + 0.75 * math.log(1.5), np.inf])
    kl = kl_discrete(p, q)
    with np.errstate(invalid="ignore"):  # inf - inf: the infinite value must be inf itself
        known_err = worst(np.where(np.isinf(known), np.where(kl == known, 0.0, np.inf),
                                   np.abs(kl - known)))
    return [record(f"discrete: {name} [violation]", err, 1e-15)  # err >= 0 (or NaN)
            for name, err in zip(names, (neg, bound, pinsker))
            ] + [record("discrete: KL(p||p) = 0", self_kl, 0.0),
                 record("discrete: KL((1,0)||(1/2,1/2)) = log 2, KL((1/4,3/4)||(1/2,1/2)), "
                         "KL((1/2,1/2)||(1,0)) = inf", known_err, 1e-15)]


# ---------------------------------------------------------------- Section 4: Gaussian KL
def log_ratio(x, mu_p, sd_p, mu_q, sd_q):
    """log N(x; mu_p, sd_p^2) - log N(x; mu_q, sd_q^2), written out without simplification."""
    def logpdf(mu, sd):
        return -0.5 * LOG2PI - np.log(sd) - (x - mu) ** 2 / (2 * sd**2)
    return logpdf(mu_p, sd_p) - logpdf(mu_q, sd_q)


def check_gaussian_kl(rng: np.random.Generator, n_mc: int = 20_000) -> list[dict]:
    """kl_gaussian on a grid of (mu_p, sigma_p, mu_q, sigma_q) with sigma_p / sigma_q from 1e-2 to
    1e2, against (a) TFP's analytic Normal-Normal KL, (b) trapezoid quadrature of
    int p log(p/q) in the standardised variable t = (x - mu_p)/sigma_p on [-20, 20] (exponentially
    accurate for Gaussian tails), (c) Monte Carlo means under p."""
    import tensorflow_probability as tfp

    tfd = tfp.distributions
    grid = np.meshgrid([-2.0, 0.0, 3.0], [0.1, 0.5, 1.0, 10.0], [0.0, 1.5], [0.1, 1.0, 3.0, 10.0])
    mu_p, sd_p, mu_q, sd_q = (g.ravel() for g in grid)
    kl, n = kl_gaussian(mu_p, sd_p, mu_q, sd_q), mu_p.size
    kl_tfp = tfd.kl_divergence(tfd.Normal(mu_p, sd_p), tfd.Normal(mu_q, sd_q)).numpy()
    params = tuple(a[:, None] for a in (mu_p, sd_p, mu_q, sd_q))
    t = np.linspace(-20.0, 20.0, 4001)
    lr = log_ratio(params[0] + params[1] * t, *params)
    kl_quad = np.trapezoid(np.exp(-0.5 * t**2) / math.sqrt(2 * math.pi) * lr, t, axis=-1)
    lr = log_ratio(params[0] + params[1] * rng.standard_normal((n, n_mc)), *params)
    kl_mc, se = lr.mean(-1), lr.std(-1, ddof=1) / math.sqrt(n_mc)
    return [
        record(f"Gaussian KL = TFP kl_divergence(Normal, Normal), {n} grid points",
                np.max(np.abs(kl - kl_tfp)), 1e-9),
        record(f"Gaussian KL = trapezoid quadrature, {n} grid points",
                np.max(np.abs(kl - kl_quad)), 1e-8),
        record(f"Gaussian KL = Monte Carlo (n={n_mc}), {n} grid points [in SE]",
                max_z(kl_mc, se, kl), MC_SE_TOL),
    ]


# ---------------------------------------------------------------- Sections 2, 3, 5: analytic model
@dataclass
class LinearGaussian:
    """z ~ N(0, I_L), x | z ~ N(W z + b, s^2 I_D): evidence and posterior are Gaussian."""

    W: np.ndarray  # [D, L]
    b: np.ndarray  # [D]
    s: float

    def log_evidence(self, x: np.ndarray) -> float:
        """log p(x) = log N(x; b, W W^T + s^2 I)."""
        return float(mvn_logpdf(x, self.b, self.W @ self.W.T + self.s**2 * np.eye(len(self.b))))

    def posterior(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """p(z|x) = N(cov W^T (x - b) / s^2, cov) with cov = (I + W^T W / s^2)^-1."""
        cov = np.linalg.inv(np.eye(self.W.shape[1]) + self.W.T @ self.W / self.s**2)
        return cov @ self.W.T @ (x - self.b) / self.s**2, cov

    def log_joint(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """log p(x, z) = log p(x|z) + log p(z) for z [..., L]."""
        r = x - z @ self.W.T - self.b
        D, L = self.W.shape
        return (-0.5 * D * (LOG2PI + math.log(self.s**2)) - np.sum(r**2, -1) / (2 * self.s**2)
                - 0.5 * L * LOG2PI - 0.5 * np.sum(z**2, -1))

    def expected_log_lik(self, x: np.ndarray, m: np.ndarray, S: np.ndarray) -> float:
        """E_{N(z; m, S)}[log p(x|z)]
        = -D/2 log(2 pi s^2) - (|x - W m - b|^2 + tr(W S W^T)) / (2 s^2)."""
        r = x - self.W @ m - self.b
        return float(-0.5 * len(x) * (LOG2PI + math.log(self.s**2))
                     - (r @ r + np.trace(self.W @ S @ self.W.T)) / (2 * self.s**2))

    def elbo(self, x: np.ndarray, m: np.ndarray, S: np.ndarray) -> float:
        """Equation (3) in closed form: E_q[log p(x|z)] - KL(q || N(0, I))."""
        L = len(m)
        return self.expected_log_lik(x, m, S) - kl_mvn(m, S, np.zeros(L), np.eye(L))


def check_linear_gaussian(rng: np.random.Generator, n_x: int = 4, n_mc: int = 20_000,
                          repeats: int = 200, ks: tuple[int, ...] = (1, 10, 100, 1000)
                          ) -> list[dict]:
    """Equations (2) and (3), B <= log p(x) with equality at the posterior, and the
    importance-weighted bound L_K (nested samples: L_K of a repeat uses its first K draws, so
    differences between K are estimated with common random numbers), on a random
    linear-Gaussian model with L = 3, D = 5. The q's: the posterior, its mean-field optimum, a
    wide shifted one (these three are used for importance sampling: finite weight variance),
    random full and diagonal ones, and a very narrow one far from the posterior."""
    import tensorflow_probability as tfp

    tfd, cholesky, L, D = tfp.distributions, np.linalg.cholesky, 3, 5
    model = LinearGaussian(rng.standard_normal((D, L)), rng.standard_normal(D), 0.7)
    e = dict.fromkeys(("eq2", "le", "tight", "eq3", "tfp", "mc", "iw_le", "iw_up", "iw_post",
                       "iw_elbo", "iw_gap"), 0.0)
    for _ in range(n_x):
        x = model.W @ rng.standard_normal(L) + model.b + model.s * rng.standard_normal(D)
        log_px, (m_post, s_post) = model.log_evidence(x), model.posterior(x)
        A = rng.normal(size=(L, L))
        for name, m, S in [("posterior", m_post, s_post),
                           ("mean-field", m_post, np.diag(1 / np.diag(np.linalg.inv(s_post)))),
                           ("wide shifted", m_post + 0.5 * np.sqrt(np.diag(s_post)), 2 * s_post),
                           ("random full", m_post + rng.normal(size=L), A @ A.T + 0.1 * np.eye(L)),
                           ("random diag", rng.normal(size=L), np.diag(rng.uniform(0.05, 3, L))),
                           ("narrow far", m_post + 3.0, 1e-3 * np.eye(L))]:
            B, kl_post, chol = model.elbo(x, m, S), kl_mvn(m, S, m_post, s_post), cholesky(S)
            kl_tfp = tfd.kl_divergence(tfd.MultivariateNormalTriL(m, chol),
                                       tfd.MultivariateNormalTriL(m_post, cholesky(s_post)))
            # B as E_q[log p(x,z)] + H[q]: log p(x,z) is quadratic in z, so its mean under q is
            # exact at the 2L sigma points m +- sqrt(L) chol[:, l] (no closed form shared with B)
            entropy = 0.5 * (L * (LOG2PI + 1) + np.linalg.slogdet(S)[1])
            points = m + math.sqrt(L) * np.concatenate([chol.T, -chol.T])  # [2L, L]
            b_alt = float(np.mean(model.log_joint(x, points)))
            z = m + rng.standard_normal((n_mc, L)) @ chol.T
            lw = model.log_joint(x, z) - mvn_logpdf(z, m, S)  # log p(x,z) - log q(z|x)
            for key, val in (("eq2", abs(log_px - (kl_post + B))), ("le", B - log_px),
                             ("eq3", abs(B - b_alt - entropy)),
                             ("tfp", abs(kl_post - float(kl_tfp))),
                             ("mc", max_z(lw.mean(), lw.std(ddof=1) / math.sqrt(n_mc), B))):
                e[key] = worst(e[key], val)
            if name not in ("posterior", "mean-field", "wide shifted"):
                continue  # importance sampling only with proposals of finite weight variance
            z = m + rng.standard_normal((repeats, max(ks), L)) @ chol.T
            lw = model.log_joint(x, z) - mvn_logpdf(z, m, S)  # [repeats, K]
            est = np.stack([iwae_bound(lw[:, :k]) for k in ks])  # [len(ks), repeats]
            if name == "posterior":
                e["tight"] = worst(e["tight"], abs(log_px - B))
                e["iw_post"] = worst(e["iw_post"], np.abs(est - log_px))
                continue
            se = est.std(-1, ddof=1) / math.sqrt(repeats)
            k1 = iwae_bound(lw[..., None])  # L_1 of every single draw [repeats, K]
            d = np.diff(est, axis=0)  # L_K' - L_K per repeat for consecutive K < K'
            z_down = -d.mean(-1) / np.maximum(d.std(-1, ddof=1) / math.sqrt(repeats), 1e-12)
            gap = log_px - est.mean(-1)
            for key, val in (("iw_le", np.max(-gap / se)), ("iw_up", np.max(z_down)),
                             ("iw_elbo", max_z(k1.mean(), k1.std() / math.sqrt(k1.size), B)),
                             ("iw_gap", gap[-1] / gap[0])):
                e[key] = worst(e[key], val)
    kk, se4, tol = "K=" + ",".join(map(str, ks)), MC_SE_TOL, 1e-9
    specs = [("eq2", f"eq. 2: log p(x) = KL(q||p(z|x)) + B, 6 Gaussian q x {n_x} x", tol),
             ("le", "B <= log p(x) [violation]", tol),
             ("tight", "B = log p(x) for q = p(z|x)", tol),
             ("eq3", "eq. 3: E_q log p(x|z) - KL(q||p(z)) = E_q log p(x,z) + H[q]", tol),
             ("tfp", "kl_mvn = TFP kl_divergence(MultivariateNormalTriL, ...)", tol),
             ("mc", f"eq. 3: B = Monte Carlo E_q[log p(x,z) - log q] (n={n_mc}) [in SE]", se4),
             ("iw_le", f"IWAE {kk}: mean of {repeats} repeats <= log p(x) [excess in SE]", se4),
             ("iw_up", f"IWAE {kk}: mean non-decreasing in K [decrease in SE]", se4),
             ("iw_elbo", f"IWAE K=1 on each of {repeats} x {max(ks)} draws: mean = closed-form "
              "ELBO B [in SE]", se4),
             ("iw_gap", f"IWAE: gap log p(x) - L_K at K={ks[-1]} / gap at K=1 [ratio]", 0.5),
             ("iw_post", f"IWAE {kk}: estimate = log p(x) for q = p(z|x), every repeat", tol)]
    return [record(text, e[key], tol) for key, text, tol in specs]  # e[...] >= 0 by its start


# ---------------------------------------------------------------- the study's own code
def check_vae_code(rng: np.random.Generator, n_mc: int = 100_000) -> list[dict]:
    """vaestudy.vae.model / vaestudy.vae.likelihoods against the formulas: the analytic KL of
    posterior() vs prior(), reparameterised gradients, and the bce / mse likelihoods."""
    import tensorflow as tf

    from vaestudy.vae.likelihoods import likelihood
    from vaestudy.vae.model import posterior, prior, reparameterize

    tfd_kl = __import__("tensorflow_probability").distributions.kl_divergence
    mean = rng.normal(0, 2, (64, 8)).astype(np.float32)
    logvar = rng.uniform(-6, 3, (64, 8)).astype(np.float32)
    kl_tf = tfd_kl(posterior(mean, logvar), prior(8)).numpy()
    kl_np = kl_diag_standard_normal(mean, logvar)
    records = [record("kl_diag_standard_normal = TFP KL(model.posterior || model.prior) "
                       "(float32, tol 1e-6 x max KL)", np.max(np.abs(kl_tf - kl_np)),
                       1e-6 * max(1.0, float(np.max(kl_np))))]
    mu = tf.Variable([0.3, -1.2, 2.0], dtype=tf.float64)
    lv = tf.Variable([0.5, -2.0, 1.0], dtype=tf.float64)
    eps = rng.standard_normal((n_mc, 3))
    with tf.GradientTape() as tape:
        z = reparameterize(mu, lv, tf.constant(eps))
        objective = tf.reduce_mean(tf.reduce_sum(z**2, axis=-1))  # estimates sum(mu^2 + sigma^2)
    g_mu, g_lv = (g.numpy() for g in tape.gradient(objective, [mu, lv]))
    zn, sd = z.numpy(), np.exp(0.5 * lv.numpy())
    per_mu, per_lv = 2 * zn, zn * sd * eps  # per-sample gradients for the standard errors
    se = np.concatenate([per_mu.std(0, ddof=1), per_lv.std(0, ddof=1)]) / math.sqrt(n_mc)
    exact = np.concatenate([2 * mu.numpy(), sd**2])
    records.append(record("reparameterize: tape gradient of E[z^2] = (2 mu, sigma^2) [in SE]",
                           max_z(np.concatenate([g_mu, g_lv]), se, exact), MC_SE_TOL))
    logits = rng.uniform(-8, 8, (4, 28, 28, 1))
    xb = (rng.uniform(size=logits.shape) < 0.5).astype(np.float64)
    nll = -likelihood("bce", tf.constant(logits)).log_prob(xb).numpy()
    bce = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(xb, logits), [1, 2, 3]).numpy()
    records.append(record("bce: -log p(x|z) = summed sigmoid_cross_entropy_with_logits",
                           np.max(np.abs(nll - bce)), 1e-9))
    xg, err = rng.uniform(size=logits.shape), 0.0
    for sigma in (0.0625, 1.0, 3.0):  # likelihood() casts sigma to the logits' float64
        nll = -likelihood("mse", tf.constant(logits), sigma).log_prob(xg).numpy()
        sse = np.sum((xg - 1 / (1 + np.exp(-logits))) ** 2, axis=(1, 2, 3))
        formula = sse / (2 * sigma**2) + 784 / 2 * math.log(2 * math.pi * sigma**2)
        err = worst(err, np.abs(nll - formula))
    records.append(record("mse: -log p(x|z) = SSE/(2 sigma^2) + (784/2) log(2 pi sigma^2)",
                           err, 1e-8))
    return records


def run_all(seed: int = 0) -> list[dict]:
    """Every check, each with its own generator seeded by (seed, index): deterministic given
    ``seed`` and independent of the order of the checks."""
    from vaestudy.theory.theory_data import check_dequantization, check_grayscale_likelihoods
    from vaestudy.theory.theory_estimator import check_iwae_estimator

    checks = (check_discrete_kl, check_gaussian_kl, check_linear_gaussian, check_vae_code,
              check_dequantization, check_grayscale_likelihoods, check_iwae_estimator)
    return [r for i, check in enumerate(checks) for r in check(np.random.default_rng([seed, i]))]
