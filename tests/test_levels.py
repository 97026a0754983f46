"""Exact likelihoods of the 8-bit gray levels (dlogistic, dgauss), the mass a density of
dequantized levels keeps inside [0, 1], and the bits/dim each gives (docs/theory.md, Section 7)."""

import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from vaestudy.core import losses
from vaestudy.core.config import run_config
from vaestudy.vae.iwae import bits_per_dim, bits_per_dim_of_mass
from vaestudy.vae.likelihoods import LevelMass, likelihood, mass_inside, pixel_mean

LAWS = {"dlogistic": stats.logistic, "dgauss": stats.norm}


def _levels_by_hand(family: str, logits: np.ndarray, sigma: float, image: np.ndarray):
    """log P(image) per image [B] in float64: level i takes the law's mass on (i - 1/2,
    i + 1/2] on the scale of the levels, level 0 all below 1/2, level 255 all above 254.5."""
    law = LAWS[family](loc=255 / (1 + np.exp(-logits)), scale=255 * sigma)
    upper = np.where(image == 255, np.inf, image + 0.5)
    lower = np.where(image == 0, -np.inf, image - 0.5)
    # in logs, from the smaller tail: far tails neither underflow nor cancel (1 - tiny)
    right = law.mean() < lower
    big = np.where(right, law.logsf(lower), law.logcdf(upper))
    small = np.where(right, law.logsf(upper), law.logcdf(lower))
    with np.errstate(divide="ignore"):  # log(0) of an edge's infinite bound: -inf, exp 0
        return (big + np.log1p(-np.exp(small - big))).sum(axis=(1, 2, 3))


@pytest.mark.parametrize("family", sorted(LAWS))
@pytest.mark.parametrize("sigma", [0.004, 0.05, 0.6])
def test_discretized_likelihood_is_the_laws_mass_on_each_level(family, sigma):
    rng = np.random.default_rng(1)
    logits = rng.uniform(-7, 7, (3, 28, 28, 1))
    # images near the decoder's means (the likely levels) and anywhere (the tails), edges too
    near = np.clip(np.round(255 / (1 + np.exp(-logits)) + rng.normal(0, 3, logits.shape)), 0, 255)
    far = rng.integers(0, 256, logits.shape).astype(float)
    far[:, 0, :3] = [[0], [255], [128]]
    dist = likelihood(family, tf.constant(logits, tf.float32), sigma)
    assert isinstance(dist, LevelMass)
    for image in (near, far):
        ours = dist.log_prob(tf.constant(image / 255, tf.float32)).numpy()
        np.testing.assert_allclose(ours, _levels_by_hand(family, logits, sigma, image),
                                   rtol=2e-4)


@pytest.mark.parametrize("family", sorted(LAWS))
def test_the_256_levels_carry_all_the_mass_and_the_mean_is_exact(family):
    logits = tf.constant(np.linspace(-9, 9, 784, dtype=np.float32).reshape(1, 28, 28, 1))
    dist = likelihood(family, logits, 0.08)
    levels = np.arange(256, dtype=np.float32)
    p = np.exp(np.stack([dist.pixel.log_prob(np.full((1, 28, 28, 1), i, np.float32)).numpy()
                         for i in levels]))  # [256, 1, 28, 28, 1]
    np.testing.assert_allclose(p.sum(axis=0), 1.0, atol=2e-6)
    by_hand = (p * levels[:, None, None, None, None]).sum(axis=0) / 255
    np.testing.assert_allclose(dist.mean().numpy(), by_hand, atol=2e-6)
    # the edge levels fold in the tails: the mean is not the location there
    np.testing.assert_allclose(pixel_mean(family, logits, 0.08).numpy(), by_hand[..., 0],
                               atol=2e-6)
    assert by_hand.min() > tf.sigmoid(logits).numpy().min() + 0.01


def test_the_mean_of_a_discretized_family_needs_its_scale():
    with pytest.raises(ValueError, match="depends on its scale"):
        pixel_mean("dlogistic", tf.zeros((1, 28, 28, 1)))


def test_mass_inside_the_unit_interval():
    # the example: a Gaussian at mean 0.002 with sigma 0.1 keeps 0.51 of its mass
    black = tf.fill((1, 28, 28, 1), float(np.log(0.002 / 0.998)))
    mass = mass_inside("mse", black, 0.1).numpy()
    assert mass.shape == (1, 28, 28, 1)
    np.testing.assert_allclose(mass, stats.norm(0.002, 0.1).cdf(1) - stats.norm(0.002, 0.1).cdf(0),
                               rtol=1e-5)
    assert mass.max() == pytest.approx(0.508, abs=1e-3)
    # near white and wide, so that the mass above 1 counts (cdf(1) is not cdf(2) there)
    white = tf.fill((1, 28, 28, 1), float(np.log(0.9 / 0.1)))
    np.testing.assert_allclose(mass_inside("mse", white, 0.3).numpy(),
                               stats.norm(0.9, 0.3).cdf(1) - stats.norm(0.9, 0.3).cdf(0),
                               rtol=1e-5)
    # the cross-entropy as a function of gray levels: int_0^1 lam^x (1 - lam)^(1 - x) dx
    logits = np.array([-30.0, -3.0, -1e-6, 0.0, 2e-5, 0.7, 8.0])
    x = np.linspace(0, 1, 200001)
    lam = 1 / (1 + np.exp(-logits[:, None]))
    integral = np.trapezoid(lam**x * (1 - lam) ** (1 - x), x, axis=1)
    ours = mass_inside("bce", tf.constant(logits, tf.float64), None).numpy()
    np.testing.assert_allclose(ours, integral, rtol=1e-6)
    assert ours.max() <= 0.5
    assert mass_inside("cbern", tf.constant(logits), None).numpy().tolist() == [1.0] * 7
    with pytest.raises(ValueError, match="no density"):
        mass_inside("dgauss", tf.constant(logits), 0.1)


def test_mass_inside_of_a_bernoulli_near_logit_zero_to_the_last_digit():
    """The series 1/2 - l^2/24 below |l| = 1e-4 and tanh(l/2)/l above it, in float64, agree
    with tanh(l/2)/l computed by NumPy to 1e-15 (the series' next term, l^4/240, is below
    float64's resolution there): on both sides of the switch and at 0."""
    logits = np.array([0.0, 1e-6, -3e-5, 9e-5, 1.5e-4, -1.5e-4, 3e-3])
    ours = mass_inside("bce", tf.constant(logits, tf.float64), None).numpy()
    safe = np.where(logits == 0, 1.0, logits)
    exact = np.where(logits == 0, 0.5, np.tanh(safe / 2) / safe)
    np.testing.assert_allclose(ours, exact, rtol=1e-15, atol=0)


def test_bits_per_dim_exact_and_bound():
    # a probability of 2^-784 for a 784-pixel image: one bit per pixel, exactly
    assert bits_per_dim_of_mass(np.full(4, -784 * math.log(2))) == pytest.approx(1.0, abs=1e-12)
    assert bits_per_dim_of_mass(np.array([-10.0, -30.0]), dims=10) == pytest.approx(
        20 / (10 * math.log(2)))
    # a density on the dequantized levels: its log p less D log 256, the same conversion
    assert bits_per_dim(np.full(2, 784 * math.log(2))) == pytest.approx(7.0, abs=1e-12)


def test_levels_go_with_the_families_of_levels_only():
    spec = losses.resolve("dlogistic")
    assert spec.exact_levels and not spec.dequantized and spec.data == "levels"
    assert losses.resolve("cbern").dequantized and not losses.resolve("cbern").exact_levels
    assert not losses.resolve("bce").dequantized and not losses.resolve("bce").exact_levels
    for wrong in ({"family": "mse", "data": "levels"}, {"family": "dgauss", "data": "gray"}):
        with pytest.raises(losses.LossError, match="data 'levels'"):
            losses.resolve("x", {"x": wrong})
    cfg = run_config({}, "dgauss", 2, 0)
    assert cfg.binarization == "none"  # the levels i / 255 themselves, never dequantized


def test_evaluation_scores_each_kind_of_gray_level_model_for_what_it_is():
    """Exact bits/dim on the levels; a bound and the mass inside [0, 1] on dequantized
    levels; neither on binarized images."""
    from vaestudy.evaluation.evaluate import gray_level_scores
    from vaestudy.vae.model import make_decoder, make_encoder

    tf.keras.utils.set_random_seed(0)
    widths = run_config({}, "bce", 2, 0).model
    enc, dec = make_encoder(2, widths), make_decoder(2, widths)
    x = np.random.default_rng(0).integers(0, 256, (6, 28, 28, 1)).astype(np.float32) / 255
    log_px = np.array([-2000.0, -2200.0])
    variants = {"g": {"family": "mse", "sigma": 0.1, "data": "gray"}}
    levels = gray_level_scores(enc, dec, 0.1, run_config({}, "dgauss", 2, 0), x, log_px)
    assert levels["bits_per_dim"] == pytest.approx(2100 / (784 * math.log(2)))
    assert levels["bits_per_dim_bound"] is None and levels["mass_inside"] is None
    gauss = gray_level_scores(enc, dec, 0.1, run_config({"loss_variants": variants}, "g", 2, 0),
                              x, log_px)
    assert gauss["bits_per_dim"] is None
    assert gauss["bits_per_dim_bound"] == pytest.approx(bits_per_dim(log_px))
    mean, _ = np.split(enc(x).numpy(), 2, axis=1)
    expected = mass_inside("mse", dec(mean), 0.1).numpy().mean()
    assert gauss["mass_inside"] == pytest.approx(float(expected), rel=1e-5)
    assert 0 < gauss["mass_inside"] < 1
    binary = gray_level_scores(enc, dec, 1.0, run_config({}, "mse", 2, 0), x, log_px)
    assert set(binary.values()) == {None}
