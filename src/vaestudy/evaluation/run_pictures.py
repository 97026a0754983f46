"""All pictures of one trained run, each made on demand from the run's models and data: the
codes chosen and the scatter drawn by :mod:`vaestudy.evaluation.latent_pictures`, the decoded digits
tiled and written by :mod:`vaestudy.evaluation.picture_files`.

``RunPictures(model_dir, epoch_samples, cfg, data, kl_dims, sigma).write(name, path)`` writes one of
the names of :data:`vaestudy.core.layout.PICTURES`, or ``pictured_images``, the record of the test
images they show (:mod:`vaestudy.core.pictured`); the rule ``run_pictures``
(``workflow/scripts/run_pictures.py``) asks for the ones it declares.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import numpy as np
import tensorflow as tf

from vaestudy.core import datasets, pictured
from vaestudy.core.config import RunConfig
from vaestudy.core.pictured import (
    Split,  # vaestudy.core.data's, as pictured takes it: 8 siblings at most
)
from vaestudy.evaluation import latent_pictures as lp
from vaestudy.evaluation import picture_files
from vaestudy.evaluation.evaluate import encode, load_models, reconstruct
from vaestudy.vae.likelihoods import decode_mean
from vaestudy.vae.model import latent_grid_draws

STEPS = 10  # points per interpolation row
TRAVERSAL_STEPS = 9  # values per traversed dimension: one row each


class RunPictures:
    """Lazily computed pictures of the run whose models are in ``model_dir`` and whose
    per-epoch sample grids are in ``epoch_samples`` (.npy); ``kl_dims``, the KL per latent
    dimension [L] that the evaluation measured (``kl_per_dim``), picks the dimensions of the
    traversals and of the manifold; ``sigma``, the likelihood's scale the evaluation used
    (None for a family without one), makes the decoded means of the discretized families."""

    def __init__(self, model_dir: Path | str, epoch_samples: Path | str, cfg: RunConfig,
                 data: Split, kl_dims: np.ndarray | list[float], sigma: float | None = None):
        self.epoch_samples, self.cfg, self.data = Path(epoch_samples), cfg, data
        self.encoder, self.decoder = load_models(model_dir)
        self.kl_dims = np.asarray(kl_dims)  # [L]
        self.sigma = sigma

    def _decode(self, z) -> np.ndarray:
        return decode_mean(self.decoder, tf.constant(np.asarray(z, np.float32)),
                           self.cfg.likelihood.family, self.sigma)

    @cached_property
    def chosen(self) -> pictured.Chosen:
        """The test images of the reconstructions and interpolations: drawn from this run's
        test labels with ``pictures.latent_seed``, the same for every run of its test set."""
        fc = self.cfg.pictures
        return pictured.choose(self.data.y_test, fc.n_reconstructions, fc.latent_seed)

    def pictured_images(self) -> dict:
        """Which test images the pictures show (:func:`vaestudy.core.pictured.record`)."""
        return pictured.record(self.data, self.chosen, datasets.get(self.cfg.dataset).classes,
                               self.cfg.pictures.latent_seed)

    @cached_property
    def codes(self) -> tuple[np.ndarray, np.ndarray]:
        """Posterior means and log-variances [N, L] of the test images."""
        return encode(self.encoder, self.data.x_test, self.cfg.evaluation.batch_size)

    def _prior_draws(self, n: int) -> np.ndarray:
        fc = self.cfg.pictures
        return latent_grid_draws(self.cfg.latent_dim, n, fc.latent_seed).numpy()

    def samples(self) -> np.ndarray:
        n = self.cfg.pictures.grid_size
        return picture_files.tile(self._decode(self._prior_draws(n * n)), cols=n)

    def reconstructions(self) -> np.ndarray:
        # the images of self.chosen, by class; a run on binarized images shows the gray test
        # images above its input
        pick = self.chosen.reconstructions
        x = self.data.x_test[pick]  # [n, 28, 28, 1]: the run's representation
        recon = reconstruct(self.encoder, self.decoder, x, self.cfg, len(x), self.sigma)
        binary = self.cfg.likelihood.data == "binary" and self.cfg.binarization != "none"
        gray = self.data.x_test_gray[pick][..., 0] if binary else None
        return picture_files.reconstruction_picture(x[..., 0], recon, gray)

    def manifold(self) -> np.ndarray:
        """The whole plane for a 2-D latent space, else the plane of the two dimensions with
        the largest KL (x: the largest)."""
        if self.cfg.latent_dim == 2:
            return lp.manifold_picture(self.decoder, self.cfg, self.sigma)
        first, second = np.argsort(-self.kl_dims, kind="stable")[:2]
        return lp.manifold_picture(self.decoder, self.cfg, self.sigma,
                                   (int(first), int(second)))

    def training(self) -> list[np.ndarray]:
        epochs = np.load(self.epoch_samples)  # [epochs, n, 28, 28] uint8
        return picture_files.gif_frames(epochs, cols=self.cfg.pictures.grid_size)

    def interpolations(self) -> np.ndarray:
        """Rows 1-5: straight lines between the codes of pairs of test images of different
        classes (the images at both ends: ``self.chosen.pairs``); rows 6-8: spherical paths
        between pairs of prior draws."""
        mean, _ = self.codes
        rows = [lp.lerp(mean[a], mean[b], STEPS) for a, b in self.chosen.pairs]
        draws = self._prior_draws(6)
        rows += [lp.slerp(draws[2 * i], draws[2 * i + 1], STEPS) for i in range(3)]
        return picture_files.tile(self._decode(np.concatenate(rows)), cols=STEPS)

    def temperature(self) -> np.ndarray:
        """One row per temperature T (z = T * eps), the same eps in every row."""
        n = self.cfg.pictures.grid_size
        return picture_files.tile(self._decode(lp.temperature_draws(self._prior_draws(n))), cols=n)

    def traversal(self) -> np.ndarray:
        mean, _ = self.codes
        codes, _ = lp.traversal_codes(mean, self.kl_dims, n_dims=min(5, self.cfg.latent_dim),
                                      steps=TRAVERSAL_STEPS)
        return picture_files.tile(self._decode(codes), cols=TRAVERSAL_STEPS)

    def write(self, name: str, path: Path | str) -> None:
        """Write picture ``name`` (a key of :data:`vaestudy.core.layout.PICTURES`) to ``path``
        (PNG, or GIF for training), or the record ``pictured_images`` (JSON)."""
        if name == "training":
            picture_files.save_gif(path, self.training())
        elif name == "pictured_images":
            Path(path).write_text(json.dumps(self.pictured_images(), indent=2) + "\n")
        elif name == "latent_scatter":
            mean, _ = self.codes
            points, axis = lp.project_2d(mean)
            dataset = datasets.get(self.cfg.dataset)
            lp.scatter(path, points, self.data.y_test, axis,
                       f"{self.cfg.loss}, latent {self.cfg.latent_dim}: test codes",
                       dataset.classes, dataset.item)
        else:
            picture_files.save_png(path, getattr(self, name)())
