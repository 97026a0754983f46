"""Test-set evaluation of a trained run: the negative ELBO under the run's own likelihood and
pixel-space reconstruction errors that are comparable across likelihoods."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vaestudy.config import RunConfig
from vaestudy.data import Split
from vaestudy.likelihoods import DESCRIPTIONS
from vaestudy.model import split_moments
from vaestudy.train import decode_mean, evaluate_elbo, make_eval_step

_EPS = 1e-6


def load_models(run_dir: Path | str) -> tuple[keras.Model, keras.Model]:
    """Load ``encoder.keras`` and ``decoder.keras`` from a run directory."""
    run_dir = Path(run_dir)
    return (keras.models.load_model(run_dir / "encoder.keras", compile=False),
            keras.models.load_model(run_dir / "decoder.keras", compile=False))


def reconstruct(encoder, decoder, x: np.ndarray, cfg: RunConfig, batch_size: int) -> np.ndarray:
    """Mean of p(x|z) at z = E_q[z|x] for images x [N, 28, 28, 1] -> [N, 28, 28]."""
    out = []
    for i in range(0, len(x), batch_size):
        mean, _ = split_moments(encoder(tf.constant(x[i : i + batch_size]), training=False))
        out.append(decode_mean(decoder, mean, cfg))
    return np.concatenate(out)


def pixel_errors(recon: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """MSE per pixel and binary cross-entropy per image (nats, summed over pixels) of
    reconstructions [N, 28, 28] against targets x [N, 28, 28, 1]."""
    x = x[..., 0]
    p = np.clip(recon, _EPS, 1 - _EPS)
    bce = -(x * np.log(p) + (1 - x) * np.log1p(-p)).sum(axis=(1, 2))
    return {"recon_mse": float(np.mean((recon - x) ** 2)), "recon_bce": float(bce.mean())}


def evaluate(encoder, decoder, cfg: RunConfig, data: Split) -> dict:
    """All test metrics of one run, with the settings a reader needs to interpret them."""
    ev = cfg.evaluation
    eval_step = make_eval_step(encoder, decoder, cfg, tf.random.Generator.from_seed(cfg.seed))
    elbo = evaluate_elbo(eval_step, data.x_test, ev.batch_size, ev.elbo_samples)
    recon = reconstruct(encoder, decoder, data.x_test, cfg, ev.batch_size)
    return {
        "loss": cfg.loss,
        "latent_dim": cfg.latent_dim,
        "seed": cfg.seed,
        "likelihood": DESCRIPTIONS[cfg.loss],
        "mse_sigma": cfg.likelihood.mse_sigma if cfg.loss == "mse" else None,
        "test_neg_elbo": elbo["neg_elbo"],
        "test_recon": elbo["recon"],
        "test_kl": elbo["kl"],
        **pixel_errors(recon, data.x_test),
        "elbo_samples": ev.elbo_samples,
        "split": "test (official 10,000 images)" if not cfg.data.test_subset
        else f"test (first {cfg.data.test_subset} official test images)",
        "n_test": int(len(data.x_test)),
        "n_train": int(len(data.x_train)),
        "n_val": int(len(data.x_val)),
        "binarization": cfg.data.binarization,
    }
