"""The work of each workflow job, called by the thin scripts in ``workflow/scripts``.

Each function takes plain paths and values (no Snakemake objects) so that it can be run and
tested without Snakemake. Files are written to a temporary name and renamed into place, so a
killed job never leaves a complete-looking but half-written output.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vaestudy import runtime
from vaestudy.config import RunConfig, load_run_config, run_config


@contextlib.contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` (same suffix); rename it onto ``target`` only
    if the block succeeds, otherwise remove it."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.tmp-{os.getpid()}{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(path: Path | str, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")


def _load_data(cfg: RunConfig):
    from vaestudy.data import load_split

    d = cfg.data
    return load_split(d.dir, d.validation_size, d.split_seed, d.binarization,
                      d.eval_binarization_seed, d.train_subset, d.test_subset)


def train_job(config: dict, loss: str, latent: int, seed: int, out: dict, threads: int,
              log: str | None) -> None:
    """Train one grid point; ``out`` maps encoder, decoder, history, summary, config and
    epoch_samples to their paths."""
    runtime.configure(threads, seed)
    from vaestudy.train import train

    logger = runtime.job_logger(log)
    cfg = run_config(config, loss, latent, seed)
    logger.info("run config: %s", json.dumps(cfg.to_dict()))
    result = train(cfg, _load_data(cfg), logger)
    for name, model in (("encoder", result.encoder), ("decoder", result.decoder)):
        with atomic_path(out[name]) as tmp:
            model.save(tmp)
    with atomic_path(out["history"]) as tmp:
        result.history.to_csv(tmp, index=False)
    with atomic_path(out["epoch_samples"]) as tmp:
        np.save(tmp, result.epoch_samples)
    write_json(out["summary"], {"train_seconds": result.seconds,
                                "epochs_run": int(len(result.history)),
                                "best_epoch": result.best_epoch, "threads": threads})
    with atomic_path(out["config"]) as tmp:
        cfg.save(tmp)
    logger.info("done in %.1f s; best epoch %d", result.seconds, result.best_epoch)


def evaluate_job(run_dir: str, out_metrics: str, threads: int, log: str | None) -> None:
    """Evaluate a trained run on the test set and write its metrics JSON."""
    cfg = load_run_config(Path(run_dir) / "config.json")
    runtime.configure(threads, cfg.seed)
    from vaestudy.evaluate import evaluate, load_models

    logger = runtime.job_logger(log)
    metrics = evaluate(*load_models(run_dir), cfg, _load_data(cfg))
    write_json(out_metrics, metrics)
    logger.info("metrics: %s", json.dumps(metrics))


def figures_job(run_dir: str, out: dict, threads: int, log: str | None) -> None:
    """Write the pictures named in ``out`` (samples, reconstructions, manifold) of one run."""
    cfg = load_run_config(Path(run_dir) / "config.json")
    runtime.configure(threads, cfg.seed)
    from vaestudy import figures
    from vaestudy.evaluate import load_models, reconstruct
    from vaestudy.model import latent_grid_draws
    from vaestudy.train import decode_mean

    logger = runtime.job_logger(log)
    encoder, decoder = load_models(run_dir)
    fc = cfg.figures

    def samples():
        z = latent_grid_draws(cfg.latent_dim, fc.grid_size**2, fc.latent_seed)  # [n, L]
        return figures.tile(decode_mean(decoder, z, cfg), cols=fc.grid_size)

    def reconstructions():
        x = _load_data(cfg).x_test[: fc.n_reconstructions]  # the same digits in every run
        recon = reconstruct(encoder, decoder, x, cfg, batch_size=len(x))
        return figures.reconstruction_picture(x[..., 0], recon)

    draw = {"samples": samples, "reconstructions": reconstructions,
            "manifold": lambda: figures.manifold_picture(decoder, cfg)}
    for name, path in out.items():
        with atomic_path(path) as tmp:
            figures.save_png(tmp, draw[name]())
    logger.info("wrote %s", sorted(out))


def aggregate_job(metric_files: list[str], summary_files: list[str], history_files: list[str],
                  config_files: list[str], out_metrics: str, out_history: str) -> None:
    """Tidy study tables: ``metrics.csv`` (one row per run), ``history.csv`` (run x epoch)."""
    from vaestudy.aggregate import collect_histories, collect_metrics

    with atomic_path(out_metrics) as tmp:
        collect_metrics(metric_files, summary_files).to_csv(tmp, index=False)
    configs = [json.loads(Path(p).read_text()) for p in config_files]
    with atomic_path(out_history) as tmp:
        collect_histories(history_files, configs).to_csv(tmp, index=False)


def plots_job(metrics_csv: str, history_csv: str, out: dict) -> None:
    """The study's seaborn comparison plots (see :mod:`vaestudy.plots`)."""
    import pandas as pd

    from vaestudy import plots

    metrics, history = pd.read_csv(metrics_csv), pd.read_csv(history_csv)
    for name, draw, table in (("comparable", plots.plot_comparable, metrics),
                              ("own_elbo", plots.plot_own_elbo, metrics),
                              ("training", plots.plot_training_curves, history)):
        with atomic_path(out[name]) as tmp:
            draw(table, tmp)


def report_job(inputs: dict, image_files: list[str], config: dict, out_html: str) -> None:
    """Render the self-contained HTML report. ``inputs`` names the template, metrics (CSV),
    the plots (comparable, own_elbo, training), theory (Markdown) and theory_checks (CSV);
    ``image_files`` are per-run PNGs under ``.../loss~L/latent~D/seed~S/NAME.png``."""
    import pandas as pd
    import yaml

    from vaestudy import report
    from vaestudy.mathdoc import render_markdown

    metrics = pd.read_csv(inputs["metrics"])
    images: dict[tuple, dict[str, str]] = {}
    for path in map(Path, image_files):
        loss, latent, seed = (part.split("~", 1)[1] for part in path.parts[-4:-1])
        images.setdefault((loss, int(latent), int(seed)), {})[path.stem] = str(path)
    first = metrics.iloc[0]
    study = {**config["study"], "training": config["training"],
             "mse_sigma": config["likelihood"]["mse_sigma"],
             "n_train": int(first.n_train), "n_val": int(first.n_val),
             "test_split": first.split, "binarization": first.binarization,
             "elbo_samples": int(first.elbo_samples)}
    theory = {"html": render_markdown(inputs["theory"]),
              "checks": pd.read_csv(inputs["theory_checks"])}
    plots = {name: inputs[name] for name in ("comparable", "own_elbo", "training")}
    html = report.render(inputs["template"], metrics, plots, images,
                         yaml.safe_dump(config, sort_keys=False), study, theory)
    with atomic_path(out_html) as tmp:
        tmp.write_text(html)
