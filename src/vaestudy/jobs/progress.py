"""Where a running or finished study stands: one row per training run, read from its files.

A study runs for hours (locally or on SLURM); this answers "how far is it, how long is left?"
without TensorFlow or touching the jobs, reading only what each run writes into
``<output_dir>/runs/dataset~N/epochs~E/loss~L/latent~D/seed~S/``: ``config.json`` when training
starts (``training.epochs`` = E, the run's budget: the maximum number of epochs; a longer
budget starts from the shorter one's last epoch), ``history.csv`` after every epoch,
``train_summary.json`` when training ends (``status`` trained or diverged), ``metrics.json``
once evaluated.

Files may be replaced while they are read: a missing, empty or half-written file counts as not
there yet, never as a crash. The ``.train.lock`` file is not read (it may be a stale leftover).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from vaestudy.core import layout
from vaestudy.core.layout import METRICS, TRAIN_FILES, RunKey

STATES = ("pending", "training", "trained", "diverged", "evaluated")
COLUMNS = ["dataset", "epochs", "loss", "latent", "seed", "state", "epoch", "of", "val_neg_elbo",
           "best_val_neg_elbo", "sec_per_epoch", "eta_s"]
NO_STUDY = "no study at {}: run snakemake first or pass the output_dir"


def _read_json(path: Path) -> dict | None:
    """The JSON dict at ``path``, or None when it is missing or being written."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _read_history(path: Path) -> pd.DataFrame:
    """The per-epoch history; empty when missing, empty or unreadable (being replaced)."""
    try:
        history = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return pd.DataFrame()
    # a line cut short (file being written) lacks its last column: not an epoch done
    return history[history.iloc[:, -1].notna()] if len(history.columns) else history


def _column(history: pd.DataFrame, name: str) -> pd.Series:
    """Column ``name`` as floats (NaN for unparseable values), empty when absent."""
    return pd.to_numeric(history[name], errors="coerce") if name in history else pd.Series()


def _state(run_dir: Path, config: dict | None, summary: dict | None) -> str:
    """One of STATES from which files exist (see the module docstring)."""
    if config is None:
        return "pending"
    if summary is None:
        return "training"
    if summary.get("status") == "diverged":
        return "diverged"
    return "evaluated" if (run_dir / METRICS).is_file() else "trained"


def run_row(run_dir: Path, dataset: str, epochs: int, loss: str, latent: int,
            seed: int) -> dict[str, Any]:
    """The table row of one run directory (which need not exist yet) of the budget ``epochs``."""
    config = _read_json(run_dir / TRAIN_FILES["config"])
    state = _state(run_dir, config, _read_json(run_dir / TRAIN_FILES["summary"]))
    history = _read_history(run_dir / TRAIN_FILES["history"]) if config else pd.DataFrame()
    done = len(history)
    of = (config or {}).get("training", {}).get("epochs", int(epochs))
    val, seconds = _column(history, "val_neg_elbo"), _column(history, "seconds")
    sec_per_epoch = seconds.mean() if seconds.notna().any() else math.nan
    if state == "training":
        eta = sec_per_epoch * max(of - done, 0) if done and of is not None else math.nan
    else:
        eta = math.nan if state == "pending" else 0.0
    return {"dataset": dataset, "epochs": int(epochs), "loss": loss, "latent": int(latent),
            "seed": int(seed), "state": state,
            "epoch": done, "of": of, "val_neg_elbo": val.iloc[-1] if done else math.nan,
            "best_val_neg_elbo": val.min() if val.notna().any() else math.nan,
            "sec_per_epoch": sec_per_epoch, "eta_s": eta}


def progress_table(output_dir: Path | str, grid: dict | None = None) -> pd.DataFrame:
    """One row per run (COLUMNS), sorted by dataset, budget, loss, latent, seed.

    ``grid`` (keys ``datasets`` (default: mnist), ``epochs``, ``losses``, ``latent_dims``,
    ``seeds``) adds its missing points as ``pending`` (of their budget's epochs); runs found on
    disk outside the grid are listed as well."""
    output_dir = Path(output_dir)
    points = set(layout.find_runs(output_dir))
    if grid:
        axes = (grid.get("datasets", ["mnist"]), grid["epochs"], grid["losses"],
                grid["latent_dims"], grid["seeds"])
        points |= {RunKey(str(dataset), int(epochs), str(loss), int(latent), int(seed))
                   for dataset, epochs, loss, latent, seed in itertools.product(*axes)}
    rows = [run_row(Path(layout.run_dir(output_dir, layout.run_key(*key))), *key)
            for key in sorted(points)]
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["of"] = table["of"].astype("Int64")
    return table.astype({"epochs": int, "latent": int, "seed": int, "epoch": int})


def _starts(table: pd.DataFrame) -> pd.Series:
    """The epochs each run has behind it: its own, or for a run not started yet the next
    shorter budget of its grid point in ``table`` (whose final state it continues)."""
    point = ["dataset", "loss", "latent", "seed"]
    shorter = table.sort_values("epochs").groupby(point)["epochs"].shift().fillna(0)
    return table["epoch"].where(table["epoch"] > 0, shorter.reindex(table.index))


def format_duration(seconds: float) -> str:
    """``45 s``, ``3 min 20 s``, ``2 h 05 min``; ``-`` when unknown (NaN)."""
    if seconds is None or pd.isna(seconds):
        return "-"
    if (s := int(round(seconds))) < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def format_table(table: pd.DataFrame) -> str:
    """The table as text: 2 decimals, ``-`` for unknown values, eta only while training."""
    shown = table.copy().astype(object)
    for name in ("val_neg_elbo", "best_val_neg_elbo", "sec_per_epoch"):
        shown[name] = [("-" if pd.isna(v) else f"{v:.2f}") for v in table[name]]
    shown["of"] = ["-" if pd.isna(v) else str(v) for v in table["of"]]
    shown["eta_s"] = [format_duration(eta) if state == "training" else "-"
                      for state, eta in zip(table["state"], table["eta_s"])]
    return shown.rename(columns={"eta_s": "eta"}).to_string(index=False)


def summary_line(table: pd.DataFrame) -> str:
    """Counts per state, the summed remaining epoch time of the runs in training, and what is
    left of the whole grid's training at the seconds per epoch measured in this study.

    Why measured here: an epoch's time differs several-fold between CPU classes
    (docs/performance.md, "Time per CPU class"), so only this machine's own epochs predict
    its remaining time; a pending run counts its budget (``of``) less the shorter budget it
    continues (early stopping can end it sooner), and jobs running side by side share the
    job time."""
    counts = table["state"].value_counts()
    states = ", ".join(f"{int(counts.get(s, 0))} {s}" for s in STATES)
    training = table[table["state"] == "training"]
    unknown = int(training["eta_s"].isna().sum())
    line = (f"{len(table)} runs: {states}; sum of remaining epoch time of the runs in "
            f"training: {format_duration(training['eta_s'].sum())}")
    line += f" (+ {unknown} without a finished epoch yet)" if unknown else ""
    left = table[table["state"].isin(["pending", "training"])]
    if left.empty:
        return line
    timed = table[table["sec_per_epoch"].notna()]
    if timed.empty or left["of"].isna().any():
        return line + f"; {len(left)} runs left to train, no time estimate yet"
    epochs_left = int((left["of"].astype(float) - _starts(table)[left.index]).clip(lower=0).sum())
    per_epoch = (timed["sec_per_epoch"] * timed["epoch"]).sum() / timed["epoch"].sum()
    return (line + f"; left to train: at most {epochs_left} epochs of {len(left)} runs, "
            f"{format_duration(epochs_left * per_epoch)} of job time at the "
            f"{per_epoch:.1f} s per epoch measured in this study (jobs side by side share it)")


def _merge(base: dict, override: dict) -> dict:
    """``override`` merged into ``base``, nested dicts key by key (later files win)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = _merge(merged[key], value)
        merged[key] = value
    return merged


def load_config(files: list[Path]) -> dict:
    """The merged YAML config files, as Snakemake's ``--configfile`` would merge them."""
    config: dict = {}
    for f in files:
        config = _merge(config, yaml.safe_load(Path(f).read_text()) or {})
    return config


def _grid(config: dict) -> dict | None:
    """The study grid of a config (``study.epochs/losses/latent_dims/seeds``, and
    ``datasets`` when it names them), None without one."""
    study, keys = config.get("study") or {}, ("epochs", "losses", "latent_dims", "seeds")
    if not all(k in study for k in keys):
        return None
    return {k: study[k] for k in ("datasets", *keys) if k in study}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: ``[OUTPUT_DIR] [--config FILE ...]``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("output_dir", type=Path, nargs="?",
                   help="the study's output_dir (default: the config's, else results)")
    p.add_argument("--config", type=Path, nargs="+", action="extend", default=[],
                   help="the study's YAML config file(s), later ones override earlier ones")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Print the progress table and its summary; 2 when there is no study to report on."""
    args = parse_args(argv)
    for missing in [f for f in args.config if not f.is_file()][:1]:
        print(f"no config file {missing}", file=sys.stderr)
        return 2
    config = load_config(args.config)
    output_dir = args.output_dir or Path(config.get("output_dir", "results"))
    if not output_dir.is_dir():
        print(NO_STUDY.format(output_dir), file=sys.stderr)
        return 2
    table = progress_table(output_dir, _grid(config))
    print(format_table(table) if len(table) else f"no runs under {output_dir / layout.RUNS} yet")
    print(summary_line(table))
    return 0
