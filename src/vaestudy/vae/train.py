"""Training of one VAE run: Adam on the negative ELBO with a compiled ``tf.function`` step,
validation after every epoch, best-validation weights kept, optional early stopping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from vaestudy.core.config import RunConfig
from vaestudy.core.data import Split, binarize
from vaestudy.core.rule_params import continued_settings
from vaestudy.vae import checkpoint as ckpt
from vaestudy.vae.likelihoods import (
    IMAGE_SPEC,
    Scale,
    decode_mean,
    elbo_terms,
    evaluate_elbo,
    make_eval_step,
)
from vaestudy.vae.model import latent_grid_draws, make_decoder, make_encoder

VALIDATION_SEED = 0  # the z noise of the validation ELBO: the same draws every epoch


class Stopwatch:
    """Training seconds across restarts: a resumed run goes on from the seconds it had spent
    before (saved in its checkpoint)."""

    def __init__(self, spent: float, clock: Callable[[], float] = time.perf_counter):
        self.clock, self.start = clock, clock() - spent

    def __call__(self) -> float:
        return self.clock() - self.start


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or Inf: the run diverged. Carries where (epoch, step),
    the last finite batch losses and what the run had produced until then, so that the
    divergence can be recorded as the run's result."""

    def __init__(self, epoch: int, step: int, values, last_finite, history: pd.DataFrame,
                 samples: list):
        self.epoch, self.step, self.history, self.samples = epoch, step, history, samples
        self.last_finite = None if last_finite is None else [float(v) for v in last_finite]
        super().__init__(
            f"non-finite loss {[float(v) for v in values]} (negative ELBO, recon, KL) at "
            f"epoch {epoch}, step {step}; last finite: {self.last_finite}. The run diverged: "
            f"lower training.learning_rate, or check the likelihood's settings and the data.")


@dataclass
class TrainResult:
    """What a training run produces: the best-validation models and likelihood scale, the
    per-epoch history and the fixed-latent sample grid after every epoch ([epochs, n, 28, 28]
    uint8)."""

    encoder: keras.Model
    decoder: keras.Model
    sigma: float
    history: pd.DataFrame
    best_epoch: int
    seconds: float
    epoch_samples: np.ndarray = field(repr=False)
    stopped_early_at: int | None = None  # the last epoch, where early stopping ended the run


def make_train_step(encoder, decoder, scale: Scale, optimizer, cfg: RunConfig,
                    gen: tf.random.Generator):
    """Compile one Adam step on a batch [B, 28, 28, 1]; returns batch means of the negative
    ELBO and its two terms."""
    variables = (encoder.trainable_variables + decoder.trainable_variables
                 + list(scale.trainable_variables))
    optimizer.build(variables)

    @tf.function(input_signature=[IMAGE_SPEC])
    def step(x):
        eps = gen.normal([tf.shape(x)[0], cfg.latent_dim])  # [B, L]
        with tf.GradientTape() as tape:
            terms = elbo_terms(encoder, decoder, x, cfg.likelihood.family, eps, scale())
            loss = tf.reduce_mean(terms.neg_elbo)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss, tf.reduce_mean(terms.recon), tf.reduce_mean(terms.kl)

    return step


def epoch_images(x_train: np.ndarray, cfg: RunConfig, epoch: int) -> np.ndarray:
    """The training images [N, 28, 28, 1] of epoch ``epoch`` (from 1): a shuffle seeded by
    (run seed, epoch), then the run's binarization with a fresh draw of every pixel of every
    image (``dynamic``: Bernoulli; ``dequantized``: uniform offsets), so that epochs differ
    in their pixels, not only in their order."""
    rng = np.random.default_rng([cfg.seed, epoch])
    order = rng.permutation(len(x_train))
    return binarize(x_train[order], cfg.binarization, rng)


class Interrupted(RuntimeError):
    """Training was asked to stop (SIGTERM); a checkpoint of the exact position is saved."""


@dataclass
class _Parts:
    """The trainable pieces of a run, created identically on every (re)start."""

    encoder: keras.Model
    decoder: keras.Model
    scale: Scale
    optimizer: keras.optimizers.Optimizer
    gen: tf.random.Generator

    def checkpointed(self) -> tuple[dict, dict]:
        return ({"encoder": self.encoder, "decoder": self.decoder},
                {"optimizer": self.optimizer.variables, "scale": [self.scale.raw],
                 "gen": [self.gen.state]})

    def snapshot(self) -> dict:
        return {"encoder": self.encoder.get_weights(), "decoder": self.decoder.get_weights(),
                "scale": [np.float32(float(self.scale()))]}


def _build(cfg: RunConfig) -> tuple[_Parts, callable]:
    keras.utils.set_random_seed(cfg.seed)
    precision = cfg.training.precision
    parts = _Parts(make_encoder(cfg.latent_dim, cfg.model, precision),
                   make_decoder(cfg.latent_dim, cfg.model, precision),
                   Scale(cfg.likelihood),
                   keras.optimizers.Adam(learning_rate=cfg.training.learning_rate),
                   tf.random.Generator.from_seed(cfg.seed))
    step = make_train_step(parts.encoder, parts.decoder, parts.scale, parts.optimizer, cfg,
                           parts.gen)
    return parts, step


def train(cfg: RunConfig, data: Split, log: logging.Logger | None = None,
          checkpoint: Path | str | None = None,
          should_stop: Callable[[], bool] = lambda: False,
          on_epoch: Callable[[pd.DataFrame], None] = lambda history: None) -> TrainResult:
    """Train one run of ``cfg`` on ``data``; ``log`` receives one line per epoch.

    With ``checkpoint``, the loop's full state is saved there after every epoch, and a run
    started again resumes from it with bit-identical results. ``should_stop`` is polled after
    every step: when it returns True the exact position is checkpointed and
    :class:`Interrupted` is raised. ``on_epoch`` receives the history after every epoch (for
    progress files). A non-finite loss raises :class:`NonFiniteLossError`."""
    log = log or logging.getLogger(__name__)
    tc = cfg.training
    if tc.batch_size > len(data.x_train):
        raise ValueError(f"training.batch_size={tc.batch_size} exceeds the "
                         f"{len(data.x_train)} training images")
    parts, step = _build(cfg)
    models, variables = parts.checkpointed()
    # without the budget: a checkpoint at epoch e is the state of every budget >= e
    fingerprint = ckpt.config_hash(continued_settings(cfg.training_dict()))
    resumed = ckpt.load(checkpoint, models, variables, fingerprint, log) if checkpoint else None
    state, best_weights, samples = resumed or (ckpt.LoopState(), None, [])
    if resumed:
        log.info("resumed from %s at epoch %d, step %d", checkpoint, state.epoch, state.step)
    if len(state.rows) > tc.epochs:
        raise ValueError(f"the checkpoint {checkpoint} is of epoch {len(state.rows)}, past this "
                         f"run's budget of {tc.epochs} epochs: delete it to train from scratch")

    def save() -> None:
        if checkpoint:
            ckpt.save(checkpoint, models, variables, state, best_weights, samples, fingerprint)

    fixed_z = latent_grid_draws(cfg.latent_dim, cfg.pictures.grid_size**2, cfg.pictures.latent_seed)
    eval_gen = tf.random.Generator.from_seed(VALIDATION_SEED)
    eval_step = make_eval_step(parts.encoder, parts.decoder, parts.scale,
                               cfg.likelihood.family, cfg.latent_dim, eval_gen)
    watch = Stopwatch(state.elapsed)
    while state.epoch <= tc.epochs and not state.stopped_early:
        epoch, t0 = state.epoch, time.perf_counter()
        images = epoch_images(data.x_train, cfg, epoch)
        starts = range(0, len(images), tc.batch_size)
        for n_step in range(state.step, len(starts)):
            batch = images[starts[n_step] : starts[n_step] + tc.batch_size]
            values = np.array([v.numpy() for v in step(tf.constant(batch))])
            if not np.all(np.isfinite(values)):
                raise NonFiniteLossError(epoch, n_step, values, state.last_finite,
                                         pd.DataFrame(state.rows), samples)
            state.last_finite = values.tolist()
            state.sums = (np.array(state.sums) + values * len(batch)).tolist()
            state.step = n_step + 1
            if should_stop():
                state.elapsed = watch()
                save()
                raise Interrupted(f"stopped at epoch {epoch}, step {n_step}; checkpoint saved")
        train_terms = np.array(state.sums) / len(images)
        eval_gen.reset_from_seed(VALIDATION_SEED)
        val = evaluate_elbo(eval_step, data.x_val, tc.batch_size, samples=1)
        state.rows.append({"epoch": epoch, "train_neg_elbo": train_terms[0],
                           "train_recon": train_terms[1], "train_kl": train_terms[2],
                           "val_neg_elbo": val["neg_elbo"], "val_recon": val["recon"],
                           "val_kl": val["kl"], "sigma": float(parts.scale()),
                           "seconds": time.perf_counter() - t0})
        mean = decode_mean(parts.decoder, fixed_z, cfg.likelihood.family,
                           float(parts.scale()))  # [n, 28, 28]
        samples.append((mean * 255).round().astype(np.uint8))
        log.info("epoch %d: train %.2f, val %.2f (recon %.2f, kl %.2f) nats, %.1f s", epoch,
                 train_terms[0], val["neg_elbo"], val["recon"], val["kl"],
                 state.rows[-1]["seconds"])
        if val["neg_elbo"] < state.best:
            state.best, state.waited, best_weights = val["neg_elbo"], 0, parts.snapshot()
        else:
            state.waited += 1
            if tc.early_stopping_patience and state.waited >= tc.early_stopping_patience:
                log.info("early stopping after epoch %d", epoch)
                state.stopped_early = True
        state.epoch, state.step, state.sums = epoch + 1, 0, [0.0, 0.0, 0.0]
        state.elapsed = watch()
        on_epoch(pd.DataFrame(state.rows))  # before the checkpoint: it implies the history
        save()
    encoder, decoder = _float32_models(parts, cfg)
    encoder.set_weights(best_weights["encoder"])
    decoder.set_weights(best_weights["decoder"])
    sigma = float(best_weights["scale"][0])
    history = pd.DataFrame(state.rows)
    best_epoch = int(history.loc[history.val_neg_elbo.idxmin(), "epoch"])
    return TrainResult(encoder, decoder, sigma, history, best_epoch, watch(), np.stack(samples),
                       len(state.rows) if state.stopped_early else None)


def _float32_models(parts: _Parts, cfg: RunConfig) -> tuple[keras.Model, keras.Model]:
    """The models a run saves: float32 whatever the training precision, so that evaluation
    and the saved files are the same for every precision (the weights are float32 anyway)."""
    if cfg.training.precision == "float32":
        return parts.encoder, parts.decoder
    return make_encoder(cfg.latent_dim, cfg.model), make_decoder(cfg.latent_dim, cfg.model)
