"""log p(x) by importance sampling: the importance-weighted estimate of the test
log-likelihood (IWAE bound, Burda et al. 2016) and bits per dimension.

With K draws z_k ~ q(z|x) and weights w_k = p(x|z_k) p(z_k) / q(z_k|x),
    log p(x) >= E[log (1/K) sum_k w_k] = L_K,   L_1 = ELBO <= L_K <= L_{K+1} -> log p(x).
Each image's K log-weights are computed in chunks (memory stays bounded for any K) and
combined with a streaming log-sum-exp. A long estimate (K = 1,000 on 10,000 images: an hour
on one core) saves the batches done in the machine cache (:func:`progress_file`) and resumes
there when re-run after a kill, with the same draws: bit for bit the uninterrupted estimate.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import zipfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from vaestudy.core import cache_root
from vaestudy.core.atomic import write_bytes
from vaestudy.core.losses import PIXELS
from vaestudy.core.provenance import code_version
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
                  batch_size: int = 100, chunk: int = 10, progress: Path | str | None = None,
                  identity: str = "") -> dict[str, np.ndarray]:
    """Per-image L_K (``log_px``) and the one-sample ELBO average of the same draws
    (``elbo``), arrays [N] in nats. ``chunk`` draws x ``batch_size`` images at a time: 1,000
    decodes per call bound the decoder's memory (docs/performance.md: evaluation peaks).
    ``progress``: a file that holds the batches done and the generator's state after each
    batch; an estimate of the same images, settings and ``identity`` (the model: its weights)
    continues from it. The caller removes it once the result is safely written."""
    gen = tf.random.Generator.from_seed(seed)
    key = _progress_key(x, k, latent_dim, seed, batch_size, chunk, identity)
    done = _load_progress(progress, key, gen) if progress else {"log_px": [], "elbo": []}

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
        out = running_max + np.log(running_sum) - math.log(k), total / k
        if progress:
            done["log_px"].append(out[0])
            done["elbo"].append(out[1])
            _save_progress(progress, key, gen, done)
        return out

    n_done = sum(len(a) for a in done["log_px"])
    if n_done < len(x):
        log_px, elbo = batched(one_batch, x[n_done:], batch_size)
        if not progress:
            return {"log_px": log_px, "elbo": elbo}
    return {name: np.concatenate(parts) for name, parts in done.items()}


def progress_file(encoder, decoder, family: str, sigma) -> Path | None:
    """Where an estimate of this model (its weights, likelihood and sigma) under this code saves
    its batches: the machine cache's ``log_px`` folder (:mod:`vaestudy.core.cache_root`), so
    that it outlives a killed job whatever the study's outputs; None when the cache is off.
    The images and settings are checked inside the file (:func:`iwae_estimate`)."""
    folder = cache_root.root()
    if folder is None:
        return None
    h = hashlib.sha256(f"{family} {sigma!r} {code_version()}".encode())
    for model in (encoder, decoder):
        for w in model.get_weights():
            h.update(np.ascontiguousarray(w).tobytes())
    return folder / "log_px" / f"{h.hexdigest()[:32]}.npz"


def _progress_key(x: np.ndarray, *settings) -> str:
    """The images (their bytes) and the settings whose draws a progress file holds."""
    h = hashlib.sha256(np.ascontiguousarray(x).tobytes())
    h.update(json.dumps([str(s) for s in settings]).encode())
    return h.hexdigest()


def _load_progress(path: Path | str, key: str, gen: tf.random.Generator) -> dict:
    """The batches a progress file of ``key`` holds, with ``gen`` set to the state after
    them; nothing (and ``gen`` untouched) when the file is missing, unreadable or another
    estimate's."""
    empty = {"log_px": [], "elbo": []}
    try:
        with np.load(path) as saved:
            if str(saved["key"]) != key:
                return empty
            state, log_px, elbo = saved["state"], saved["log_px"], saved["elbo"]
    except FileNotFoundError:
        return empty
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        logging.getLogger(__name__).warning("ignored the unreadable %s (%s)", path, err)
        return empty
    gen.reset(state)
    logging.getLogger(__name__).info("log p(x): resumed after %d images saved in %s",
                                     len(log_px), path)
    return {"log_px": [log_px], "elbo": [elbo]}


def _save_progress(path: Path | str, key: str, gen: tf.random.Generator, done: dict) -> None:
    """Write the batches done and the generator's state, atomically."""
    buf = io.BytesIO()
    np.savez(buf, key=key, state=gen.state.numpy(),
             **{name: np.concatenate(parts) for name, parts in done.items()})
    write_bytes(path, buf.getvalue())


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
