"""The importance-weighted log-likelihood estimator: exact where the model is analytic, never
below the ELBO of the same draws, tighter as K grows; dequantization and bits/dim."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from vaestudy.core.config import ModelConfig
from vaestudy.core.data import binarize
from vaestudy.vae.iwae import bits_per_dim, iwae_estimate, make_log_weights, progress_file
from vaestudy.vae.model import make_decoder, make_encoder

tfd = tfp.distributions


def linear_gaussian(q_shift: float, q_scale: float):
    """z ~ N(0, 1), x | z ~ N(z, s^2) in one dimension (x stored in pixel [0, 0]): then
    p(x) = N(0, 1 + s^2) and p(z|x) = N(x / (1 + s^2), s^2 / (1 + s^2)). q(z|x) is the
    posterior shifted by ``q_shift`` and scaled by ``q_scale``. Returns (log_weights, log p)."""
    s2 = 0.25

    def log_weights(x, eps):  # x [B, 28, 28, 1], eps [c, B, 1] -> [c, B]
        xv = x[:, 0, 0, 0]
        post_m, post_s = xv / (1 + s2), math.sqrt(s2 / (1 + s2))
        q = tfd.Normal(post_m + q_shift, post_s * q_scale)
        z = q.loc + q.scale * eps[..., 0]
        log_joint = tfd.Normal(z, math.sqrt(s2)).log_prob(xv) + tfd.Normal(0.0, 1.0).log_prob(z)
        return log_joint - q.log_prob(z)

    def log_p(x):
        v = 1 + s2
        return -0.5 * x[:, 0, 0, 0].astype(np.float64) ** 2 / v - 0.5 * math.log(2 * math.pi * v)

    return log_weights, log_p


def _images(values):
    x = np.zeros((len(values), 28, 28, 1), np.float32)
    x[:, 0, 0, 0] = values
    return x


def test_exact_at_the_true_posterior():
    log_w, log_p = linear_gaussian(0.0, 1.0)
    x = tf.constant(_images([-1.5, 0.0, 2.0])).numpy()
    est = iwae_estimate(log_w, x, k=7, latent_dim=1, seed=0, batch_size=2, chunk=3)
    np.testing.assert_allclose(est["log_px"], log_p(x), atol=1e-5)


def test_never_below_elbo_and_tighter_with_k():
    log_w, log_p = linear_gaussian(0.6, 1.8)
    x = _images(np.tile(np.linspace(-2, 2, 20), 50))  # 1000 images: averages are precise
    gaps = []
    for k in (1, 10, 100, 1000):
        est = iwae_estimate(log_w, x, k=k, latent_dim=1, seed=1, batch_size=1000, chunk=250)
        assert np.all(est["log_px"] >= est["elbo"] - 1e-9)  # Jensen, draw by draw
        gaps.append(float(np.mean(log_p(x) - est["log_px"])))
    # E[gap] at K = 1 is KL(q || posterior) = 1.43 nats here; it shrinks towards 0 with K.
    assert gaps[0] == pytest.approx(1.43, abs=0.15)
    assert gaps[0] > gaps[1] > gaps[2] > gaps[3] > -0.01
    assert gaps[3] < 0.05 * gaps[0]


def test_chunking_does_not_change_the_estimate():
    """The streaming log-sum-exp over chunks of draws equals one log-sum-exp over all K, for
    log-weights (hundreds of nats, as in a VAE) whose maximum rises from chunk to chunk: the
    running sum must be rescaled whenever the running maximum moves."""
    from scipy.special import logsumexp

    k, rng = 20, np.random.default_rng(0)
    table = -400.0 + 15.0 * np.arange(k)[:, None] + rng.normal(0, 3, (k, 2))  # [K, B], rising

    def fixed_weights():
        used = [0]

        def log_weights(x, eps):  # the next c rows of the table, whatever the noise
            c = eps.shape[0]
            used[0] += c
            return tf.constant(table[used[0] - c : used[0]])
        return log_weights

    exact = logsumexp(table, axis=0) - math.log(k)
    x = _images([0.5, -0.5])
    for chunk in (1, 3, 7, k):
        est = iwae_estimate(fixed_weights(), x, k=k, latent_dim=1, seed=3, chunk=chunk)
        np.testing.assert_allclose(est["log_px"], exact, rtol=0, atol=1e-9)
        np.testing.assert_allclose(est["elbo"], table.mean(axis=0), rtol=0, atol=1e-9)


def test_vae_log_weights_match_hand_computation():
    cfg = ModelConfig(encoder_filters=(4, 4), decoder_filters=(4, 4), decoder_dense_channels=2)
    enc, dec = make_encoder(2, cfg), make_decoder(2, cfg)
    x = (np.random.default_rng(0).random((3, 28, 28, 1)) > 0.5).astype(np.float32)
    eps = tf.random.stateless_normal((4, 3, 2), seed=[0, 1])
    log_w = make_log_weights(enc, dec, "bce", 2, 1.0)(tf.constant(x), eps).numpy()  # [4, 3]
    mean, logvar = np.split(enc(x).numpy(), 2, axis=-1)
    z = mean + np.exp(logvar / 2) * eps.numpy()
    logits = dec(z.reshape(12, 2)).numpy().reshape(4, 3, 784).astype(np.float64)
    xs = x.reshape(1, 3, 784)
    log_px = (xs * logits - np.logaddexp(0, logits)).sum(-1)
    log_pz = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_q = (-0.5 * eps.numpy() ** 2 - 0.5 * math.log(2 * math.pi) - logvar / 2).sum(-1)
    np.testing.assert_allclose(log_w, log_px + log_pz - log_q, rtol=1e-4, atol=1e-3)


def test_dequantization_and_bits_per_dim():
    xi = np.arange(256).repeat(50)
    d = binarize(xi / np.float32(255), "dequantized", np.random.default_rng(0))
    assert np.all((d >= xi / 256) & (d <= (xi + 1) / 256))  # each level keeps its bin (float32)
    assert 0.45 < np.mean(d * 256 - xi) < 0.55  # and is spread over it (u ~ U[0, 1))
    # A uniform density on [0, 1]^D (log p = 0) codes 8-bit data in exactly 8 bits/dim.
    assert bits_per_dim(np.zeros(5), dims=784) == 8.0
    # one bit per pixel worse than uniform, with the default D = 784 pixels of an MNIST image
    assert bits_per_dim(np.full(3, -784 * math.log(2))) == pytest.approx(9.0, abs=1e-12)


class Killed(Exception):
    """The kill of an evaluation job, planted after a number of batches."""


def _killed_after(log_weights, calls: int):
    """``log_weights`` that raises on its call number ``calls`` + 1 (a kill mid-batch)."""
    made = [0]

    def wrapped(x, eps):
        made[0] += 1
        if made[0] > calls:
            raise Killed
        return log_weights(x, eps)
    return wrapped


def test_a_killed_estimate_resumes_bit_for_bit(tmp_path):
    """Killed in its third batch, the estimate re-run with the same progress file continues
    after the two batches done and gives the uninterrupted estimate, bit for bit (the
    generator resumes in its saved state); the progress file holds exactly those batches."""
    log_w, _ = linear_gaussian(0.6, 1.8)
    x = _images(np.linspace(-2, 2, 7))
    args = dict(k=6, latent_dim=1, seed=5, batch_size=2, chunk=4)
    straight = iwae_estimate(log_w, x, **args)
    progress = tmp_path / "log_px.progress.npz"
    with pytest.raises(Killed):  # 2 calls per batch: killed in the third batch
        iwae_estimate(_killed_after(log_w, 5), x, **args, progress=progress, identity="m")
    with np.load(progress) as saved:
        np.testing.assert_array_equal(saved["log_px"], straight["log_px"][:4])
    resumed_calls = [0]

    def counted(x_, eps):
        resumed_calls[0] += 1
        return log_w(x_, eps)
    resumed = iwae_estimate(counted, x, **args, progress=progress, identity="m")
    assert resumed_calls[0] == 2 * 2  # only the last 3 images: batches of 2 and 1
    for name in ("log_px", "elbo"):
        np.testing.assert_array_equal(resumed[name], straight[name])


@pytest.mark.parametrize("change", ["identity", "images", "k", "seed", "corrupt"])
def test_a_progress_file_of_another_estimate_is_not_used(tmp_path, change):
    """Another model (identity), other images or settings, or a damaged file: the estimate
    starts from the first image, and equals the one computed without a progress file."""
    log_w, _ = linear_gaussian(0.6, 1.8)
    x = _images(np.linspace(-2, 2, 6))
    args = dict(k=6, latent_dim=1, seed=5, batch_size=2, chunk=4)
    progress = tmp_path / "p.npz"
    with pytest.raises(Killed):
        iwae_estimate(_killed_after(log_w, 4), x, **args, progress=progress, identity="m")
    identity = "other" if change == "identity" else "m"
    if change == "images":
        x = x[::-1].copy()
    if change in ("k", "seed"):
        args[change] += 1
    if change == "corrupt":
        progress.write_bytes(progress.read_bytes()[:40])
    resumed = iwae_estimate(log_w, x, **args, progress=progress, identity=identity)
    straight = iwae_estimate(log_w, x, **args)
    np.testing.assert_array_equal(resumed["log_px"], straight["log_px"])


def test_the_progress_file_is_the_models_and_the_caches(monkeypatch, tmp_path):
    """What a progress file belongs to: the same weights, likelihood and sigma give the same
    file in the machine cache's log_px folder; one changed weight of the decoder, another
    sigma or family another file; no file when the cache is off."""
    monkeypatch.setenv("VAESTUDY_CACHE", str(tmp_path))
    cfg = ModelConfig(encoder_filters=(4, 4), decoder_filters=(4, 4), decoder_dense_channels=2)
    enc, dec = make_encoder(2, cfg), make_decoder(2, cfg)
    before = progress_file(enc, dec, "mse", 0.1)
    assert before.parent == tmp_path / "log_px" and progress_file(enc, dec, "mse", 0.1) == before
    assert progress_file(enc, dec, "mse", 0.2) != before
    assert progress_file(enc, dec, "bce", 0.1) != before
    weights = dec.get_weights()
    weights[-1] = weights[-1] + np.float32(1e-3)
    dec.set_weights(weights)
    assert progress_file(enc, dec, "mse", 0.1) != before
    monkeypatch.setenv("VAESTUDY_CACHE", "off")
    assert progress_file(enc, dec, "mse", 0.1) is None
