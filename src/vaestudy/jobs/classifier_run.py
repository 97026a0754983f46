"""The training job of a dataset's classifier (the measuring tool of the sample metrics), and
what it writes: kept and restored like a VAE run's outputs (:mod:`vaestudy.jobs.training_run`),
and trained once per machine (:mod:`vaestudy.jobs.machine_cache`): its key is its settings,
the checksums of the data and the code, never the study's folders.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from vaestudy.core import layout
from vaestudy.core.atomic import atomic_path, write_json
from vaestudy.core.config import DataConfig, classifier_config
from vaestudy.core.provenance import code_version
from vaestudy.jobs import machine_cache, runtime, usage


def classifier_key(settings: dict, manifest: dict) -> dict:
    """What the classifier's outputs depend on: its settings (the data folder left out), the
    SHA-256 of each data file (``manifest``: :func:`vaestudy.core.fetch.prepare`'s) and the
    code version. Two studies with equal keys train the same classifier."""
    data = {k: v for k, v in settings["data"].items() if k != "dir"}
    files = {name: f["sha256_decompressed"] for name, f in sorted(manifest["files"].items())}
    return {**settings, "data": data, "data_files": files, "code": code_version()}


def train_classifier_run(settings: dict, manifest: dict, model: str, summary: str,
                         logger: logging.Logger, threads: int = 1, gpus: int = 0,
                         features: str | None = None, log: str | None = None) -> None:
    """Train the classifier of one dataset (digits or garments) with ``settings``
    (:func:`vaestudy.core.rule_params.classifier_settings`, its data folder filled in) on the
    grayscale training split of the data ``manifest`` describes; write the ``model`` and a
    ``summary`` with its accuracy on the validation split and on the test set (it is a
    measuring tool, not a study result) and, with ``features``, its features of the test
    images (.npy), which every evaluation of the dataset compares samples with. One process
    at a time; the outputs are restored instead of trained when this study kept them or
    another study of this machine trained them with the same :func:`classifier_key`."""
    out = {"model": model, "summary": summary, **({"features": features} if features else {})}
    key = classifier_key(settings, manifest)
    with runtime.exclusive(Path(model).parent / layout.LOCK, "training of the classifier"):
        found = machine_cache.restored(out, key, "classifier", "training of the classifier",
                                       logger)
        if found == "study":
            usage.log_restored_work(summary, logger)
            return
        if found is None:
            _train_and_write(settings, out, threads, gpus, logger)
        machine_cache.keep(out, key, "classifier", log)


def _train_and_write(settings: dict, out: dict[str, str], threads: int, gpus: int,
                     logger: logging.Logger) -> None:
    """Train the classifier and write its outputs ``out`` (model, summary, features)."""
    cc = classifier_config(settings)
    logger.info("device: %s", runtime.configure(threads, cc.seed, gpus))
    from vaestudy.evaluation.classifier import features_and_predictions, train_classifier

    t0 = time.perf_counter()
    data = DataConfig(**settings["data"]).load("none", settings["dataset"])
    net, history = train_classifier(data.x_train, data.y_train, data.x_val_gray,
                                    data.y_val, cc.epochs, cc.seed)
    feats, preds = features_and_predictions(net, data.x_test_gray)  # [n_test, 128], [n]
    result = {"test_accuracy": float((preds == data.y_test).mean()),
              "val_accuracy": history["val_accuracy"][-1], "epochs": cc.epochs,
              "n_train": len(data.x_train), "n_test": len(data.x_test_gray),
              "seconds": time.perf_counter() - t0, "history": history}
    with atomic_path(out["model"]) as tmp:
        net.save(tmp)
    if "features" in out:
        with atomic_path(out["features"]) as tmp, open(tmp, "wb") as f:
            np.save(f, feats)
    result["work"] = usage.total_work([usage.usage()])
    write_json(out["summary"], result)
    logger.info("classifier: test accuracy %.4f", result["test_accuracy"])
    logger.info(usage.work_line(result["work"]))
