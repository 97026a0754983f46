"""Study-level tables with pandas: one tidy row per run (metrics) and per run x epoch
(training history)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from vaestudy.core.atomic import atomic_path
from vaestudy.core.config import GRID_KEYS, grid_point

#: The grid coordinates that identify a run, first in every table.
KEYS = list(GRID_KEYS)

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
#: What the KL weight of a squared error moves, in the order the report shows it, and the
#: short names the sentences and the plot of that mechanism use.
MECHANISM = ("test_kl", "active_units", "recon_mse", "fid_classifier")
SHORT = {"test_kl": "KL per image (nats)", "active_units": "active units",
         "recon_mse": "reconstruction MSE per pixel", "fid_classifier": "Fréchet distance",
         "recon_accuracy": "classifier accuracy on reconstructions",
         "knn_accuracy": "k-NN accuracy on latent means"}
#: Comparable among the likelihoods of the 8-bit levels only (an exact probability of the
#: same discrete test images, docs/theory.md Section 7): never with a mass on binarized
#: images, nor with the bound of a density on dequantized levels (``bits_per_dim_bound``).
DENSITY = {"bits_per_dim": ("bits/dim of the 8-bit test images, exact discrete likelihood "
                            "(lower is better)", False)}
#: The label of every metric the paired comparisons test (the sentences and tables).
LABELS = {k: label for k, (label, _) in {**COMPARABLE, **DENSITY}.items()}


def collect_metrics(metric_files: Iterable[Path | str], train_files: Iterable[Path | str]) -> pd.DataFrame:
    """One row per evaluated (trained) run: its evaluation JSON joined with the training
    summary JSON in the same run folder (scalar values only; per-dimension lists and the
    settings stay in each run's metrics.json). No run trained: no rows, the key and
    comparable columns."""
    summaries = {Path(p).parent: p for p in train_files}
    rows = []
    for metrics in map(Path, metric_files):
        # the evaluation's values win: the summary's scale is 1 for non-Gaussian losses
        row = json.loads(Path(summaries[metrics.parent]).read_text())
        row.update(json.loads(metrics.read_text()))
        rows.append({k: v for k, v in row.items() if not isinstance(v, (list, dict))})
    if not rows:  # every run diverged
        return pd.DataFrame(columns=KEYS + list(COMPARABLE))
    table = pd.DataFrame(rows)
    return table[KEYS + [c for c in table.columns if c not in KEYS]].sort_values(KEYS)


def collect_runs(train_files: Iterable[Path | str],
                 config_files: Iterable[Path | str]) -> pd.DataFrame:
    """One row per run of the grid with its training status (``trained`` or ``diverged``),
    the epochs it trained (``stopped_early_at``: the epoch where early stopping ended it
    before its budget), where a diverged run stopped, and the code it was trained with."""
    rows = []
    for summary_path, config_path in zip(train_files, config_files, strict=True):
        summary, cfg = (json.loads(Path(p).read_text()) for p in (summary_path, config_path))
        where = summary.get("diverged_at") or {}
        rows.append({**grid_point(cfg), "status": summary["status"],
                     "epochs_run": summary["epochs_run"],
                     "stopped_early_at": summary.get("stopped_early_at"),
                     "diverged_epoch": where.get("epoch"),
                     "diverged_step": where.get("step"),
                     "last_finite_losses": summary.get("last_finite_losses"),
                     "train_code": summary.get("train_code")})
    return pd.DataFrame(rows).sort_values(KEYS)


def _history(path: Path | str) -> pd.DataFrame:
    """A run's history, empty when the run diverged before finishing an epoch."""
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def collect_histories(history_files: Iterable[Path | str], configs: Iterable[dict]) -> pd.DataFrame:
    """All training histories stacked, each tagged with its run's grid coordinates (no rows
    when no run finished an epoch)."""
    frames = [_history(path).assign(**grid_point(cfg))
              for path, cfg in zip(history_files, configs, strict=True)]
    frames = [f for f in frames if "epoch" in f]
    if not frames:
        return pd.DataFrame(columns=KEYS + ["epoch"])
    table = pd.concat(frames, ignore_index=True)
    return table[KEYS + [c for c in table.columns if c not in KEYS]]


def write_tables(metric_files: list[str], summary_files: list[str], history_files: list[str],
                 config_files: list[str], out: dict[str, str]) -> None:
    """The tidy study tables (CSV) named in ``out``: ``metrics`` (one row per evaluated run),
    ``runs`` (every run of the grid with its training status), ``history`` (run x epoch) and
    ``comparisons`` (paired tests between losses of the metrics comparable across them;
    diverged runs have no metrics, so the tests pair the runs trained under both losses)."""
    from vaestudy.analysis.stats import paired_comparisons

    with atomic_path(out["runs"]) as tmp:
        collect_runs(summary_files, config_files).to_csv(tmp, index=False)
    metrics = collect_metrics(metric_files, summary_files)
    with atomic_path(out["metrics"]) as tmp:
        metrics.to_csv(tmp, index=False)
    with atomic_path(out["comparisons"]) as tmp:
        paired_comparisons(metrics, list(COMPARABLE) + list(DENSITY),
                           estimated=tuple(DENSITY)).to_csv(tmp, index=False)
    configs = [json.loads(Path(p).read_text()) for p in config_files]
    with atomic_path(out["history"]) as tmp:
        collect_histories(history_files, configs).to_csv(tmp, index=False)
