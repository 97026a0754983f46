"""Numerical checks of the identities of grayscale data derived in ``docs/theory.md``,
Section 7: the dequantization bound, the bits/dim conversion, the continuous Bernoulli
normaliser and the optimum of a learned Gaussian scale. Records as in :mod:`vaestudy.theory.theory`.

Why: the gray losses (``cbern``, ``gauss-learned``) are scored in nats of a density on
dequantized images and in bits/dim of the 8-bit images; each step from one to the other is an
identity or an inequality that the code must get right.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from vaestudy.theory.check_records import MC_SE_TOL, record, worst

LEVELS = 256  # 8-bit pixels


def cbern_log_norm(lam: np.ndarray) -> np.ndarray:
    """log C(lambda) of the continuous Bernoulli: C = 2 artanh(1 - 2 lambda) / (1 - 2 lambda),
    and its limit 2 at lambda = 1/2 (a Taylor series near it, where the ratio is 0/0)."""
    lam = np.asarray(lam, dtype=float)
    a = 1 - 2 * lam
    near = np.abs(a) < 1e-4
    safe = np.where(near, 0.5, a)
    exact = np.log(2 * np.arctanh(safe) / safe)
    return np.where(near, math.log(2) + a**2 / 3, exact)  # artanh(a)/a = 1 + a^2/3 + ...


def check_dequantization(rng: np.random.Generator, pixels: int = 784,
                         draws: int = 400) -> list[dict]:
    """Uniform dequantization and bits/dim through the study's code
    (``vaestudy.core.data.binarize(x, "dequantized")`` of gray images x = i/255, then
    ``vaestudy.vae.iwae.bits_per_dim``): for densities p on [0, 1] with known bin masses P(i), the
    bits/dim of log p on the dequantized levels bounds -log2 P(i) / 256 in expectation over
    the offsets u (log P(i) >= E_u log p((i + u)/256) - log 256); every level lands in its bin
    with a uniform offset; and for a density constant on each bin, with known masses P,
    ``bits_per_dim`` of its log-density on the study's dequantized image equals -log2
    P(image) / 784 exactly."""
    from vaestudy.core.data import binarize
    from vaestudy.vae.iwae import bits_per_dim

    # the study's dequantization of every level, `draws` times: y [draws, 256]
    levels = np.arange(LEVELS)
    gray = np.tile(levels / 255.0, (draws, 1)).astype(np.float32)[..., None, None]
    y = binarize(gray, "dequantized", rng)[..., 0, 0].astype(float)
    # the bound on densities p = (Beta(a, b) + U[0, 1]) / 2: bin masses from the Beta cdf, and
    # log p finite on all of [0, 1] (binarize may return 0 or 1 itself); in SE of the draws
    edges = np.arange(LEVELS + 1) / LEVELS
    violation = 0.0
    for a, b in ((2.0, 5.0), (1.5, 1.5), (8.0, 2.0), (1.0, 1.0), (30.0, 30.0)):
        law = stats.beta(a, b)
        # P(i) [256] from whichever tail is smaller (no cancellation of 1 - tiny)
        beta_mass = np.where(edges[:-1] < 0.5, np.diff(law.cdf(edges)), -np.diff(law.sf(edges)))
        exact_bits = -np.log2((beta_mass + 1 / LEVELS) / 2).sum() / LEVELS
        inside = (y >= 0) & (y <= 1)
        log_p = np.where(inside, np.logaddexp(law.logpdf(y), 0.0) - math.log(2), -np.inf)
        log_p = log_p.sum(-1)  # [draws]: log p of the 256-pixel image of every level
        bound = bits_per_dim(log_p, dims=LEVELS)
        if not np.isfinite(bound):  # a value outside [0, 1]: an infinite bound proves nothing
            violation = worst(violation, np.inf)
            continue
        se = log_p.std(ddof=1) / math.sqrt(draws) / (LEVELS * math.log(2))
        violation = worst(violation, (exact_bits - bound) / max(se, 1e-12))
    offset = 256.0 * y - levels  # [draws, 256]
    outside = worst(0.0, -offset, offset - 1)  # distance outside [i/256, (i+1)/256]
    n = offset.size
    uniform = worst(abs(offset.mean() - 0.5) / math.sqrt(1 / 12 / n),
                    abs(offset.var(ddof=1) - 1 / 12) / math.sqrt((1 / 80 - 1 / 144) / n))
    # a density constant on each bin: p(y) = 256 P_d(i) on bin i of pixel d
    pmf = rng.dirichlet(np.full(LEVELS, 0.5), size=pixels)  # [D, 256]: one law per pixel
    image = rng.integers(0, LEVELS, pixels)  # [D] 8-bit levels
    y = binarize((image / 255.0).astype(np.float32), "dequantized", rng).astype(float)
    bins = np.clip(np.floor(LEVELS * y).astype(int), 0, LEVELS - 1)
    log_density = np.log(LEVELS * pmf[np.arange(pixels), bins]).sum()
    bits = bits_per_dim(np.array([log_density]), dims=pixels)
    exact_bits = -np.log2(pmf[np.arange(pixels), image]).sum() / pixels
    return [
        record("dequantization bound: bits_per_dim(log p(binarize(i/255, 'dequantized'))) >= "
               "-log2 P(i)/256 over the 256 levels, 5 densities (Beta + uniform)/2 of known bin "
               f"masses, mean of {draws} draws [violation in SE]", violation, MC_SE_TOL),
        record(f"dequantization: binarize(i/255, 'dequantized') in [i/256, (i+1)/256], 256 "
               f"levels x {draws} draws [distance outside]", outside, 0.0),
        record("dequantization: binarize's offsets 256 y - i uniform on [0, 1) (mean 1/2, "
               "variance 1/12) [in SE]", uniform, MC_SE_TOL),
        record("bits/dim: bits_per_dim(log p) on binarize(image, 'dequantized') = -log2 "
               "P(image) / 784 for a bin-constant density", abs(bits - exact_bits), 1e-9),
    ]


def check_grayscale_likelihoods(rng: np.random.Generator) -> list[dict]:
    """The continuous Bernoulli normaliser integrates to one and matches the study's
    ``cbern`` likelihood; the learned Gaussian scale's optimum is sigma^2 = E[SSE] / D: the
    derivative of the study's ``gauss-learned`` loss in the variable that training moves,
    ``likelihoods.Scale``'s raw value behind its soft floor, vanishes there (``Scale`` set to
    that sigma), and has its closed form next to it (a wrong floor or inverse fails both)."""
    import tensorflow as tf

    from vaestudy.core.losses import resolve
    from vaestudy.vae.likelihoods import Scale, likelihood

    lam = np.concatenate([[1e-4, 0.01, 0.3, 0.49999, 0.5, 0.50001, 0.7, 0.99, 1 - 1e-4],
                          rng.uniform(0.001, 0.999, 40)])
    t, w = np.polynomial.legendre.leggauss(200)
    x = (t + 1) / 2
    dens = np.exp(cbern_log_norm(lam)[:, None] + x * np.log(lam)[:, None]
                  + (1 - x) * np.log1p(-lam)[:, None])
    integral = dens @ (w / 2)
    logits = rng.uniform(-5, 5, (3, 28, 28, 1))
    xg = rng.uniform(size=logits.shape)
    lam_img = 1 / (1 + np.exp(-logits))
    ours = likelihood("cbern", tf.constant(logits)).log_prob(xg).numpy()
    formula = (xg * np.log(lam_img) + (1 - xg) * np.log1p(-lam_img)
               + cbern_log_norm(lam_img)).sum(axis=(1, 2, 3))
    # the learned scale as training holds it, Scale's variable raw with log sigma = m +
    # softplus(raw - m): -log p(x|z) = SSE / (2 sigma^2) + (D/2) log(2 pi sigma^2) per image, so
    # d(-log p)/d raw / D = (1 - E[SSE] / (D sigma^2)) (1 - e^(m - log sigma)), 0 at the optimum
    scale_err, spec = 0.0, resolve("gauss-learned")
    floor = spec.settings["min_log_sigma"]  # m as the loss states it, not as Scale reads it
    for noise in (None, 0.004):  # sigma ~ 0.3 (floor far below), ~ e^-5.5 (on the soft floor)
        means = rng.uniform(-2, 2, (8, 28, 28, 1))
        xs = (rng.uniform(size=means.shape) if noise is None else
              1 / (1 + np.exp(-means)) + noise * rng.standard_normal(means.shape))
        sse = ((xs - 1 / (1 + np.exp(-means))) ** 2).sum(axis=(1, 2, 3)).mean()
        for factor in (1.0, math.exp(0.3), math.exp(-0.3)):
            sigma = factor * math.sqrt(sse / 784)
            scale = Scale(spec, value=sigma)
            with tf.GradientTape() as tape:
                nll = -tf.reduce_mean(likelihood("gauss-learned", tf.constant(means),
                                                 scale()).log_prob(xs))
            grad = float(tape.gradient(nll, scale.raw)) / 784  # per pixel
            exact = (1 - sse / (784 * sigma**2)) * (1 - math.exp(floor - math.log(sigma)))
            scale_err = worst(scale_err, abs(grad - exact))
    return [
        record("continuous Bernoulli: C(lambda) int_0^1 lambda^x (1-lambda)^(1-x) dx = 1, "
                f"{len(lam)} lambdas incl. 1/2", np.max(np.abs(integral - 1)), 1e-10),
        record("cbern: log_prob = sum x log lambda + (1-x) log(1-lambda) + log C(lambda) "
                "(per image)", np.max(np.abs(ours - formula)), 1e-6),
        record("gauss-learned with likelihoods.Scale (float32, soft floor m): d(-log p)/d raw "
                "= 0 at Scale(value=sigma) with sigma^2 = E[SSE]/D, = (1 - E[SSE]/(D sigma^2)) "
                "(1 - e^(m - log sigma)) at sigma x e^(+-0.3), sigma ~ 0.3 and ~ e^-5.5 "
                "[per pixel; float32 rounds log sigma by ~5e-7, measured < 2.1e-6: tol 5e-6]",
                scale_err, 5e-6),
    ]
