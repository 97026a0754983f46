"""p(x|z) and the ELBO's terms: the TFP distribution of each likelihood family, the negative
ELBO and its evaluation over a data set, the decoder's mean image (what each family and loss
variant is, its settings and data: :mod:`vaestudy.losses`; log p(x): :mod:`vaestudy.iwae`).

``bce``  Bernoulli(logits): -log p(x|z) is the binary cross-entropy summed over 784 pixels.
``mse``  Normal(mean = sigmoid(logits), scale = sigma) per pixel, sigma fixed:
         -log p(x|z) = SSE / (2 sigma^2) + 784 log(sigma sqrt(2 pi)).
         Minimising SSE + beta KL is the same problem with beta = 2 sigma^2: a fixed sigma is a
         KL weight in disguise. Averaging the squared error over pixels instead of summing
         divides the reconstruction term by 784 and so silently multiplies the KL weight by
         784 -- a common reason why "MSE VAEs" give blurry samples or collapse.
``cbern`` Continuous Bernoulli(logits) (Loaiza-Ganem & Cunningham 2019): a proper density on
         [0, 1] for grayscale data; cross-entropy alone lacks its normalising constant.
``gauss-learned`` Normal(sigmoid(logits), sigma) with one sigma shared by all pixels and
         learned with the networks (as in sigma-VAE, Rybkin et al. 2021), its log softly
         bounded below by ``min_log_sigma``.

Every quantity is in nats per image; a batch loss is the mean over images.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vaestudy.batches import batched
from vaestudy.losses import FAMILIES, LossSpec
from vaestudy.model import IMAGE_SHAPE, posterior, prior, reparameterize, split_moments

tfd = tfp.distributions

class Scale(tf.Module):
    """The scale sigma of the Gaussian likelihoods: fixed (``mse``) or a learned scalar
    (``gauss-learned``) with log sigma = m + softplus(raw - m), a soft floor at m. Other
    families carry a constant 1 that they never read."""

    def __init__(self, spec: LossSpec, value: float | None = None):
        super().__init__(name="scale")
        self.learned = spec.scale == "learned"
        self.floor = spec.settings["min_log_sigma"] if self.learned else None
        start = math.log(spec.sigma) if spec.scale == "fixed" else 0.0  # learned: sigma ~ 1
        self.raw = tf.Variable(start, trainable=self.learned, dtype=tf.float32)
        if value is not None:
            self.set_sigma(value)

    def __call__(self) -> tf.Tensor:
        if not self.learned:
            return tf.exp(self.raw)
        return tf.exp(self.floor + tf.nn.softplus(self.raw - self.floor))

    def set_sigma(self, sigma: float) -> None:
        """Set the variable so that ``self()`` returns ``sigma`` (inverts the soft floor)."""
        log_s = math.log(sigma)
        if self.learned:
            log_s = self.floor + math.log(math.expm1(log_s - self.floor))
        self.raw.assign(log_s)


def likelihood(family: str, logits: tf.Tensor, sigma=1.0) -> tfd.Distribution:
    """p(x|z) of a family for decoder outputs ``logits`` [B, 28, 28, 1], event shape [28, 28,
    1]. ``sigma`` (a float or a scalar tensor) is used by the Gaussian families only."""
    if family not in FAMILIES:
        raise ValueError(f"unknown likelihood family {family!r}; allowed: {sorted(FAMILIES)}")
    if FAMILIES[family].scale != "none":
        pixel = tfd.Normal(loc=tf.sigmoid(logits), scale=tf.cast(sigma, logits.dtype))
    elif family == "bce":
        pixel = tfd.Bernoulli(logits=logits, dtype=logits.dtype)
    elif family == "cbern":
        pixel = tfd.ContinuousBernoulli(logits=logits, dtype=logits.dtype)
    else:
        raise NotImplementedError(f"family {family!r} is in vaestudy.losses.FAMILIES but has "
                                  f"no distribution here: add it to this function")
    return tfd.Independent(pixel, reinterpreted_batch_ndims=3)


def pixel_mean(family: str, logits: tf.Tensor) -> tf.Tensor:
    """E[x|z] [B, 28, 28] in [0, 1]: what the figures show and the pixel metrics compare."""
    return tf.clip_by_value(likelihood(family, logits).mean()[..., 0], 0.0, 1.0)


class ElboTerms(NamedTuple):
    """Per-image terms [B] in nats: recon = -E_q log p(x|z), kl = KL(q(z|x) || p(z))."""

    recon: tf.Tensor
    kl: tf.Tensor

    @property
    def neg_elbo(self) -> tf.Tensor:
        return self.recon + self.kl


def elbo_terms(
    encoder: tf.keras.Model,
    decoder: tf.keras.Model,
    x: tf.Tensor,
    family: str,
    eps: tf.Tensor,
    sigma,
) -> ElboTerms:
    """One-sample Monte-Carlo estimate of the negative ELBO's two terms for images x [B, 28,
    28, 1], with noise eps [B, L]. The KL is analytic (TFP's Gaussian-Gaussian KL)."""
    mean, logvar = split_moments(encoder(x))  # [B, L] each
    z = reparameterize(mean, logvar, eps)  # [B, L]
    recon = -likelihood(family, decoder(z), sigma).log_prob(x)  # [B]
    kl = tfd.kl_divergence(posterior(mean, logvar), prior(mean.shape[-1]))  # [B]
    return ElboTerms(recon=recon, kl=kl)


#: A batch of images [B, 28, 28, 1] as the compiled steps take it.
IMAGE_SPEC = tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32)


def make_eval_step(encoder, decoder, scale: Scale, family: str, latent_dim: int,
                   gen: tf.random.Generator):
    """Compile per-image negative-ELBO terms (recon [B], kl [B]) of the likelihood
    ``family`` for a batch [B, 28, 28, 1], one z draw [B, latent_dim] from ``gen``."""

    @tf.function(input_signature=[IMAGE_SPEC])
    def step(x):
        eps = gen.normal([tf.shape(x)[0], latent_dim])  # [B, L]
        terms = elbo_terms(encoder, decoder, x, family, eps, scale())
        return terms.recon, terms.kl

    return step


def evaluate_elbo(eval_step, x: np.ndarray, batch_size: int, samples: int) -> dict:
    """Mean negative ELBO and its terms over images x, averaging ``samples`` draws of z."""

    def mean_of_draws(batch: tf.Tensor) -> tuple[np.ndarray, np.ndarray]:  # [B], [B]
        draws = [eval_step(batch) for _ in range(samples)]
        return (np.mean([d[0].numpy() for d in draws], axis=0),
                np.mean([d[1].numpy() for d in draws], axis=0))

    recon, kl = batched(mean_of_draws, x, batch_size)
    return {"neg_elbo": float(np.mean(recon + kl)), "recon": float(recon.mean()),
            "kl": float(kl.mean())}


def decode_mean(decoder, z: tf.Tensor, family: str) -> np.ndarray:
    """Mean of p(x|z) of the likelihood ``family`` for latents z [N, L] as an array
    [N, 28, 28] in [0, 1]: what the figures show and the pixel metrics compare."""
    return pixel_mean(family, decoder(z, training=False)).numpy()


def gaussian_scale(spec: LossSpec, sigma: float) -> dict:
    """sigma of a Gaussian likelihood (fixed, or learned: the value training ended with) and
    its KL weight beta = 2 sigma^2 relative to the summed squared error; None otherwise."""
    if spec.scale == "none":
        return {"sigma": None, "beta": None}
    return {"sigma": sigma, "beta": 2 * sigma**2}
