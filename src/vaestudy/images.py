"""Per-run images written with imageio: sample grids, reconstructions and the decoded manifold.

All images are the *mean* of p(x|z) (pixel probabilities for ``bce``, Gaussian means for
``mse``), not random draws of pixels, so that they show what the decoder has learned.
"""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vaestudy.config import RunConfig
from vaestudy.likelihoods import decode_mean

SCALE = 2  # pixel repetition so that 28x28 digits are readable in the report


def tile(images: np.ndarray, cols: int, pad: int = 2) -> np.ndarray:
    """Tile images [N, H, W] in [0, 1] into one uint8 picture with ``pad`` white pixels
    between tiles; missing tiles stay white."""
    n, h, w = images.shape
    rows = -(-n // cols)
    out = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad), dtype=np.float32)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        out[top : top + h, left : left + w] = img
    big = np.kron(out, np.ones((SCALE, SCALE), dtype=np.float32))
    return (np.clip(big, 0, 1) * 255).round().astype(np.uint8)


def save_png(path: Path | str, picture: np.ndarray) -> None:
    """Write a uint8 picture [H, W] as PNG."""
    iio.imwrite(path, picture, extension=".png")


def reconstruction_picture(originals: np.ndarray, recons: np.ndarray) -> np.ndarray:
    """Originals [n, 28, 28] in the top row, their reconstructions in the row below."""
    return tile(np.concatenate([originals, recons]), cols=len(originals))


def manifold_picture(decoder, cfg: RunConfig, dims: tuple[int, int] = (0, 1)) -> np.ndarray:
    """Decode a size x size grid of prior quantiles (the TensorFlow tutorial's picture) in the
    plane of latent dimensions ``dims`` (x, y), the other dimensions at the prior mean 0, so
    that equal areas of the picture carry equal prior mass. For a 2-D latent space this is
    the whole space; for a larger one, the plane of the two dimensions given."""
    n = cfg.figures.manifold_size
    q = tfp.distributions.Normal(0.0, 1.0).quantile(np.linspace(0.05, 0.95, n, dtype=np.float32))
    zx, zy = np.meshgrid(q.numpy(), q.numpy()[::-1])
    z = np.zeros((n * n, cfg.latent_dim), np.float32)  # [n*n, L]
    z[:, dims[0]], z[:, dims[1]] = zx.ravel(), zy.ravel()
    return tile(decode_mean(decoder, tf.constant(z), cfg.likelihood.family), cols=n, pad=0)
