"""What a loss is: the registry of names, families and settings -- the one home of each
loss's likelihood family, the settings it takes, the data it sees, and the words the report
uses for it. TensorFlow-free (the schema test, the report and the findings read it);
:mod:`vaestudy.vae.likelihoods` builds the TFP distribution of a family.

A *loss* of the grid is a named variant of a family: ``mse`` is the Gaussian with sigma = 1,
``mse-mean`` the pixel-averaged squared error most tutorials write (a Gaussian with 2 sigma^2
= 784), and a config can name more, e.g. ``loss_variants: {mse-sigma0.1: {family: mse,
sigma: 0.1}}``. Each variant gets its own grid path (``loss~mse-sigma0.1``), report arm and
rows of ``metrics.csv``. Adding a family: one entry in :data:`FAMILIES` plus its distribution
in :func:`vaestudy.vae.likelihoods.likelihood`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from vaestudy.core.data import IMAGE_SHAPE
from vaestudy.core.userconfig import require_finite

PIXELS = math.prod(IMAGE_SHAPE)  # 784: the number of terms in a per-image sum over pixels

#: What each data representation is, for the tables: binary losses see binarized images
#: (``data.binarization``), gray losses uniformly dequantized 8-bit images (i + u) / 256 in
#: training, validation and test alike, so that their ELBO and log p(x) are one quantity;
#: ``levels`` losses see the 8-bit levels themselves, i / 255, and give each a probability.
REPRESENTATIONS = ("binary", "gray", "levels")
#: What p(x|z) of a family is a distribution of, per pixel: a mass on {0, 1} (``binary``), a
#: density on [0, 1] (``interval``) or on the real line (``real``, some of it outside [0, 1]),
#: or a mass on the 256 gray levels (``levels``: exact discrete likelihoods, exact bits/dim).
SUPPORTS = ("binary", "interval", "real", "levels")


@dataclass(frozen=True)
class Family:
    """A likelihood family p(x|z): ``settings`` are its parameters with their defaults,
    ``data`` the representation its variants see unless they say otherwise, ``scale`` whether
    it has a scale sigma that is a setting (``fixed``) or trained with the model
    (``learned``), or none (``none``). ``support`` (:data:`SUPPORTS`): what p(x|z) is a
    distribution of. The Bernoulli is a mass on {0, 1}: on gray levels its cross-entropy
    integrates to at most 1/2 per pixel (Loaiza-Ganem & Cunningham 2019), a sub-probability
    like a Gaussian's mass inside [0, 1]. Only a family on ``levels`` gives the 8-bit images
    an exact probability (docs/theory.md, Section 7)."""

    name: str
    description: str
    data: str
    settings: dict[str, float] = field(default_factory=dict)
    scale: str = "none"
    support: str = "real"

    @property
    def kl_weight(self) -> bool:
        """A Gaussian density, whose scale is a KL weight beta = 2 sigma^2 in disguise."""
        return self.support == "real"


#: The settings of a learned scale: a soft floor of log sigma, and where sigma starts. Why
#: 0.1 and not 1: the optimum is sigma^2 = the MSE per pixel (docs/theory.md, Section 7),
#: about 0.01 to 0.04 here, and Adam moves log sigma by about the learning rate per step, so
#: from sigma = 1 a 2-epoch study measured the start (sigma 0.42 after 2 epochs), not the fit.
LEARNED = {"min_log_sigma": -6.0, "init_sigma": 0.1}

FAMILIES = {f.name: f for f in (
    Family("bce", "Bernoulli(logits) per pixel: binary cross-entropy summed over 784 pixels",
           "binary", support="binary"),
    Family("mse", "Normal(sigmoid(logits), σ fixed) per pixel: SSE/(2σ²) + constant, i.e. "
           "SSE + β·KL with β = 2σ²", "binary", {"sigma": 1.0}, "fixed"),
    Family("cbern", "Continuous Bernoulli(logits) per pixel: a normalised density on [0, 1]",
           "gray", support="interval"),
    Family("gauss-learned", "Normal(sigmoid(logits), σ learned, shared by all pixels)", "gray",
           LEARNED, "learned"),
    Family("dlogistic", "discretized logistic per pixel: Logistic(sigmoid(logits), s) with s "
           "learned and shared by all pixels, quantized to the 256 gray levels, the edge "
           "levels taking the tails (PixelCNN++; TFP QuantizedDistribution)", "levels",
           LEARNED, "learned", "levels"),
    Family("dgauss", "discretized Gaussian per pixel: Normal(sigmoid(logits), σ) with σ "
           "learned and shared by all pixels, quantized to the 256 gray levels, the edge "
           "levels taking the tails (TFP QuantizedDistribution)", "levels",
           LEARNED, "learned", "levels"),
)}

#: The variants every study can name without defining them. ``mse-mean``: averaging the
#: squared error over the 784 pixels divides the reconstruction term by 784, which is the
#: Gaussian with 2 sigma^2 = 784 (sigma = sqrt(392) ~ 19.8): a KL weight of 784.
BUILTIN_VARIANTS: dict[str, dict[str, Any]] = {
    "bce": {"family": "bce"},
    "mse": {"family": "mse"},
    "mse-mean": {"family": "mse", "sigma": math.sqrt(PIXELS / 2)},
    "cbern": {"family": "cbern"},
    "gauss-learned": {"family": "gauss-learned"},
    "dlogistic": {"family": "dlogistic"},
    "dgauss": {"family": "dgauss"},
}

NAME = re.compile(r"^[a-z][a-z0-9.-]*$")  # readable in a path: loss~mse-sigma0.1


class LossError(ValueError):
    """A loss name or variant is wrong; the message names it and the fix."""


@dataclass(frozen=True)
class LossSpec:
    """One loss of the grid, resolved: its family, that family's settings (defaults filled
    in) and the representation of its data."""

    name: str
    family: str
    settings: dict[str, float]
    data: str

    @property
    def scale(self) -> str:
        """``none``, ``fixed`` or ``learned``: see :class:`Family`."""
        return FAMILIES[self.family].scale

    @property
    def sigma(self) -> float | None:
        """The fixed Gaussian scale (``mse`` family), else None."""
        return self.settings.get("sigma")

    @property
    def beta(self) -> float | None:
        """The KL weight relative to the summed squared error, 2 sigma^2 (``mse`` family)."""
        return None if self.sigma is None else 2 * self.sigma**2

    @property
    def support(self) -> str:
        """What p(x|z) is a distribution of (:data:`SUPPORTS`)."""
        return FAMILIES[self.family].support

    @property
    def exact_levels(self) -> bool:
        """p(x|z) is a probability of the 8-bit images themselves: its log p(x) and bits/dim
        are exact, not bounds (docs/theory.md, Section 7)."""
        return self.data == "levels"

    @property
    def dequantized(self) -> bool:
        """Trained and scored on dequantized gray levels (i + u) / 256: its bits/dim only bound
        those of a sub-probability of the 8-bit images, whose mass is p(x|z)'s inside [0, 1]."""
        return self.data == "gray"

    def describe(self) -> str:
        """The family's description with this variant's settings."""
        text = FAMILIES[self.family].description
        if self.sigma is not None:
            text += f"; σ = {self.sigma:.4g}, β = {self.beta:.4g}"
        if self.data != FAMILIES[self.family].data:
            text += f"; on {self.data} data"
        if self.dequantized and self.support == "binary":
            text += " (on gray levels a function of total mass at most 1/2 per pixel)"
        return text



def variants(user: dict[str, dict] | None = None) -> dict[str, dict[str, Any]]:
    """The built-in variants plus the config's ``loss_variants`` (which may not redefine a
    built-in name: ``mse`` means sigma = 1 in every study)."""
    user = dict(user or {})
    clash = sorted(set(user) & set(BUILTIN_VARIANTS))
    if clash:
        raise LossError(f"loss_variants {clash} redefine built-in losses; built-ins are "
                        f"{sorted(BUILTIN_VARIANTS)}: give your variant another name")
    return {**BUILTIN_VARIANTS, **user}


def resolve(name: str, user: dict[str, dict] | None = None) -> LossSpec:
    """The :class:`LossSpec` of loss ``name`` (built in or defined in ``loss_variants``)."""
    table = variants(user)
    if name not in table:
        raise LossError(f"unknown loss {name!r}: built-in losses are {sorted(BUILTIN_VARIANTS)};"
                        f" define others under 'loss_variants', e.g. "
                        f"{{{name}: {{family: mse, sigma: 0.1}}}}")
    if not NAME.match(name):
        raise LossError(f"loss name {name!r} must match {NAME.pattern} (it is a path part)")
    raw = dict(table[name])
    family = FAMILIES.get(raw.pop("family", None))
    if family is None:
        raise LossError(f"loss {name!r}: 'family' must be one of {sorted(FAMILIES)}")
    data = raw.pop("data", family.data)
    unknown = sorted(set(raw) - set(family.settings))
    if unknown or data not in REPRESENTATIONS:
        raise LossError(f"loss {name!r}: family {family.name} takes settings "
                        f"{sorted(family.settings)} and data in {REPRESENTATIONS}; got "
                        f"{unknown or data!r}")
    if (data == "levels") != (family.support == "levels"):
        raise LossError(f"loss {name!r}: data 'levels' (the 8-bit levels themselves) goes with "
                        f"the families whose p(x|z) is a mass on them "
                        f"({sorted(f for f, v in FAMILIES.items() if v.support == 'levels')}) "
                        f"and with them only; got family {family.name} on {data!r} data")
    settings = {**family.settings, **{k: float(v) for k, v in raw.items()}}
    require_finite(settings, f"loss_variants.{name}", LossError)
    if "sigma" in settings and settings["sigma"] <= 0:
        raise LossError(f"loss {name!r}: sigma must be > 0")
    init = settings.get("init_sigma")
    if init is not None and not (init > 0 and math.log(init) > settings["min_log_sigma"]):
        floor = math.exp(settings["min_log_sigma"])
        raise LossError(f"loss {name!r}: init_sigma = {init} must be above the floor "
                        f"exp(min_log_sigma) = {floor:.3g} of the learned scale")
    return LossSpec(name, family.name, settings, data)


def from_saved(name: str, saved: dict[str, Any]) -> LossSpec:
    """The :class:`LossSpec` of loss ``name`` saved in a run's config.json (its
    ``likelihood`` section, written by ``dataclasses.asdict``)."""
    spec = LossSpec(**saved)
    if spec.name != name or spec.family not in FAMILIES:
        raise LossError(f"saved likelihood {saved} does not belong to loss {name!r}")
    return spec


def by_falling_beta(metrics) -> list[str]:
    """The fixed-sigma Gaussian losses among the rows of ``metrics`` (a table with columns
    loss, family, beta; the registry's scale ``fixed``), largest KL weight beta = 2 sigma^2
    first: from collapse to sharp. The one order of the sigma sweep (findings, plots, report)."""
    fixed = metrics[metrics.family.map(lambda f: FAMILIES[f].scale) == "fixed"]
    return list(fixed.groupby("loss").beta.first().sort_values(ascending=False).index)
