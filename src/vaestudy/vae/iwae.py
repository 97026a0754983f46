"""log p(x) by importance sampling: the importance-weighted estimate of the test
log-likelihood (IWAE bound, Burda et al. 2016) and bits per dimension.

With K draws z_k ~ q(z|x) and weights w_k = p(x|z_k) p(z_k) / q(z_k|x),
    log p(x) >= E[log (1/K) sum_k w_k] = L_K,   L_1 = ELBO <= L_K <= L_{K+1} -> log p(x).
Each image's K log-weights are computed in chunks (memory stays bounded for any K) and
combined with a streaming log-sum-exp.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from vaestudy.core.losses import PIXELS
from vaestudy.vae.batches import batched
from vaestudy.vae.likelihoods import likelihood
from vaestudy.vae.model import posterior, prior, reparameterize, split_moments


def make_log_weights(encoder, decoder, family: str, latent_dim: int, sigma):
    """Compile log w [c, B] for images x [B, 28, 28, 1] and noise eps [c, B, L]."""
    p_z = prior(latent_dim)

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32),
                                  tf.TensorSpec([None, None, latent_dim], tf.float32)])
    def log_weights(x, eps):
        mean, logvar = split_moments(encoder(x, training=False))  # [B, L]
        z = reparameterize(mean, logvar, eps)  # [c, B, L]
        c, b = tf.shape(eps)[0], tf.shape(eps)[1]
        logits = decoder(tf.reshape(z, [c * b, latent_dim]), training=False)  # [c*B, 28, 28, 1]
        x_rep = tf.reshape(tf.broadcast_to(x, [c, b, 28, 28, 1]), [c * b, 28, 28, 1])
        log_px = tf.reshape(likelihood(family, logits, sigma).log_prob(x_rep), [c, b])
        return log_px + p_z.log_prob(z) - posterior(mean, logvar).log_prob(z)  # [c, B]

    return log_weights


def iwae_estimate(log_weights, x: np.ndarray, k: int, latent_dim: int, seed: int,
                  batch_size: int = 100, chunk: int = 10) -> dict[str, np.ndarray]:
    """Per-image L_K (``log_px``) and the one-sample ELBO average of the same draws
    (``elbo``), arrays [N] in nats. ``chunk`` draws x ``batch_size`` images at a time: 1,000
    decodes per call bound the decoder's memory (docs/performance.md: evaluation peaks)."""
    gen = tf.random.Generator.from_seed(seed)

    def one_batch(xb: tf.Tensor) -> tuple[np.ndarray, np.ndarray]:  # L_K [B], ELBO [B]
        b = xb.shape[0]
        running_max = np.full(b, -np.inf)
        running_sum = np.zeros(b)  # sum_k exp(log w_k - running_max)
        total = np.zeros(b)
        for start in range(0, k, chunk):
            lw = log_weights(xb, gen.normal([min(chunk, k - start), b, latent_dim])).numpy()
            lw = lw.astype(np.float64)
            new_max = np.maximum(running_max, lw.max(axis=0))
            running_sum = running_sum * np.exp(running_max - new_max) + np.exp(
                lw - new_max).sum(axis=0)
            running_max, total = new_max, total + lw.sum(axis=0)
        return running_max + np.log(running_sum) - math.log(k), total / k

    log_px, elbo = batched(one_batch, x, batch_size)
    return {"log_px": log_px, "elbo": elbo}


def bits_per_dim_of_mass(log_mass: np.ndarray, dims: int = PIXELS) -> float:
    """Bits per dimension -log2 P(x) / D of discrete images from the natural log of their
    probability (a likelihood on the 8-bit levels: ``dlogistic``, ``dgauss``). From an
    importance-weighted estimate, whose expectation is below log P(x), it is an upper bound of
    the model's bits/dim in expectation, tight as K grows; it bounds nothing else."""
    return float(-np.mean(log_mass) / (dims * math.log(2)))


def bits_per_dim(log_px_density: np.ndarray, dims: int = PIXELS) -> float:
    """Bits per dimension of 8-bit data from a density on dequantized [0, 1] data
    ((i + u) / 256, :func:`vaestudy.core.data.binarize`): the probability of the bins satisfies
    log P(i) >= E_u log p((i + u) / 256) - D log 256, so -(log p - D log 256) / (D log 2)
    bounds from above the bits per dimension of the bins' probabilities (docs/theory.md),
    which sum to the density's mass inside [0, 1], below 1 for a Gaussian."""
    return bits_per_dim_of_mass(np.asarray(log_px_density) - dims * math.log(256), dims)
