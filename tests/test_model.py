"""Model shapes, the reparameterization, and the negative-ELBO terms against hand computation."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from vaestudy.core.config import ModelConfig
from vaestudy.core.losses import FAMILIES, LossError, resolve
from vaestudy.vae.likelihoods import Scale, elbo_terms, likelihood, pixel_mean
from vaestudy.vae.model import (
    latent_grid_draws,
    make_decoder,
    make_encoder,
    reparameterize,
    split_moments,
)


@pytest.mark.parametrize("latent", [2, 16])
def test_encoder_decoder_shapes(latent):
    enc, dec = make_encoder(latent, ModelConfig()), make_decoder(latent, ModelConfig())
    assert enc(tf.zeros((3, 28, 28, 1))).shape == (3, 2 * latent)
    assert dec(tf.zeros((3, latent))).shape == (3, 28, 28, 1)


def test_the_architecture_is_the_tensorflow_tutorials():
    """Layer by layer, the output shapes and parameter counts of the TensorFlow CVAE tutorial
    (latent 2): kernel 3, strides 2, 2, then 2, 2, 1 in the decoder."""
    enc, dec = make_encoder(2, ModelConfig()), make_decoder(2, ModelConfig())
    assert [(tuple(layer.output.shape[1:]), layer.count_params()) for layer in enc.layers] == [
        ((13, 13, 32), 320), ((6, 6, 64), 18_496), ((2304,), 0), ((4,), 9_220)]
    assert [(tuple(layer.output.shape[1:]), layer.count_params()) for layer in dec.layers] == [
        ((1568,), 4_704), ((7, 7, 32), 0), ((14, 14, 64), 18_496), ((28, 28, 32), 18_464),
        ((28, 28, 1), 289)]
    assert [layer.activation.__name__ for layer in dec.layers if hasattr(layer, "activation")
            ] == ["relu", "relu", "relu", "linear"]


def test_learned_scale_starts_at_its_setting():
    """A learned scale starts at init_sigma (0.1 unless a variant says otherwise); the fixed
    scales are exactly their sigma."""
    for loss in ("gauss-learned", "dlogistic", "dgauss"):
        assert float(Scale(resolve(loss))()) == pytest.approx(0.1, rel=1e-6)
    wide = resolve("w", {"w": {"family": "dgauss", "init_sigma": 2.0}})
    assert float(Scale(wide)()) == pytest.approx(2.0, rel=1e-6)
    assert float(Scale(resolve("mse-mean"))()) == pytest.approx(np.sqrt(392), rel=1e-6)
    # a family without a scale carries the constant 1 that its train_summary.json records
    assert [float(Scale(resolve(loss))()) for loss in ("bce", "cbern")] == [1.0, 1.0]
    for bad in (0.0, -1.0, 1e-4):  # the last below the floor exp(-6) = 0.0025
        with pytest.raises(LossError, match="init_sigma"):
            resolve("w", {"w": {"family": "dgauss", "init_sigma": bad}})


def test_mixed_bfloat16_computes_in_bfloat16_and_returns_float32():
    cfg = ModelConfig()
    enc, dec = make_encoder(4, cfg, "mixed_bfloat16"), make_decoder(4, cfg, "mixed_bfloat16")
    assert {layer.compute_dtype for layer in enc.layers[:-1]} == {"bfloat16"}
    assert enc(tf.zeros((3, 28, 28, 1))).dtype == tf.float32
    assert dec(tf.zeros((3, 4))).dtype == tf.float32
    # The same float32 weights: a float32 model takes them unchanged.
    ref = make_decoder(4, cfg)
    assert all(w.dtype == np.float32 for w in dec.get_weights())
    ref.set_weights(dec.get_weights())
    z = tf.random.stateless_normal((3, 4), seed=(1, 2))
    np.testing.assert_allclose(ref(z), dec(z), atol=0.1)  # bfloat16: 8 bits of mantissa


def test_widths_are_configurable():
    enc = make_encoder(4, ModelConfig(encoder_filters=(8, 16)))
    assert [layer.filters for layer in enc.layers[:2]] == [8, 16]


def test_reparameterization_gradients_reach_mean_and_logvar():
    mean, logvar = tf.Variable([[0.5, -1.0]]), tf.Variable([[0.1, -0.3]])
    eps = tf.constant([[1.3, -0.7]])
    with tf.GradientTape() as tape:
        z = reparameterize(mean, logvar, eps)
        out = tf.reduce_sum(z**2)
    g_mean, g_logvar = tape.gradient(out, [mean, logvar])
    assert np.all(g_mean.numpy() != 0) and np.all(g_logvar.numpy() != 0)
    # d/dlogvar of z = 0.5 * exp(logvar / 2) * eps
    sigma = np.exp(0.5 * logvar.numpy())
    expected = 2 * z.numpy() * 0.5 * sigma * eps.numpy()
    np.testing.assert_allclose(g_logvar.numpy(), expected, rtol=1e-6)


def test_reparameterized_samples_have_target_moments():
    n = 200_000
    mean = tf.fill((n, 1), 2.0)
    logvar = tf.fill((n, 1), float(np.log(0.25)))
    z = reparameterize(mean, logvar, tf.random.stateless_normal((n, 1), seed=[1, 2])).numpy()
    assert abs(z.mean() - 2.0) < 4 * 0.5 / np.sqrt(n)
    assert abs(z.var() - 0.25) < 0.005


def test_latent_grid_draws_are_fixed_per_latent_size():
    a, b = latent_grid_draws(4, 9, seed=1), latent_grid_draws(4, 9, seed=1)
    assert np.array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), latent_grid_draws(4, 9, seed=2).numpy())


def _fixed_nets(mean, logvar, logits):
    """Encoder/decoder stand-ins that return fixed tensors."""
    return (lambda x: tf.concat([mean, logvar], axis=-1)), (lambda z: logits)


def test_bce_terms_match_hand_computation():
    rng = np.random.default_rng(0)
    x = (rng.random((2, 28, 28, 1)) > 0.5).astype(np.float32)
    logits = rng.normal(size=(2, 28, 28, 1)).astype(np.float32)
    mean = np.array([[0.3, -0.2], [1.0, 0.0]], np.float32)
    logvar = np.array([[0.0, -1.0], [0.5, 0.2]], np.float32)
    enc, dec = _fixed_nets(mean, logvar, logits)
    terms = elbo_terms(enc, dec, x, "bce", eps=tf.zeros((2, 2)), sigma=1.0)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=(1, 2, 3))
    kl = 0.5 * (mean**2 + np.exp(logvar) - logvar - 1).sum(axis=1)
    np.testing.assert_allclose(terms.recon.numpy(), bce, rtol=1e-5)
    np.testing.assert_allclose(terms.kl.numpy(), kl, rtol=1e-5)
    np.testing.assert_allclose(terms.neg_elbo.numpy(), bce + kl, rtol=1e-5)


@pytest.mark.parametrize("sigma", [1.0, 0.1])
def test_mse_term_is_scaled_sse_plus_constant(sigma):
    rng = np.random.default_rng(1)
    x = rng.random((2, 28, 28, 1)).astype(np.float32)
    logits = rng.normal(size=(2, 28, 28, 1)).astype(np.float32)
    enc, dec = _fixed_nets(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32), logits)
    terms = elbo_terms(enc, dec, x, "mse", eps=tf.zeros((2, 3)), sigma=sigma)
    sse = ((x - 1 / (1 + np.exp(-logits))) ** 2).sum(axis=(1, 2, 3))
    expected = sse / (2 * sigma**2) + 784 * np.log(sigma * np.sqrt(2 * np.pi))
    np.testing.assert_allclose(terms.recon.numpy(), expected, rtol=1e-4)
    np.testing.assert_allclose(terms.kl.numpy(), 0.0, atol=1e-6)


def test_continuous_bernoulli_is_normalised_on_the_unit_interval():
    logits = tf.constant([[-3.0], [0.5], [4.0]])
    grid = np.linspace(0, 1, 20001, dtype=np.float32)
    dens = tfp.distributions.ContinuousBernoulli(logits=logits).prob(grid[None, :]).numpy()
    np.testing.assert_allclose(np.trapezoid(dens, grid, axis=1), 1.0, rtol=1e-3)
    dist = likelihood("cbern", tf.zeros((1, 28, 28, 1)))
    assert dist.log_prob(tf.fill((1, 28, 28, 1), 0.3)).numpy() == pytest.approx(0.0, abs=1e-4)


def test_learned_scale_has_a_soft_floor_and_round_trips():
    variants = {"soft": {"family": "gauss-learned", "min_log_sigma": -3.0},
                "half": {"family": "mse", "sigma": 0.5}}
    scale = Scale(resolve("soft", variants))
    assert scale.trainable_variables and float(scale()) > np.exp(-3.0)
    scale.raw.assign(-50.0)
    assert float(scale()) == pytest.approx(np.exp(-3.0), rel=1e-6)
    scale.set_sigma(0.2)
    assert float(scale()) == pytest.approx(0.2, rel=1e-5)
    fixed = Scale(resolve("half", variants))
    assert not fixed.trainable_variables and float(fixed()) == pytest.approx(0.5)


def test_pixel_mean_is_the_likelihoods_mean_per_pixel():
    logits = tf.constant(np.linspace(-6, 6, 784, dtype=np.float32).reshape(1, 28, 28, 1))
    for family in ("bce", "mse", "gauss-learned"):
        np.testing.assert_allclose(pixel_mean(family, logits).numpy(),
                                   tf.sigmoid(logits).numpy()[..., 0], rtol=1e-6)
    cbern = pixel_mean("cbern", logits).numpy()
    expected = tfp.distributions.ContinuousBernoulli(logits=logits).mean().numpy()[..., 0]
    np.testing.assert_allclose(cbern, expected, rtol=1e-5)
    assert cbern.shape == (1, 28, 28) and 0 < cbern.min() < 0.2 and 0.8 < cbern.max() < 1


def test_likelihood_is_a_tfp_distribution_over_images():
    for family, fam in FAMILIES.items():  # every registered family has its distribution
        dist = likelihood(family, tf.zeros((4, 28, 28, 1)), sigma=0.5)
        assert dist.log_prob(tf.zeros((4, 28, 28, 1))).shape == (4,)
        if fam.support == "levels":  # a TFP mass on the levels, read at x = i / 255
            assert isinstance(dist.pixel, tfp.distributions.QuantizedDistribution)
            assert dist.pixel.batch_shape == (4, 28, 28, 1)
            assert float(dist.pixel.distribution.scale) == 0.5 * 255
            continue
        assert isinstance(dist, tfp.distributions.Distribution)
        assert dist.event_shape == (28, 28, 1) and dist.batch_shape == (4,)
        normal = isinstance(dist.distribution, tfp.distributions.Normal)
        assert normal == (fam.scale != "none"), family  # the registry says which have a sigma
        if normal:
            assert float(dist.distribution.scale) == 0.5
    with pytest.raises(ValueError, match="unknown likelihood family 'l1'"):
        likelihood("l1", tf.zeros((1, 28, 28, 1)))


def test_split_moments_halves_the_encoder_output():
    mean, logvar = split_moments(tf.reshape(tf.range(8.0), (2, 4)))
    assert mean.numpy().tolist() == [[0, 1], [4, 5]] and logvar.numpy().tolist() == [[2, 3], [6, 7]]


def test_metrics_carry_sigma_and_beta_of_the_gaussian_losses_only():
    from vaestudy.vae.likelihoods import gaussian_scale

    variants = {"mse-sigma0.1": {"family": "mse", "sigma": 0.1}}
    assert gaussian_scale(resolve("mse-sigma0.1", variants), 0.1) == pytest.approx(
        {"sigma": 0.1, "beta": 0.02})
    assert gaussian_scale(resolve("gauss-learned"), 0.25) == {"sigma": 0.25, "beta": 0.125}
    # a discretized law has a scale but no KL weight: quantization breaks the SSE identity
    assert gaussian_scale(resolve("dgauss"), 0.25) == {"sigma": 0.25, "beta": None}
    for loss in ("bce", "cbern"):
        assert gaussian_scale(resolve(loss), 1.0) == {"sigma": None, "beta": None}
