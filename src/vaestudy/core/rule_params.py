"""What each rule passes in its ``params``: exactly the settings its jobs read, sliced from
the workflow's config. Snakemake re-runs a job when its params change, so a setting that a
rule does not read must not be in them (a change of an evaluation setting never re-trains).
Used by the rules only (and by :meth:`vaestudy.core.config.RunConfig.training_dict`, which
saves a run's settings in the same shape)."""

from __future__ import annotations

import dataclasses
from typing import Any

from vaestudy.core import losses
from vaestudy.core.datasets import SPLIT_SIZES

#: The ``pictures`` keys that training reads: the fixed prior draws decoded after every epoch
#: (the training GIF) are the first ``grid_size``² draws of ``latent_seed``.
EPOCH_SAMPLE_KEYS = ("latent_seed", "grid_size")


def train_settings(config: dict[str, Any], loss: str, epochs: int) -> dict[str, Any]:
    """Exactly the settings a training run of ``loss`` for ``epochs`` epochs (a budget of the
    grid's ``study.epochs``) reads (the ``train`` rule's params: a change to any of them
    re-trains, a change to anything else, another loss's variant included, does not). The test
    subset is left out: training never sees the test set."""
    spec = losses.resolve(loss, config.get("loss_variants"))
    training = {**config["training"], "epochs": int(epochs)}
    return training_sections({**config, "training": training}, dataclasses.asdict(spec))


def training_sections(config: dict[str, Any], likelihood: dict[str, Any]) -> dict[str, Any]:
    """The sections of a run's settings that training reads, from the workflow's config with
    its run's ``training.epochs`` (or from a saved config.json)."""
    # where the data lives is not a setting of the run (the payloads are verified); the folder
    # of this workflow run is filled in from the manifest (with_data_dir)
    data = {k: v for k, v in config["data"].items() if k not in ("test_subset", "dirs", "dir")}
    pictures = {k: config["pictures"][k] for k in EPOCH_SAMPLE_KEYS}
    return {"data": data, "model": config["model"], "likelihood": likelihood,
            "training": config["training"], "pictures": pictures}


def continued_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """A run's settings without its budget (``training.epochs``): what a run must share with
    the run of a shorter budget whose final state it continues (the fingerprint of a
    checkpoint, :func:`vaestudy.vae.checkpoint.config_hash`)."""
    training = {k: v for k, v in settings["training"].items() if k != "epochs"}
    return {**settings, "training": training}


#: The keys of an entry of ``evaluation.overrides`` that choose its runs (a list each; left
#: out: every value), and the run's grid coordinate each one lists.
OVERRIDE_SELECTORS = {"datasets": "dataset", "losses": "loss", "epochs": "epochs"}


def evaluation_settings(config: dict[str, Any], dataset: str, loss: str,
                        epochs: int) -> dict[str, Any]:
    """The settings of the ``evaluate`` job of the run of ``dataset``, ``loss`` and budget
    ``epochs`` beyond the trained run: its own section, with the estimator settings of every
    entry of ``evaluation.overrides`` that selects the run (in order: a later entry wins),
    and the size of the test set. The overrides list itself is left out, so a run that no
    entry selects has the params it had without one (it is not evaluated again)."""
    section = {k: v for k, v in config["evaluation"].items() if k != "overrides"}
    run = {"dataset": dataset, "loss": loss, "epochs": int(epochs)}
    for entry in config["evaluation"].get("overrides", []):
        if all(run[key] in entry[name] for name, key in OVERRIDE_SELECTORS.items()
               if name in entry):
            section.update({k: v for k, v in entry.items() if k not in OVERRIDE_SELECTORS})
    return {"evaluation": section, "test_subset": config["data"]["test_subset"]}


def log_px_decodes(config: dict[str, Any], dataset: str, loss: str, epochs: int) -> int:
    """The decodes of the log-likelihood estimate of one run's evaluation: K x its images
    (``iwae_images``, 0 meaning all, at most the test images there are), what its job's
    runtime grows with (workflow/rules/common.smk)."""
    ev = evaluation_settings(config, dataset, loss, epochs)["evaluation"]
    there = config["data"]["test_subset"] or SPLIT_SIZES["test"]
    return ev["iwae_samples"] * min(ev["iwae_images"] or there, there)


def picture_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The settings of the per-run picture rules beyond the trained run."""
    return {"pictures": config["pictures"],
            "evaluation": {"batch_size": config["evaluation"]["batch_size"]},
            "test_subset": config["data"]["test_subset"]}


def classifier_settings(config: dict[str, Any], dataset: str) -> dict[str, Any]:
    """The settings of the classifier of ``dataset``: its own section and the split it learns
    from (binarization and representation are the VAEs' business, not the classifier's)."""
    keys = ("validation_size", "split_seed", "train_subset", "test_subset")
    return {"dataset": dataset, "data": {k: config["data"][k] for k in keys},
            "classifier": config["classifier"]}
