"""What a loss is: the registry of names, families and settings -- the one home of each
loss's likelihood family, the settings it takes, the data it sees, and the words the report
uses for it. TensorFlow-free (the schema test, the report and the findings read it);
:mod:`vaestudy.likelihoods` builds the TFP distribution of a family.

A *loss* of the grid is a named variant of a family: ``mse`` is the Gaussian with sigma = 1,
``mse-mean`` the pixel-averaged squared error most tutorials write (a Gaussian with 2 sigma^2
= 784), and a config can name more, e.g. ``loss_variants: {mse-sigma0.1: {family: mse,
sigma: 0.1}}``. Each variant gets its own grid path (``loss~mse-sigma0.1``), report arm and
rows of ``metrics.csv``. Adding a family: one entry in :data:`FAMILIES` plus its distribution
in :func:`vaestudy.likelihoods.likelihood`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from vaestudy.data import IMAGE_SHAPE
from vaestudy.userconfig import require_finite

PIXELS = math.prod(IMAGE_SHAPE)  # 784: the number of terms in a per-image sum over pixels

#: What each data representation is, for the tables: binary losses see binarized images
#: (``data.binarization``), gray losses uniformly dequantized 8-bit images (i + u) / 256 in
#: training, validation and test alike, so that their ELBO and log p(x) are one quantity.
REPRESENTATIONS = ("binary", "gray")


@dataclass(frozen=True)
class Family:
    """A likelihood family p(x|z): ``settings`` are its parameters with their defaults,
    ``data`` the representation its variants see unless they say otherwise, ``scale`` whether
    it is a Gaussian with a scale sigma that is a setting (``fixed``) or trained with the
    model (``learned``), or has no scale (``none``). ``density``: whether p(x|z) is a
    normalized density of continuous pixel values (a Gaussian, the continuous Bernoulli); the
    Bernoulli is a mass on {0, 1}, and its cross-entropy on gray levels normalizes to nothing
    (Loaiza-Ganem & Cunningham 2019), so it has no bits/dim of gray images."""

    name: str
    description: str
    data: str
    settings: dict[str, float] = field(default_factory=dict)
    scale: str = "none"
    density: bool = True


FAMILIES = {f.name: f for f in (
    Family("bce", "Bernoulli(logits) per pixel: binary cross-entropy summed over 784 pixels",
           "binary", density=False),
    Family("mse", "Normal(sigmoid(logits), σ fixed) per pixel: SSE/(2σ²) + constant, i.e. "
           "SSE + β·KL with β = 2σ²", "binary", {"sigma": 1.0}, "fixed"),
    Family("cbern", "Continuous Bernoulli(logits) per pixel: a normalised density on [0, 1]",
           "gray"),
    Family("gauss-learned", "Normal(sigmoid(logits), σ learned, shared by all pixels)", "gray",
           {"min_log_sigma": -6.0}, "learned"),
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
    def gray_density(self) -> bool:
        """A normalized density of the (dequantized) gray levels: its log p(x) bounds the
        8-bit images' log-probability and has bits/dim (docs/theory.md, Section 7)."""
        return self.data == "gray" and FAMILIES[self.family].density

    def describe(self) -> str:
        """The family's description with this variant's settings."""
        text = FAMILIES[self.family].description
        if self.sigma is not None:
            text += f"; σ = {self.sigma:.4g}, β = {self.beta:.4g}"
        if self.data != FAMILIES[self.family].data:
            text += f"; on {self.data} data"
        if self.data == "gray" and not self.gray_density:
            text += " (not a normalized density of gray levels: no bits/dim)"
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
    settings = {**family.settings, **{k: float(v) for k, v in raw.items()}}
    require_finite(settings, f"loss_variants.{name}", LossError)
    if "sigma" in settings and settings["sigma"] <= 0:
        raise LossError(f"loss {name!r}: sigma must be > 0")
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
