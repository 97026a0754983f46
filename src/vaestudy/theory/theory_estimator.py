"""Numerical check of the study's own log-likelihood estimator (``docs/theory.md``, Section
5.2): :func:`vaestudy.vae.iwae.make_log_weights` and :func:`vaestudy.vae.iwae.iwae_estimate`, the
code that produces every reported log p(x), run on a model whose log p(x) is known exactly.
Records as in :mod:`vaestudy.theory.theory`.

Why: the importance-weighted bound is checked in :mod:`vaestudy.theory.theory` with that module's
own log-sum-exp; a bug in the study's streaming log-sum-exp, its -log K or its ELBO of the
same draws would pass there and still change every table. Here the estimator runs, in
float32 as in an evaluation, on a linear-Gaussian decoder
    z ~ N(0, I_L),  x | z ~ N(W z + b, s^2 I_D),  p(x) = N(x; b, W W^T + s^2 I_D),
with D = 784 and the ``mse`` likelihood (mean sigmoid(logits) = W z + b, scale s). The columns
of W are orthogonal, so the posterior p(z|x) is a diagonal Gaussian that the study's diagonal
encoder can output exactly: then every weight is p(x) and the estimate is log p(x) for every K
and every draw. With a deliberately wider, shifted q the estimate is a stochastic lower bound
that climbs to log p(x) as K grows.
"""

from __future__ import annotations

import math

import numpy as np

from vaestudy.theory.check_records import MC_SE_TOL, record, worst

SIDE = 28  # the estimator's images are [B, 28, 28, 1]
S = 0.1  # the decoder's noise scale s (the ``mse`` likelihood's sigma)
COLUMN_NORMS = np.array([0.05, 0.1, 0.15, 0.2])  # |W_l|: posterior variances 0.8 ... 0.2
Q_SHIFT, Q_WIDEN = 0.5, 1.5  # the imperfect q: mean + 0.5 sd, sd x 1.5, every latent


def sign_patterns() -> np.ndarray:
    """Four orthonormal images [784, 4] with every entry +-1/28, outer products of the
    mutually orthogonal patterns (1, 1, ...), (1, -1, 1, -1, ...) and (1, 1, -1, -1, ...)
    along rows and columns: |(W z)_d| <= sum_l |W_l| |z_l| / 28 for every pixel d, which keeps
    W z + b inside (0, 1) (the decoder's logits finite) for any z the estimator draws."""
    i = np.arange(SIDE)
    ones, alternating, pairs = np.ones(SIDE), (-1.0) ** i, (-1.0) ** (i // 2)
    rows_cols = [(ones, alternating), (alternating, ones), (pairs, ones), (alternating, pairs)]
    return np.stack([np.outer(r, c).ravel() for r, c in rows_cols], axis=1) / SIDE


class LinearGaussianVAE:
    """The linear-Gaussian model as the study's encoder and decoder (plain callables that
    :func:`vaestudy.vae.iwae.make_log_weights` compiles like Keras models): the encoder outputs
    [mean, logvar] of p(z|x), or of that posterior shifted by ``shift`` of its standard
    deviations and widened by ``widen``; the decoder outputs logit(W z + b) [N, 28, 28, 1]."""

    def __init__(self, rng: np.random.Generator):
        self.W = sign_patterns() * COLUMN_NORMS  # [D, L], orthogonal columns
        self.b = rng.uniform(0.35, 0.65, SIDE * SIDE)  # [D]; W z + b in (0, 1) while |z_l| < 19
        D, L = self.W.shape
        # p(z|x) = N(cov W^T (x - b) / s^2, cov), cov = (I + W^T W / s^2)^-1 (diagonal here)
        cov = np.linalg.inv(np.eye(L) + self.W.T @ self.W / S**2)
        self.post_var = np.diag(cov).copy()
        self.gain = cov @ self.W.T / S**2  # [L, D]
        self.off_diagonal = float(np.max(np.abs(cov - np.diag(self.post_var))))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n images x = W z + b + s eta [n, 28, 28, 1] in float32 (what the estimator sees)."""
        z = rng.standard_normal((n, self.W.shape[1]))
        x = z @ self.W.T + self.b + S * rng.standard_normal((n, self.W.shape[0]))
        return x.reshape(n, SIDE, SIDE, 1).astype(np.float32)

    def log_evidence(self, x: np.ndarray) -> np.ndarray:
        """log p(x) = log N(x; b, W W^T + s^2 I) [N] in float64, by scipy from the Cholesky
        factor of the dense 784 x 784 covariance: nothing shared with the estimator or the
        posterior formula."""
        from scipy.stats import Covariance, multivariate_normal

        cov = self.W @ self.W.T + S**2 * np.eye(len(self.b))
        law = multivariate_normal(self.b, Covariance.from_cholesky(np.linalg.cholesky(cov)))
        return np.atleast_1d(law.logpdf(x.reshape(len(x), -1).astype(np.float64)))

    def encoder(self, shift: float = 0.0, widen: float = 1.0):
        """q(z|x) as the study's encoder output [B, 2L] = [mean, logvar] (float32): p(z|x)
        itself by default, else its mean moved by ``shift`` posterior standard deviations and
        its standard deviation multiplied by ``widen``."""
        import tensorflow as tf

        gain_t = tf.constant(self.gain.T, tf.float32)  # [D, L]
        b = tf.constant(self.b, tf.float32)
        sd = np.sqrt(self.post_var)
        offset = tf.constant(shift * sd, tf.float32)
        logvar = tf.constant(np.log(self.post_var * widen**2), tf.float32)

        def encode(x, training=False):  # [B, 28, 28, 1] -> [B, 2L]
            mean = (tf.reshape(x, [-1, len(self.b)]) - b) @ gain_t + offset
            return tf.concat([mean, tf.broadcast_to(logvar, tf.shape(mean))], axis=-1)

        return encode

    def decoder(self):
        """The decoder z [N, L] -> logits [N, 28, 28, 1] (float32) with sigmoid(logits) =
        W z + b: with the ``mse`` likelihood at sigma = s, p(x|z) of the model."""
        import tensorflow as tf

        w_t, b = tf.constant(self.W.T, tf.float32), tf.constant(self.b, tf.float32)

        def decode(z, training=False):  # [N, L] -> logits [N, 28, 28, 1]
            mean = z @ w_t + b
            return tf.reshape(tf.math.log(mean) - tf.math.log1p(-mean), [-1, SIDE, SIDE, 1])

        return decode


def check_iwae_estimator(rng: np.random.Generator, n_exact: int = 20, n_images: int = 200,
                         ks: tuple[int, ...] = (1, 10, 100, 1000)) -> list[dict]:
    """``make_log_weights`` + ``iwae_estimate`` (the study's chunks of 10 draws and batches of
    100 images) on the linear-Gaussian model: exact at q = p(z|x) for K = 1, 10, 100; with the
    wider, shifted q, averaged over ``n_images`` model draws, L_K <= log p(x), L_K
    non-decreasing in K, the gap shrinking towards 0, and the ELBO of the same draws equal to
    log p(x) - KL(q || p(z|x)) (eq. 2; the KL per latent is log(1/1.5) + (1.5^2 + 0.5^2)/2 -
    1/2 in units of the posterior's standard deviation)."""
    from vaestudy.vae.iwae import iwae_estimate, make_log_weights

    model = LinearGaussianVAE(rng)
    L = model.W.shape[1]

    def estimates(log_w, x, k):
        return iwae_estimate(log_w, x, k, L, seed=int(rng.integers(2**31)))

    at_posterior = make_log_weights(model.encoder(), model.decoder(), "mse", L, S)
    x = model.sample(rng, n_exact)
    exact = model.log_evidence(x)
    sharp = worst(0.0, *(np.abs(estimates(at_posterior, x, k)["log_px"] - exact)
                         for k in ks[:-1]))
    wide = make_log_weights(model.encoder(Q_SHIFT, Q_WIDEN), model.decoder(), "mse", L, S)
    x = model.sample(rng, n_images)
    exact = model.log_evidence(x)
    runs = [estimates(wide, x, k) for k in ks]
    est = np.stack([r["log_px"] for r in runs])  # [len(ks), N]
    gap = exact - est  # E >= 0 for every image (Jensen)
    se = gap.std(-1, ddof=1) / math.sqrt(n_images)
    d = np.diff(est, axis=0)  # L_K' - L_K per image, E >= 0
    decrease = -d.mean(-1) / np.maximum(d.std(-1, ddof=1) / math.sqrt(n_images), 1e-12)
    kl = L * (math.log(1 / Q_WIDEN) + (Q_WIDEN**2 + Q_SHIFT**2) / 2 - 0.5)
    elbo_err = runs[-1]["elbo"] - (exact - kl)
    elbo_z = abs(elbo_err.mean()) / max(elbo_err.std(ddof=1) / math.sqrt(n_images), 1e-12)
    kk = "K=" + ",".join(map(str, ks))
    text = (f"iwae_estimate (make_log_weights, mse sigma={S}), linear-Gaussian decoder "
            f"L={L}, D=784: log p(x) = log N(x; b, WW^T + s^2 I)")
    return [
        record(f"{text}: estimate = log p(x) for q = p(z|x), K={','.join(map(str, ks[:-1]))}, "
               f"every one of {n_exact} images [float32 estimator, |log p(x)| ~ 700 where float32 "
               "spaces 6e-5: measured < 1.3e-4 nats, tol 1e-3]",
               worst(sharp, model.off_diagonal), 1e-3),
        record(f"{text}, q wider and shifted, {kk}: mean over {n_images} images <= log p(x) "
               "[excess in SE]", np.max(-gap.mean(-1) / se), MC_SE_TOL),
        record(f"{text}, q wider and shifted, {kk}: mean non-decreasing in K [decrease in SE]",
               np.max(decrease), MC_SE_TOL),
        record(f"{text}, q wider and shifted: mean gap log p(x) - L_K at K={ks[-1]} / at K=1 "
               "[ratio; expected 0.0007]", gap[-1].mean() / gap[0].mean(), 0.05),
        record(f"{text}, q wider and shifted: elbo of the K={ks[-1]} draws = log p(x) - "
               f"KL(q || p(z|x)) = log p(x) - {kl:.4f} [in SE]", elbo_z, MC_SE_TOL),
    ]
