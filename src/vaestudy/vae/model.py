"""The convolutional VAE: encoder q(z|x), decoder p(x|z), prior p(z) and the reparameterization.

The default architecture is the TensorFlow CVAE tutorial's. Encoder and decoder are plain
Keras ``Sequential`` models so that they save and load as ``.keras`` files without custom
classes; the probabilistic parts (prior, likelihoods, KL) are TensorFlow Probability
distributions built around their outputs (see :mod:`vaestudy.vae.likelihoods`).
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from vaestudy.core.config import ModelConfig
from vaestudy.core.data import IMAGE_SHAPE

tfd = tfp.distributions


def _outputs_float32(layers: list, precision: str) -> list:
    """Under a mixed ``precision`` (one of :data:`vaestudy.core.config.PRECISIONS`), end with a
    weightless float32 cast so that the TFP distributions, the ELBO and the noise stay float32; the
    weights list is unchanged, so weights move freely between precisions."""
    if precision == "float32":
        return layers
    return [*layers, keras.layers.Activation("linear", dtype="float32", name="to_float32")]


def make_encoder(latent_dim: int, cfg: ModelConfig,
                 precision: str = "float32") -> keras.Sequential:
    """Image [B, 28, 28, 1] -> [B, 2L]: the mean and log-variance of a diagonal Gaussian.
    ``precision`` is a Keras dtype policy of :data:`vaestudy.core.config.PRECISIONS`; the output is
    float32."""
    f1, f2 = cfg.encoder_filters
    p = {"dtype": precision}
    layers = [
        keras.Input(shape=IMAGE_SHAPE),
        keras.layers.Conv2D(f1, 3, strides=2, activation="relu", **p),  # [B, 13, 13, f1]
        keras.layers.Conv2D(f2, 3, strides=2, activation="relu", **p),  # [B, 6, 6, f2]
        keras.layers.Flatten(**p),
        keras.layers.Dense(2 * latent_dim, **p),  # [B, 2L] = (mean, logvar)
    ]
    return keras.Sequential(_outputs_float32(layers, precision), name="encoder")


def make_decoder(latent_dim: int, cfg: ModelConfig,
                 precision: str = "float32") -> keras.Sequential:
    """Latent [B, L] -> [B, 28, 28, 1] unconstrained outputs (logits) of p(x|z), float32."""
    f1, f2 = cfg.decoder_filters
    c = cfg.decoder_dense_channels
    p = {"dtype": precision}
    layers = [
        keras.Input(shape=(latent_dim,)),
        keras.layers.Dense(7 * 7 * c, activation="relu", **p),
        keras.layers.Reshape((7, 7, c), **p),  # [B, 7, 7, c]
        keras.layers.Conv2DTranspose(f1, 3, strides=2, padding="same", activation="relu", **p),
        keras.layers.Conv2DTranspose(f2, 3, strides=2, padding="same", activation="relu", **p),
        keras.layers.Conv2DTranspose(1, 3, strides=1, padding="same", **p),  # [B, 28, 28, 1]
    ]
    return keras.Sequential(_outputs_float32(layers, precision), name="decoder")


def split_moments(encoded: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Split the encoder output [B, 2L] into mean [B, L] and log-variance [B, L]."""
    mean, logvar = tf.split(encoded, num_or_size_splits=2, axis=-1)
    return mean, logvar


def reparameterize(mean: tf.Tensor, logvar: tf.Tensor, eps: tf.Tensor) -> tf.Tensor:
    """Draw z ~ N(mean, exp(logvar)) as z = mean + exp(logvar / 2) * eps with eps ~ N(0, I).

    Why: sampling z directly is not differentiable in the encoder's outputs. Writing the
    sample as a deterministic function of (mean, logvar) and parameter-free noise eps moves
    the randomness out of the path, so gradients of the ELBO flow into both the mean and the
    log-variance (Kingma & Welling 2014). Shapes: all [..., L].
    """
    return mean + tf.exp(0.5 * logvar) * eps


def posterior(mean: tf.Tensor, logvar: tf.Tensor) -> tfd.Distribution:
    """q(z|x) = N(mean, diag(exp(logvar))) as a TFP distribution with event shape [L]."""
    return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * logvar))


def prior(latent_dim: int) -> tfd.Distribution:
    """p(z) = N(0, I) with event shape [L]."""
    return tfd.MultivariateNormalDiag(loc=tf.zeros(latent_dim))


def latent_grid_draws(latent_dim: int, n: int, seed: int) -> tf.Tensor:
    """Fixed prior draws [n, L] for sample grids: the same for every epoch and every run of a
    latent size (seeded by ``seed`` and ``latent_dim``), so that grids are comparable."""
    gen = tf.random.Generator.from_seed(seed * 1000 + latent_dim)
    return gen.normal((n, latent_dim))
