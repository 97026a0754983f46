"""Test-set evaluation of a trained run.

Within a likelihood: the negative ELBO and an importance-weighted log-likelihood estimate.
Across likelihoods (comparable): pixel errors of reconstructions against the grayscale test
images, classifier-based sample quality, and what the latent code keeps.
"""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vaestudy.core.config import RunConfig
from vaestudy.core.data import Split, binarize, describe_subset, stratified_draw, subset_record
from vaestudy.evaluation import classifier as clf
from vaestudy.evaluation import latent_code
from vaestudy.vae.batches import batched
from vaestudy.vae.iwae import (
    bits_per_dim,
    bits_per_dim_of_mass,
    iwae_estimate,
    make_log_weights,
    progress_file,
)
from vaestudy.vae.likelihoods import (
    Scale,
    decode_mean,
    evaluate_elbo,
    gaussian_scale,
    make_eval_step,
    mass_inside,
)
from vaestudy.vae.model import latent_grid_draws, split_moments

_EPS = 1e-6


def load_models(model_dir: Path | str) -> tuple[keras.Model, keras.Model]:
    """Load ``encoder.keras`` and ``decoder.keras`` of a run's model folder."""
    model_dir = Path(model_dir)
    return (keras.models.load_model(model_dir / "encoder.keras", compile=False),
            keras.models.load_model(model_dir / "decoder.keras", compile=False))


def encode(encoder, x: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances [N, L] of images x [N, 28, 28, 1]."""
    return batched(lambda b: split_moments(encoder(b, training=False)), x, batch_size)


def reconstruct(encoder, decoder, x: np.ndarray, cfg: RunConfig, batch_size: int,
                sigma: float) -> np.ndarray:
    """Mean of p(x|z) (scale ``sigma``) at z = E_q[z|x] for images x [N, 28, 28, 1] ->
    [N, 28, 28]."""
    mean, _ = encode(encoder, x, batch_size)
    return batched(lambda z: decode_mean(decoder, z, cfg.likelihood.family, sigma), mean,
                   batch_size)


def pixel_errors(recon: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """MSE per pixel and binary cross-entropy per image (nats, summed over pixels) of
    reconstructions [N, 28, 28] against targets x [N, 28, 28, 1]."""
    x = x[..., 0]
    p = np.clip(recon, _EPS, 1 - _EPS)
    bce = -(x * np.log(p) + (1 - x) * np.log1p(-p)).sum(axis=(1, 2))
    return {"recon_mse": float(np.mean((recon - x) ** 2)), "recon_bce": float(bce.mean())}


def evaluation_subset(data: Split, n: int, seed: int) -> tuple[np.ndarray, dict]:
    """Indices of the test images a subset metric uses and its record: all of the test split
    when ``n`` is 0 or covers it, else a seeded draw stratified by label (never "the first
    N": the official test set is ordered)."""
    total = len(data.y_test)
    if not n or n >= total:
        return np.arange(total), data.test_images or subset_record(total, total, seed,
                                                                   "test images")
    population = ("official test images" if not data.test_images or
                  not data.test_images["drawn"] else "test images of this evaluation")
    return stratified_draw(data.y_test, n, seed), subset_record(n, total, seed, population)


def clipped_settings(cfg: RunConfig, data: Split) -> list[str]:
    """The evaluation settings that ask for more images than ``data`` holds, each in a
    sentence for the job's log: such a setting means all of them (the schema says so too)."""
    ev, out = cfg.evaluation, []
    for key, asked, have, what in (
            ("iwae_images", ev.iwae_images, len(data.y_test), "test images of this evaluation"),
            ("knn_train_images", ev.knn_train_images, len(data.y_train),
             "training images of the split")):
        if asked > have:
            out.append(f"evaluation.{key} = {asked:,} is above the {have:,} {what}: all "
                       f"{have:,} are used")
    return out


def log_likelihood(encoder, decoder, sigma: float, cfg: RunConfig, data: Split,
                   progress: Path | None = None) -> dict:
    """Importance-weighted log p(x) (K = ``iwae_samples``) on ``iwae_images`` test images (a
    seeded draw, :func:`evaluation_subset`): binarized images for binary data (nats of a
    mass), the 8-bit levels for a likelihood on them (nats of a mass, and their exact
    ``bits_per_dim``), dequantized 8-bit images for the other gray losses (nats of a density;
    ``bits_per_dim_bound`` and the ``mass_inside`` [0, 1] of the sub-probability it bounds:
    :func:`gray_level_scores`). ``progress``: where the estimate saves its batches, to resume
    after a kill (:func:`vaestudy.vae.iwae.iwae_estimate`)."""
    ev = cfg.evaluation
    keep, record = evaluation_subset(data, ev.iwae_images, ev.seed)
    x = data.x_test[keep]
    t0 = time.perf_counter()
    log_w = make_log_weights(encoder, decoder, cfg.likelihood.family, cfg.latent_dim, sigma)
    est = iwae_estimate(log_w, x, ev.iwae_samples, cfg.latent_dim, ev.seed, progress=progress,
                        identity=progress.stem if progress else "")
    out = {"test_log_px": float(est["log_px"].mean()),
           # the standard error over images (the spread of log p(x) across test digits)
           "test_log_px_se": float(est["log_px"].std(ddof=1) / np.sqrt(len(x))) if len(x) > 1
           else None,
           "test_elbo_same_draws":
           float(est["elbo"].mean()), "iwae_gap": float((est["log_px"] - est["elbo"]).mean()),
           "iwae_samples": ev.iwae_samples, "iwae_images": len(x),
           "log_px_images": record, "log_px_images_text": describe_subset(record),
           "log_px_data": data_description(cfg.binarization),
           **gray_level_scores(encoder, decoder, sigma, cfg, x, est["log_px"])}
    out["iwae_seconds"] = time.perf_counter() - t0
    return out


def gray_level_scores(encoder, decoder, sigma: float, cfg: RunConfig, x: np.ndarray,
                      log_px: np.ndarray) -> dict:
    """What log p(x) [N] of images x [N, 28, 28, 1] says of the 8-bit images: exact
    ``bits_per_dim`` for a likelihood on the levels; for a loss on dequantized levels, the
    ``bits_per_dim_bound`` and ``mass_inside``, the mean over these images and their pixels
    of the mass p(x|z) puts on [0, 1] at z = E[z|x] (the total of the probabilities that
    bound bounds); None where they do not apply (binarized images)."""
    spec = cfg.likelihood
    out = {"bits_per_dim": bits_per_dim_of_mass(log_px) if spec.exact_levels else None,
           "bits_per_dim_bound": bits_per_dim(log_px) if spec.dequantized else None,
           "mass_inside": None}
    if spec.dequantized:
        mean, _ = encode(encoder, x, cfg.evaluation.batch_size)
        mass = batched(lambda z: mass_inside(spec.family, decoder(z, training=False), sigma)
                       .numpy().mean(axis=(1, 2, 3)), mean, cfg.evaluation.batch_size)  # [N]
        out["mass_inside"] = float(mass.mean())
    return out


def data_description(binarization: str) -> str:
    """The images a run's ELBO and log p(x) are measured on, in words for the tables."""
    return {"dequantized": "dequantized 8-bit grayscale (i + u)/256",
            "none": "8-bit levels i/255"}.get(binarization, f"{binarization}-binarized")


def sample_quality(decoder, sigma: float, model: keras.Model, recon: np.ndarray,
                   cfg: RunConfig, data: Split, test_feats: np.ndarray) -> dict:
    """Classifier metrics: Fréchet distance of generated samples to the test images, class
    histogram of the samples, accuracy on reconstructions of the test digits."""
    n = cfg.evaluation.n_generated
    z = latent_grid_draws(cfg.latent_dim, n, cfg.evaluation.seed)  # the same draws per latent size
    samples = batched(lambda b: decode_mean(decoder, b, cfg.likelihood.family, sigma), z,
                      cfg.evaluation.batch_size)
    samples = samples[..., None]  # [n, 28, 28, 1]: the classifier's input
    feats, preds = clf.features_and_predictions(model, samples)
    _, recon_preds = clf.features_and_predictions(model, recon[..., None])
    return {"fid_classifier": clf.frechet_distance(feats, test_feats), "n_generated": n,
            **clf.class_histogram(preds),
            "recon_accuracy": float(np.mean(recon_preds == data.y_test))}


def latent_metrics(encoder, cfg: RunConfig, data: Split) -> dict:
    """KL per dimension, active units, k-NN accuracy of the test means (reference: a seeded
    draw of ``knn_train_images`` training images, stratified by label), posterior collapse."""
    ev = cfg.evaluation
    mean, logvar = encode(encoder, data.x_test, ev.batch_size)
    rng = np.random.default_rng(ev.seed)
    n_ref = min(ev.knn_train_images, len(data.y_train))
    ref = stratified_draw(data.y_train, n_ref, ev.seed)
    x_ref = binarize(data.x_train[ref], cfg.binarization, rng)
    ref_mean, _ = encode(encoder, x_ref, ev.batch_size)
    active = latent_code.active_units(mean)
    return {"kl_per_dim": latent_code.kl_per_dim(mean, logvar).round(4).tolist(),
            "active_units": active, "active_fraction": active / cfg.latent_dim,
            "posterior_collapse": latent_code.collapse(active, cfg.latent_dim),
            "knn_accuracy": latent_code.knn_accuracy(ref_mean, data.y_train[ref],
                                                mean, data.y_test, ev.knn_k),
            "knn_reference": subset_record(n_ref, len(data.y_train), ev.seed,
                                           "training images of the split")}


def evaluate(encoder, decoder, sigma: float, cfg: RunConfig, data: Split,
             model: keras.Model, test_feats: np.ndarray | None = None) -> dict:
    """All test metrics of one run, with the settings a reader needs to interpret them.
    ``test_feats`` [n_test, 128]: the classifier's features of ``data.x_test_gray``, computed
    once per dataset by the classifier's job (None: computed here). The log-likelihood's
    batches are saved as they finish (:func:`vaestudy.vae.iwae.progress_file`): a killed
    evaluation re-run resumes its estimate; the file goes once every metric is computed."""
    t0 = time.perf_counter()
    progress = progress_file(encoder, decoder, cfg.likelihood.family, sigma)
    ev = cfg.evaluation
    scale = Scale(cfg.likelihood, value=sigma)
    eval_step = make_eval_step(encoder, decoder, scale, cfg.likelihood.family, cfg.latent_dim,
                               tf.random.Generator.from_seed(cfg.seed))
    elbo = evaluate_elbo(eval_step, data.x_test, ev.batch_size, ev.elbo_samples)
    recon = reconstruct(encoder, decoder, data.x_test, cfg, ev.batch_size, sigma)
    if test_feats is None:
        test_feats, _ = clf.features_and_predictions(model, data.x_test_gray)
    if len(test_feats) != len(data.x_test_gray):
        raise ValueError(f"the classifier's test features are of {len(test_feats)} images, this "
                         f"evaluation has {len(data.x_test_gray)}: re-run train_classifier "
                         f"(its data.test_subset must be the evaluation's)")
    metrics = {
        **cfg.grid_point(),
        "family": cfg.likelihood.family, "likelihood": cfg.likelihood.describe(),
        "data": cfg.likelihood.data, **gaussian_scale(cfg.likelihood, sigma),
        "test_neg_elbo": elbo["neg_elbo"], "test_recon": elbo["recon"], "test_kl": elbo["kl"],
        **log_likelihood(encoder, decoder, sigma, cfg, data, progress),
        **pixel_errors(recon, data.x_test_gray),
        **sample_quality(decoder, sigma, model, recon, cfg, data, test_feats),
        **latent_metrics(encoder, cfg, data),
        "elbo_samples": ev.elbo_samples,
        "test_images": data.test_images, "split": describe_subset(data.test_images),
        "n_test": len(data.x_test), "n_train": len(data.x_train),
        "n_val": len(data.x_val), "binarization": cfg.binarization,
    }
    metrics["eval_seconds"] = time.perf_counter() - t0
    if progress:
        progress.unlink(missing_ok=True)
    return metrics
