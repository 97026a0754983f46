"""Pictures of the latent space of one run: which codes to decode (the decoded manifold of
prior quantiles, interpolations, temperature, traversals of the most active dimensions) and
the scatter of test-set codes.

Every picture is made from fixed inputs (the same test images, drawn by
:mod:`vaestudy.core.pictured`; the same prior draws for a latent size), so that pictures of
different runs can be compared side by side. Tiling and writing the decoded images:
:mod:`vaestudy.evaluation.picture_files`.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from vaestudy.core.config import RunConfig  # noqa: E402
from vaestudy.evaluation.picture_files import tile
from vaestudy.vae.likelihoods import decode_mean  # noqa: E402

TEMPERATURES = (0.5, 0.8, 1.0, 1.3)


def manifold_picture(decoder, cfg: RunConfig, sigma: float | None,
                     dims: tuple[int, int] = (0, 1)) -> np.ndarray:
    """Decode a size x size grid of prior quantiles (the TensorFlow tutorial's picture) in the
    plane of latent dimensions ``dims`` (x, y), the other dimensions at the prior mean 0, so
    that equal areas of the picture carry equal prior mass. For a 2-D latent space this is
    the whole space; for a larger one, the plane of the two dimensions given. ``sigma``: the
    likelihood's scale (:func:`vaestudy.vae.likelihoods.decode_mean`)."""
    n = cfg.pictures.manifold_size
    q = tfp.distributions.Normal(0.0, 1.0).quantile(np.linspace(0.05, 0.95, n, dtype=np.float32))
    zx, zy = np.meshgrid(q.numpy(), q.numpy()[::-1])
    z = np.zeros((n * n, cfg.latent_dim), np.float32)  # [n*n, L]
    z[:, dims[0]], z[:, dims[1]] = zx.ravel(), zy.ravel()
    return tile(decode_mean(decoder, tf.constant(z), cfg.likelihood.family, sigma), cols=n,
                pad=0)


def lerp(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """Points on the straight line from a to b: [steps, L]."""
    t = np.linspace(0, 1, steps)[:, None]
    return (1 - t) * a + t * b


def slerp(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """Spherical interpolation from a to b [steps, L]: keeps the norm typical of prior draws
    (a straight line between two draws of N(0, I) passes through unlikely short vectors)."""
    omega = np.arccos(np.clip(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)), -1, 1))
    if omega < 1e-6:
        return lerp(a, b, steps)
    t = np.linspace(0, 1, steps)[:, None]
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def temperature_draws(eps: np.ndarray) -> np.ndarray:
    """Prior draws z = T * eps for each temperature T: [len(T) * n, L], one row per T."""
    return np.concatenate([t * eps for t in TEMPERATURES])


def traversal_codes(mean: np.ndarray, kl_dims: np.ndarray, n_dims: int,
                    steps: int) -> tuple[np.ndarray, list[int]]:
    """Codes that move one latent dimension at a time from -2.5 to 2.5 (others at the mean
    code of the test set), for the ``n_dims`` dimensions with the largest KL: [n*steps, L]."""
    dims = [int(d) for d in np.argsort(kl_dims)[::-1][:n_dims]]
    base = mean.mean(axis=0)
    codes = []
    for d in dims:
        block = np.tile(base, (steps, 1))
        block[:, d] = np.linspace(-2.5, 2.5, steps)
        codes.append(block)
    return np.concatenate(codes), dims


def project_2d(mean: np.ndarray) -> tuple[np.ndarray, str]:
    """The codes themselves for a 2-D latent space, else their first two principal
    components (with the share of variance they explain in the axis label)."""
    if mean.shape[1] == 2:
        return mean, "z"
    centred = mean - mean.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    share = (s[:2] ** 2).sum() / (s**2).sum()
    return centred @ vt[:2].T, f"PCA ({100 * share:.0f}% of variance), PC"


def scatter(path: Path | str, points: np.ndarray, labels: np.ndarray, axis: str,
            title: str, classes: tuple[str, ...] = tuple("0123456789"),
            item: str = "digit") -> None:
    """Test-set codes coloured by class (``classes``: the name of each label, ``item``: what
    a class is, e.g. the garments of Fashion-MNIST)."""
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    sns.scatterplot(x=points[:, 0], y=points[:, 1], hue=np.asarray(classes)[labels],
                    hue_order=list(classes), palette="tab10", s=5,
                    linewidth=0, alpha=0.7, ax=ax)
    ax.legend(title=item, markerscale=3, fontsize=7, loc="center left",
              bbox_to_anchor=(1, 0.5))
    ax.set(xlabel=f"{axis} 1", ylabel=f"{axis} 2", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
