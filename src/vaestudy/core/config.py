"""Typed configuration objects, one per concern, built from the workflow's validated config.

Every object rejects unknown keys: a typo in a config file must stop the study, not be
ignored. ``RunConfig`` is what one training run depends on; it is saved next to the run's
results (``config.json``) so that every number can be traced to its settings.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaestudy.core import datasets, losses
from vaestudy.core.data import SPLIT_SIZES, load_split
from vaestudy.core.losses import LossSpec
from vaestudy.core.rule_params import training_sections
from vaestudy.core.userconfig import require_finite

BINARIZATIONS = ("static", "dynamic", "none")
PRECISIONS = ("float32", "mixed_bfloat16")  # Keras dtype policies (vaestudy.vae.model)


class ConfigError(ValueError):
    """A config key or value is wrong; the message names the key and what is allowed."""


def _build(cls: type, values: dict[str, Any] | None, where: str) -> Any:
    """Instantiate dataclass ``cls`` from ``values``, refusing keys it does not define and
    numbers that are not finite (:func:`vaestudy.core.userconfig.require_finite`)."""
    values = dict(values or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {unknown} in '{where}'; allowed keys: {sorted(known)}"
        )
    require_finite(values, where, ConfigError)
    return cls(**values)


def _check(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"config '{key}' = {value!r} is invalid; allowed: {allowed}")


@dataclass(frozen=True)
class DataConfig:
    """Where a run's dataset lives (``dir``: filled in from the ``prepare_data`` manifest of
    the run's dataset), how it is split, and how the losses on binary data binarize it (a
    loss's data representation is part of the loss: :mod:`vaestudy.core.losses`). The split
    settings are shared by every dataset of a study (both have 60,000 + 10,000 images)."""

    dir: str = ""
    validation_size: int = 5000
    split_seed: int = 0
    binarization: str = "dynamic"
    eval_binarization_seed: int = 1234
    train_subset: int = 0  # 0 = the whole training split
    test_subset: int = 0  # 0 = the whole test set

    def __post_init__(self) -> None:
        _check(self.binarization in BINARIZATIONS, "data.binarization", self.binarization,
               ", ".join(BINARIZATIONS))
        n_train = SPLIT_SIZES["train"]
        _check(0 < self.validation_size < n_train, "data.validation_size", self.validation_size,
               f"1..{n_train - 1}")
        _check(self.train_subset >= 0, "data.train_subset", self.train_subset, ">= 0")
        for key in ("split_seed", "eval_binarization_seed"):
            _check(getattr(self, key) >= 0, f"data.{key}", getattr(self, key), ">= 0")
        _check(self.test_subset >= 0, "data.test_subset", self.test_subset, ">= 0")

    def load(self, binarization: str, dataset: str = "mnist"):
        """The split of ``dataset`` these settings describe (:func:`vaestudy.core.data.load_split`),
        its validation and test images binarized by ``binarization`` (a run's
        :attr:`RunConfig.binarization`, or ``none`` for gray images)."""
        return load_split(self.dir, self.validation_size, self.split_seed, binarization,
                          self.eval_binarization_seed, self.train_subset, self.test_subset,
                          dataset=dataset)


@dataclass(frozen=True)
class ModelConfig:
    """Widths of the TensorFlow-tutorial convolutional encoder/decoder."""

    encoder_filters: tuple[int, ...] = (32, 64)
    decoder_filters: tuple[int, ...] = (64, 32)
    decoder_dense_channels: int = 32

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder_filters", tuple(self.encoder_filters))
        object.__setattr__(self, "decoder_filters", tuple(self.decoder_filters))
        for key in ("encoder_filters", "decoder_filters"):
            val = getattr(self, key)
            _check(len(val) == 2 and all(v > 0 for v in val), f"model.{key}", list(val),
                   "two positive integers (two stride-2 layers take 28x28 to 7x7)")
        _check(self.decoder_dense_channels > 0, "model.decoder_dense_channels",
               self.decoder_dense_channels, "> 0")


@dataclass(frozen=True)
class TrainingConfig:
    """Adam optimisation for ``epochs``, the run's training budget (one of the grid's
    ``study.epochs``); ``early_stopping_patience`` 0 trains for all epochs. ``precision``
    is the Keras dtype policy of training: ``float32`` or ``mixed_bfloat16`` (bfloat16
    compute, float32 weights and loss). Saved models and evaluation are float32 either way."""

    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    early_stopping_patience: int = 0
    precision: str = "float32"

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, "training.epochs", self.epochs, ">= 1")
        _check(self.batch_size >= 1, "training.batch_size", self.batch_size, ">= 1")
        _check(self.learning_rate > 0, "training.learning_rate", self.learning_rate, "> 0")
        _check(self.early_stopping_patience >= 0, "training.early_stopping_patience",
               self.early_stopping_patience, ">= 0")
        _check(self.precision in PRECISIONS, "training.precision", self.precision,
               ", ".join(PRECISIONS))


@dataclass(frozen=True)
class EvaluationConfig:
    """Test-set evaluation: z draws per image for the ELBO; importance samples K and the
    number of test images (0 = all) of the log-likelihood estimate; generated samples for the
    classifier metrics; neighbours and training images of the k-NN probe of the latent means."""

    elbo_samples: int = 5
    batch_size: int = 500
    iwae_samples: int = 100
    iwae_images: int = 1000
    n_generated: int = 5000
    knn_k: int = 5
    knn_train_images: int = 10000
    seed: int = 4321

    def __post_init__(self) -> None:
        for key in ("elbo_samples", "batch_size", "iwae_samples", "knn_k", "knn_train_images"):
            _check(getattr(self, key) >= 1, f"evaluation.{key}", getattr(self, key), ">= 1")
        _check(self.n_generated >= 2, "evaluation.n_generated", self.n_generated,
               ">= 2 (the Fréchet distance needs a covariance)")
        _check(self.iwae_images >= 0, "evaluation.iwae_images", self.iwae_images,
               ">= 0 (0 = every test image)")
        _check(self.seed >= 0, "evaluation.seed", self.seed, ">= 0")


@dataclass(frozen=True)
class PicturesConfig:
    """Fixed latent draws (seeded per latent size) and sizes of the per-run pictures."""

    latent_seed: int = 2026
    grid_size: int = 8
    n_reconstructions: int = 10
    manifold_size: int = 20

    def __post_init__(self) -> None:
        _check(self.latent_seed >= 0, "pictures.latent_seed", self.latent_seed, ">= 0")
        for key, low in (("grid_size", 1), ("n_reconstructions", 1), ("manifold_size", 2)):
            _check(getattr(self, key) >= low, f"pictures.{key}", getattr(self, key), f">= {low}")


@dataclass(frozen=True)
class ClassifierConfig:
    """The digit classifier behind the sample-quality metrics (trained once per study)."""

    epochs: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, "classifier.epochs", self.epochs, ">= 1")
        _check(self.seed >= 0, "classifier.seed", self.seed, ">= 0")


@dataclass(frozen=True)
class RunConfig:
    """Everything one training run depends on: its grid point (``dataset`` names an entry of
    :mod:`vaestudy.core.datasets`, ``loss`` a variant, ``likelihood`` is that variant resolved)
    plus the shared settings."""

    loss: str
    latent_dim: int
    seed: int
    likelihood: LossSpec
    dataset: str = "mnist"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    pictures: PicturesConfig = field(default_factory=PicturesConfig)

    def __post_init__(self) -> None:
        _check(self.loss == self.likelihood.name, "loss", self.loss,
               f"the name of its likelihood {self.likelihood.name!r}")
        _check(isinstance(self.latent_dim, int) and self.latent_dim >= 1, "latent_dim",
               self.latent_dim, "integer >= 1")
        _check(isinstance(self.seed, int) and self.seed >= 0, "seed", self.seed,
               "integer >= 0")
        _check(self.dataset in datasets.DATASETS, "dataset", self.dataset,
               ", ".join(datasets.DATASETS))

    def load_data(self):
        """This run's split of its dataset, in its representation (:attr:`binarization`)."""
        return self.data.load(self.binarization, self.dataset)

    @property
    def binarization(self) -> str:
        """How this run's images are made from the 8-bit pixels: the study's binarization
        for a loss on binary data, ``dequantized`` ((i + u) / 256) for gray, ``none`` (the
        levels i / 255 themselves) for a loss on levels."""
        return {"binary": self.data.binarization, "gray": "dequantized",
                "levels": "none"}[self.likelihood.data]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def training_dict(self) -> dict[str, Any]:
        """What training depends on (see :func:`train_settings`): the run's ``config.json``
        and the fingerprint of its checkpoint. Evaluation and picture settings are recorded by
        the outputs of those rules."""
        full = self.to_dict()
        return ({k: full[k] for k in RUN_FIELDS}
                | training_sections(full, full["likelihood"]))

    def grid_point(self) -> dict[str, Any]:
        """This run's coordinates in the grid (:data:`GRID_KEYS`), as the tables name them."""
        return grid_point(self.training_dict())

    def save(self, path: Path | str) -> None:
        """Write :meth:`training_dict` as JSON (read back by
        :func:`vaestudy.core.trained_run.load_run_config`)."""
        Path(path).write_text(json.dumps(self.training_dict(), indent=2) + "\n")


#: The fields of a run's config.json that name its grid point beside its settings (the
#: training budget is its ``training.epochs``).
RUN_FIELDS = ("dataset", "loss", "latent_dim", "seed")
#: The grid coordinates of a run, as every study table names them, first in each row:
#: ``epochs`` is the training budget.
GRID_KEYS = ("dataset", "epochs", "loss", "latent_dim", "seed")


def grid_point(saved: dict[str, Any]) -> dict[str, Any]:
    """The grid coordinates (:data:`GRID_KEYS`) of a run's saved settings (its config.json,
    :meth:`RunConfig.training_dict`)."""
    point = {**{k: saved[k] for k in RUN_FIELDS}, "epochs": saved["training"]["epochs"]}
    return {k: point[k] for k in GRID_KEYS}

SECTIONS = {
    "data": DataConfig,
    "model": ModelConfig,
    "training": TrainingConfig,
    "evaluation": EvaluationConfig,
    "pictures": PicturesConfig,
}


def run_config(config: dict[str, Any], loss: str, latent_dim: int, seed: int,
               dataset: str = "mnist") -> RunConfig:
    """The RunConfig of one grid point from the workflow's (already validated) config dict,
    whose ``loss_variants`` define the loss, or from a run's saved settings, whose
    ``likelihood`` holds it resolved
    (:func:`vaestudy.core.rule_params.train_settings`, config.json)."""
    sections = {name: _build(cls, config.get(name), name) for name, cls in SECTIONS.items()}
    try:
        spec = (losses.from_saved(loss, config["likelihood"]) if "likelihood" in config
                else losses.resolve(loss, config.get("loss_variants")))
    except losses.LossError as err:
        raise ConfigError(str(err)) from None
    return RunConfig(dataset=dataset, loss=loss, latent_dim=int(latent_dim), seed=int(seed),
                     likelihood=spec, **sections)


def classifier_config(config: dict[str, Any]) -> ClassifierConfig:
    """The study's classifier settings from the workflow's config dict."""
    return _build(ClassifierConfig, config.get("classifier"), "classifier")
