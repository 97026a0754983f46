"""A trained run's config as the jobs after training read it: the saved ``config.json`` with
the current settings of the rule that reads it (evaluation, pictures, test subset) and the data
folder of this workflow run. Used by the workflow's scripts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from vaestudy.core.config import (
    RUN_FIELDS,
    EvaluationConfig,
    PicturesConfig,
    RunConfig,
    _build,
    run_config,
)


def with_settings(cfg: RunConfig, evaluation: dict | None = None, pictures: dict | None = None,
                  test_subset: int | None = None) -> RunConfig:
    """``cfg`` (a trained run's config) with the current evaluation or picture settings: the
    rules after training take these from the workflow's config, not from the run's
    ``config.json``, so that changing them never re-trains."""
    changes: dict[str, Any] = {}
    if evaluation is not None:
        changes["evaluation"] = _build(EvaluationConfig, evaluation, "evaluation")
    if pictures is not None:
        changes["pictures"] = _build(PicturesConfig, pictures, "pictures")
    if test_subset is not None:
        changes["data"] = dataclasses.replace(cfg.data, test_subset=test_subset)
    return dataclasses.replace(cfg, **changes)


def load_run_config(path: Path | str) -> RunConfig:
    """Read a ``config.json`` written by :meth:`RunConfig.save`."""
    raw = json.loads(Path(path).read_text())
    grid = {k: raw.pop(k) for k in RUN_FIELDS}
    return run_config(raw, grid["loss"], grid["latent_dim"], grid["seed"], grid["dataset"])


def with_data_dir(settings: dict[str, Any], data_dir: str) -> dict[str, Any]:
    """A rule's ``settings`` with the data folder of this workflow run (the manifest's)."""
    return {**settings, "data": {**settings["data"], "dir": data_dir}}


def load_trained_run(path: Path | str, settings: dict[str, Any], data_dir: str) -> RunConfig:
    """The saved config (``config.json``) of a trained run with the current ``settings`` of
    the rule that reads it (:func:`with_settings`) and the data folder ``data_dir``."""
    cfg = with_settings(load_run_config(path), **settings)
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, dir=data_dir))
