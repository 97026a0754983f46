"""Study-level tables with pandas: one tidy row per run (metrics) and per run x epoch
(training history)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

#: The grid coordinates that identify a run, first in every table.
KEYS = ["loss", "latent_dim", "seed"]

#: Metrics comparable across likelihoods -> (label, True if higher is better).
COMPARABLE = {
    "fid_classifier": ("Fréchet distance of samples (classifier features)", False),
    "class_entropy": ("entropy of the samples' predicted classes (nats)", True),
    "recon_accuracy": ("classifier accuracy on reconstructions", True),
    "recon_mse": ("reconstruction MSE per pixel (vs grayscale test)", False),
    "recon_bce": ("reconstruction BCE, nats/image (vs grayscale test)", False),
    "knn_accuracy": ("k-NN accuracy on latent means", True),
    "active_units": ("active latent units", True),
    "test_kl": ("KL(q(z|x) || p(z)), nats/image", None),
}


def collect_metrics(metric_files: Iterable[Path | str], train_files: Iterable[Path | str]) -> pd.DataFrame:
    """One row per run: the evaluation JSON joined with the training summary JSON (scalar
    values only; per-dimension lists stay in each run's metrics.json)."""
    rows = []
    for metrics, summary in zip(metric_files, train_files, strict=True):
        row = json.loads(Path(metrics).read_text())
        row.update(json.loads(Path(summary).read_text()))
        rows.append({k: v for k, v in row.items() if not isinstance(v, (list, dict))})
    table = pd.DataFrame(rows)
    return table[KEYS + [c for c in table.columns if c not in KEYS]].sort_values(KEYS)


def collect_histories(history_files: Iterable[Path | str], configs: Iterable[dict]) -> pd.DataFrame:
    """All training histories stacked, each tagged with its run's grid coordinates."""
    frames = [pd.read_csv(path).assign(**{k: cfg[k] for k in KEYS})
              for path, cfg in zip(history_files, configs, strict=True)]
    table = pd.concat(frames, ignore_index=True)
    return table[KEYS + [c for c in table.columns if c not in KEYS]]
