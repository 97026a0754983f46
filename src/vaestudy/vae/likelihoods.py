"""p(x|z) and the ELBO's terms: the TFP distribution of each likelihood family, the negative
ELBO and its evaluation over a data set, the decoder's mean image (what each family and loss
variant is, its settings and data: :mod:`vaestudy.core.losses`; log p(x): :mod:`vaestudy.vae.iwae`).

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
``dlogistic``, ``dgauss`` a Logistic or Normal with location sigmoid(logits) and a learned
         shared scale, quantized to the 256 gray levels: level i gets the mass of
         ((i - 1/2) / 255, (i + 1/2) / 255], levels 0 and 255 the tails beyond (PixelCNN++,
         Salimans et al. 2017). A probability of the 8-bit image itself (:class:`LevelMass`).

Every quantity is in nats per image; a batch loss is the mean over images.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vaestudy.core.losses import FAMILIES, LossSpec
from vaestudy.vae.batches import batched
from vaestudy.vae.model import IMAGE_SHAPE, posterior, prior, reparameterize, split_moments

tfd = tfp.distributions

class Scale(tf.Module):
    """The scale sigma of a likelihood: fixed (``mse``) or a learned scalar (``gauss-learned``,
    ``dlogistic``, ``dgauss``) with log sigma = m + softplus(raw - m), a soft floor at m,
    starting at ``init_sigma``. Other families carry a constant 1 that they never read."""

    def __init__(self, spec: LossSpec, value: float | None = None):
        super().__init__(name="scale")
        self.learned = spec.scale == "learned"
        self.floor = spec.settings["min_log_sigma"] if self.learned else None
        start = math.log(spec.sigma) if spec.scale == "fixed" else 0.0
        self.raw = tf.Variable(start, trainable=self.learned, dtype=tf.float32)
        if self.learned:
            self.set_sigma(spec.settings["init_sigma"])
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


#: The largest 8-bit level: a run on ``levels`` data sees x = i / LEVELS.
LEVELS = 255
#: The continuous law under each discretized family, on the scale of the levels.
_DISCRETIZED = {"dlogistic": tfd.Logistic, "dgauss": tfd.Normal}


class LevelMass:
    """A probability of the 8-bit levels of images [B, 28, 28, 1], read on the data's scale
    x = i / 255: ``log_prob(x)`` [B] is the sum over pixels of log P(i), ``mean()`` [B, 28, 28,
    1] is E[x|z]. Why not a TFP distribution on x: a bijector would add a Jacobian, which a
    probability mass does not have; this wrapper only rescales the argument."""

    def __init__(self, pixel: tfd.QuantizedDistribution):
        self.pixel = pixel  # batch shape [B, 28, 28, 1], values 0 .. 255

    def log_prob(self, x: tf.Tensor) -> tf.Tensor:
        levels = tf.round(tf.cast(x, self.pixel.dtype) * LEVELS)  # [B, 28, 28, 1]
        return tf.reduce_sum(self.pixel.log_prob(levels), axis=[-3, -2, -1])

    def mean(self) -> tf.Tensor:
        """E[i] / 255 with E[i] = sum_{j=0}^{254} P(i > j) = sum_j SF(j) of the continuous
        law (level j takes everything up to j + 1/2), summed in chunks of levels to bound
        memory: [B, 28, 28, 1]."""
        law = self.pixel.distribution
        total = tf.zeros_like(law.loc)
        for start in range(0, LEVELS, 64):
            j = tf.range(start, min(start + 64, LEVELS), dtype=law.loc.dtype)
            j = tf.reshape(j, [-1] + [1] * len(law.loc.shape))  # [c, 1, 1, 1, 1]
            total += tf.reduce_sum(law.survival_function(j), axis=0)
        return total / LEVELS


def _discretized(family: str, logits: tf.Tensor, sigma) -> LevelMass:
    """A :class:`LevelMass` whose level i gets the mass of the continuous law of ``family``
    (location 255 sigmoid(logits), scale 255 sigma) on (i - 1/2, i + 1/2]: TFP's
    QuantizedDistribution gives level j the mass of (j - 1, j], so the law is shifted by -1/2;
    ``low``/``high`` put the tails into levels 0 and 255."""
    law = _DISCRETIZED[family](loc=LEVELS * tf.sigmoid(logits) - 0.5,
                               scale=LEVELS * tf.cast(sigma, logits.dtype))
    return LevelMass(tfd.QuantizedDistribution(law, low=0.0, high=float(LEVELS)))


def likelihood(family: str, logits: tf.Tensor, sigma=1.0):
    """p(x|z) of a family for decoder outputs ``logits`` [B, 28, 28, 1], event shape [28, 28,
    1]: ``log_prob(x)`` [B] and ``mean()`` [B, 28, 28, 1] (a TFP distribution, or a
    :class:`LevelMass` for the discretized families). ``sigma`` (a float or a scalar tensor)
    is used by the families with a scale only."""
    if family not in FAMILIES:
        raise ValueError(f"unknown likelihood family {family!r}; allowed: {sorted(FAMILIES)}")
    if family in _DISCRETIZED:
        return _discretized(family, logits, sigma)
    if FAMILIES[family].scale != "none":
        pixel = tfd.Normal(loc=tf.sigmoid(logits), scale=tf.cast(sigma, logits.dtype))
    elif family == "bce":
        pixel = tfd.Bernoulli(logits=logits, dtype=logits.dtype)
    elif family == "cbern":
        pixel = tfd.ContinuousBernoulli(logits=logits, dtype=logits.dtype)
    else:
        raise NotImplementedError(f"family {family!r} is in vaestudy.core.losses.FAMILIES but has "
                                  f"no distribution here: add it to this function")
    return tfd.Independent(pixel, reinterpreted_batch_ndims=3)


def pixel_mean(family: str, logits: tf.Tensor, sigma=None) -> tf.Tensor:
    """E[x|z] [B, 28, 28] in [0, 1]: what the pictures show and the pixel metrics compare.
    ``sigma``: the run's scale, needed where the mean depends on it (the discretized
    families, whose edge levels fold in the tails); an error where it is missing there."""
    if sigma is None:
        if family in _DISCRETIZED:
            raise ValueError(f"the mean of {family} depends on its scale: pass the run's sigma")
        sigma = 1.0
    return tf.clip_by_value(likelihood(family, logits, sigma).mean()[..., 0], 0.0, 1.0)


def mass_inside(family: str, logits: tf.Tensor, sigma) -> tf.Tensor:
    """The mass p(x|z) puts on [0, 1], per pixel [B, 28, 28, 1]: 1 for the continuous
    Bernoulli, Phi((1 - mu) / sigma) - Phi(-mu / sigma) for a Gaussian, and for a Bernoulli
    read as a function of gray levels int_0^1 lambda^x (1 - lambda)^(1 - x) dx = tanh(l / 2) /
    l at logit l (1/2 at l = 0). What a bits/dim of dequantized data leaves out: the
    probability of the 8-bit images it bounds sums to this mass, not to 1."""
    support = FAMILIES[family].support
    if support == "real":
        pixel = tfd.Normal(loc=tf.sigmoid(logits), scale=tf.cast(sigma, logits.dtype))
        return pixel.cdf(1.0) - pixel.cdf(0.0)
    if support == "binary":
        safe = tf.where(tf.abs(logits) < 1e-4, tf.ones_like(logits), logits)
        return tf.where(tf.abs(logits) < 1e-4, 0.5 - logits**2 / 24,  # tanh(l/2)/l near 0
                        tf.tanh(safe / 2) / safe)
    if support == "interval":
        return tf.ones_like(logits)
    raise ValueError(f"{family}: a mass on the levels has no density to put outside [0, 1]")


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


def decode_mean(decoder, z: tf.Tensor, family: str, sigma=None) -> np.ndarray:
    """Mean of p(x|z) of the likelihood ``family`` (scale ``sigma``, see :func:`pixel_mean`)
    for latents z [N, L] as an array [N, 28, 28] in [0, 1]: what the figures show and the
    pixel metrics compare."""
    return pixel_mean(family, decoder(z, training=False), sigma).numpy()


def gaussian_scale(spec: LossSpec, sigma: float) -> dict:
    """The scale of a likelihood that has one (fixed, or learned: the value training ended
    with) and, for a Gaussian density, its KL weight beta = 2 sigma^2 relative to the summed
    squared error; None otherwise."""
    if spec.scale == "none":
        return {"sigma": None, "beta": None}
    return {"sigma": sigma, "beta": 2 * sigma**2 if FAMILIES[spec.family].kl_weight else None}
