"""Likelihoods p(x|z) (the "losses" of the study) and the negative ELBO.

``bce``  Bernoulli(logits): -log p(x|z) is the binary cross-entropy summed over 784 pixels.
``mse``  Normal(mean = sigmoid(logits), scale = sigma) per pixel, sigma fixed:
         -log p(x|z) = SSE / (2 sigma^2) + 784 log(sigma sqrt(2 pi)).
         Minimising SSE + beta KL is the same problem with beta = 2 sigma^2: a fixed sigma is a
         KL weight in disguise. Averaging the squared error over pixels instead of summing
         divides the reconstruction term by 784 and so silently multiplies the KL weight by
         784 -- a common reason why "MSE VAEs" give blurry samples or collapse.

Every quantity is in nats per image; a batch loss is the mean over images.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf
import tensorflow_probability as tfp

from vaestudy.model import posterior, prior, reparameterize, split_moments

tfd = tfp.distributions

DESCRIPTIONS = {
    "bce": "Bernoulli(logits) per pixel: binary cross-entropy summed over 784 pixels",
    "mse": "Normal(sigmoid(logits), sigma fixed) per pixel: SSE/(2 sigma^2) + constant",
}


def likelihood(loss: str, logits: tf.Tensor, mse_sigma: float = 1.0) -> tfd.Distribution:
    """p(x|z) for decoder outputs ``logits`` [B, 28, 28, 1], event shape [28, 28, 1]."""
    if loss == "bce":
        pixel = tfd.Bernoulli(logits=logits, dtype=logits.dtype)
    elif loss == "mse":
        pixel = tfd.Normal(loc=tf.sigmoid(logits), scale=tf.cast(mse_sigma, logits.dtype))
    else:
        raise ValueError(f"unknown loss {loss!r}; allowed: {sorted(DESCRIPTIONS)}")
    return tfd.Independent(pixel, reinterpreted_batch_ndims=3)


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
    loss: str,
    eps: tf.Tensor,
    mse_sigma: float = 1.0,
) -> ElboTerms:
    """One-sample Monte-Carlo estimate of the negative ELBO's two terms for images x [B, 28,
    28, 1], with noise eps [B, L]. The KL is analytic (TFP's Gaussian-Gaussian KL)."""
    mean, logvar = split_moments(encoder(x))  # [B, L] each
    z = reparameterize(mean, logvar, eps)  # [B, L]
    recon = -likelihood(loss, decoder(z), mse_sigma).log_prob(x)  # [B]
    kl = tfd.kl_divergence(posterior(mean, logvar), prior(mean.shape[-1]))  # [B]
    return ElboTerms(recon=recon, kl=kl)
