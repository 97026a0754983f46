"""The work of each workflow job: one function per rule, called by the rule's script in
``workflow/scripts`` with the rule's inputs, outputs and params by name.

Each function takes the paths the rule declares and plain values (no Snakemake objects, no
file names rebuilt here), so that it can be run and tested without Snakemake. Files are
written through :mod:`vaestudy.files`, so a killed job never leaves a complete-looking but
half-written output.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np

from vaestudy import finished, layout, runtime
from vaestudy.config import (DataConfig, RunConfig, load_run_config, run_config,
                             with_settings)
from vaestudy.files import atomic_path, write_json
from vaestudy.provenance import code_version


def data_dir(manifest: Path | str) -> str:
    """The verified MNIST folder, as recorded by ``prepare_data`` in its manifest."""
    return json.loads(Path(manifest).read_text())["dir"]


def train_job(*, settings: dict, manifest: str, loss: str, latent: int, seed: int, out: dict,
              threads: int, gpus: int = 0, log: str | None = None) -> None:
    """Train one grid point with ``settings`` (:func:`vaestudy.config.train_settings`).
    ``out`` maps model (a folder), history, summary, config and epoch_samples to their paths
    (the rule's outputs); the checkpoint and the lock go beside them. ``config`` is written
    first and again with the other outputs, ``history`` after every epoch (progress files).
    A run that diverges writes its status and history and an empty model folder. The finished
    outputs are kept (:mod:`vaestudy.finished`): the job started again with the same settings
    and code (Snakemake interrupted after the training ended) restores them, training
    nothing."""
    settings = {**settings, "data": {**settings["data"], "dir": data_dir(manifest)}}
    run = Path(out["config"]).parent
    with runtime.logged(log) as logger, \
            runtime.exclusive(run / layout.LOCK, f"training of {run}"):
        cfg = run_config(settings, loss, latent, seed)
        key = {**cfg.training_dict(), "code": code_version()}
        if _restored(out, key, f"training of {run}", logger):
            return
        logger.info("device: %s", runtime.configure(threads, seed, gpus))
        logger.info("run config: %s", json.dumps(cfg.training_dict()))
        _write_config(cfg, out["config"])
        _train_and_write(cfg, out, threads, logger)
        _write_config(cfg, out["config"])  # again: a second Snakemake may have deleted it
        finished.keep(out, key)
        (run / layout.CHECKPOINT).unlink(missing_ok=True)  # every output is complete and kept


def _train_and_write(cfg: RunConfig, out: dict, threads: int, logger) -> None:
    """Train the run of ``cfg`` (resuming from its checkpoint beside ``out``; SIGTERM saves
    the position and stops) and write the outputs of the trained or diverged run."""
    from vaestudy.train import NonFiniteLossError, train

    write_history = functools.partial(_write_history, out["history"])
    with runtime.stop_on_sigterm() as stopped:
        try:
            result = train(cfg, cfg.data.load(cfg.binarization), logger,
                           Path(out["config"]).parent / layout.CHECKPOINT,
                           should_stop=stopped, on_epoch=write_history)
        except NonFiniteLossError as err:
            logger.error("diverged: %s", err)
            _write_diverged(err, out, threads)
            return
    _write_trained(result, out, threads)
    logger.info("done in %.1f s; best epoch %d", result.seconds, result.best_epoch)


def _write_config(cfg: RunConfig, path: str) -> None:
    with atomic_path(path) as tmp:
        cfg.save(tmp)


def _restored(out: dict, key: dict, what: str, logger) -> bool:
    """Whether the outputs ``out`` of a training were kept by an earlier job with the same
    ``key`` (:func:`vaestudy.finished.restore`) and are back in place (said in the log)."""
    if not finished.restore(out, key):
        return False
    logger.info("%s had finished with these settings and code: its outputs are restored "
                "from %s, nothing is trained (Snakemake ran the job again: it was interrupted "
                "before it recorded the job as done, --forcerun, or an output was deleted)",
                what, finished.folder(out))
    return True


def _write_history(path: str, history) -> None:
    with atomic_path(path) as tmp:
        history.to_csv(tmp, index=False)


def _write_trained(result, out: dict, threads: int) -> None:
    model_dir = Path(out["model"])
    for name, model in (("encoder", result.encoder), ("decoder", result.decoder)):
        with atomic_path(model_dir / f"{name}.keras") as tmp:
            model.save(tmp)
    _write_run(out, result.history, result.epoch_samples, threads, status="trained",
               train_seconds=result.seconds, sigma=result.sigma, best_epoch=result.best_epoch)


def _write_diverged(err, out: dict, threads: int) -> None:
    """The result of a diverged run: where it diverged, its last finite losses and the
    epochs it finished; no models (the model folder stays empty)."""
    Path(out["model"]).mkdir(parents=True, exist_ok=True)
    samples = np.stack(err.samples) if err.samples else np.zeros((0, 0, 28, 28), np.uint8)
    _write_run(out, err.history, samples, threads, status="diverged",
               diverged_at={"epoch": err.epoch, "step": err.step},
               last_finite_losses=err.last_finite, message=str(err), best_epoch=None,
               sigma=None)


def _write_run(out: dict, history, epoch_samples: np.ndarray, threads: int, **summary) -> None:
    """The outputs every finished training writes: history, per-epoch samples and the
    summary (``summary`` plus epochs, threads and the code version)."""
    _write_history(out["history"], history)
    with atomic_path(out["epoch_samples"]) as tmp:
        np.save(tmp, epoch_samples)
    write_json(out["summary"], {**summary, "epochs_run": int(len(history)), "threads": threads,
                                "train_code": code_version()})


def _trained_run(config: str, manifest: str, settings: dict) -> RunConfig:
    """The saved config of a trained run with the current settings of the rule that reads it
    and the data folder of this workflow run."""
    cfg = with_settings(load_run_config(config), **settings)
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, dir=data_dir(manifest)))


def evaluate_job(*, model: str, config: str, summary: str, manifest: str, classifier: str,
                 settings: dict, metrics: str, threads: int, gpus: int = 0,
                 log: str | None = None) -> None:
    """Evaluate the trained run of ``model`` (its folder), ``config`` and ``summary`` on the
    test set with ``settings`` (:func:`vaestudy.config.evaluation_settings`) and write the
    ``metrics`` JSON (a diverged run has no model: the workflow evaluates trained runs only)."""
    sigma = json.loads(Path(summary).read_text())["sigma"]
    cfg = _trained_run(config, manifest, settings)
    with runtime.job(log, threads, cfg.seed, gpus) as logger:
        import keras

        from vaestudy.evaluate import evaluate, load_models

        digits = keras.models.load_model(classifier, compile=False)
        values = evaluate(*load_models(model), sigma, cfg,
                          cfg.data.load(cfg.binarization), digits)
        values.update(eval_code=code_version(), settings=settings)
        write_json(metrics, values)
        logger.info("metrics: %s", json.dumps(values))


def classifier_job(*, settings: dict, manifest: str, model: str, summary: str, threads: int,
                   gpus: int = 0, log: str | None = None) -> None:
    """Train the digit classifier with ``settings`` (:func:`vaestudy.config.classifier_settings`)
    on the grayscale training split; report its accuracy on the validation split and on the
    test set (it is a measuring tool, not a study result). One process at a time; finished
    outputs are kept and restored like a run's (:func:`train_job`)."""
    from vaestudy.config import classifier_config

    cc = classifier_config(settings)
    out = {"model": model, "summary": summary}
    key = {**settings, "data": {**settings["data"], "dir": data_dir(manifest)},
           "code": code_version()}
    lock = Path(model).parent / layout.LOCK
    with runtime.logged(log) as logger, runtime.exclusive(lock, "training of the classifier"):
        if _restored(out, key, "training of the classifier", logger):
            return
        logger.info("device: %s", runtime.configure(threads, cc.seed, gpus))
        import time

        from vaestudy.classifier import features_and_predictions, train_classifier

        t0 = time.perf_counter()
        d = DataConfig(**{**settings["data"], "dir": data_dir(manifest)})
        data = d.load("none")
        net, history = train_classifier(data.x_train, data.y_train, data.x_val_gray,
                                        data.y_val, cc.epochs, cc.seed)
        _, preds = features_and_predictions(net, data.x_test_gray)
        result = {"test_accuracy": float((preds == data.y_test).mean()),
                  "val_accuracy": history["val_accuracy"][-1], "epochs": cc.epochs,
                  "n_train": int(len(data.x_train)), "n_test": int(len(data.x_test_gray)),
                  "seconds": time.perf_counter() - t0, "history": history}
        with atomic_path(model) as tmp:
            net.save(tmp)
        write_json(summary, result)
        finished.keep(out, key)
        logger.info("classifier: test accuracy %.4f", result["test_accuracy"])


def figures_job(*, model: str, config: str, epoch_samples: str, metrics: str, manifest: str,
                settings: dict, out: dict, threads: int, log: str | None = None) -> None:
    """Write the pictures named in ``out`` (see :data:`vaestudy.pictures.NAMES`) of the
    trained run of ``model``, ``config`` and ``epoch_samples`` with ``settings``
    (:func:`vaestudy.config.figure_settings`), choosing latent dimensions by the KL per
    dimension in the run's ``metrics``."""
    cfg = _trained_run(config, manifest, settings)
    with runtime.job(log, threads, cfg.seed) as logger:
        from vaestudy.pictures import RunPictures

        logger.info("figure settings: %s", json.dumps(settings))
        kl_dims = json.loads(Path(metrics).read_text())["kl_per_dim"]
        pictures = RunPictures(model, epoch_samples, cfg,
                               cfg.data.load(cfg.binarization), kl_dims)
        for name, path in out.items():
            with atomic_path(path) as tmp:
                pictures.write(name, tmp)
        logger.info("wrote %s", sorted(out))


def aggregate_job(*, metric_files: list[str], summary_files: list[str],
                  history_files: list[str], config_files: list[str], out: dict) -> None:
    """Tidy study tables: ``metrics`` (one row per evaluated run), ``runs`` (every run of the
    grid with its training status), ``history`` (run x epoch) and ``comparisons`` (paired
    tests between losses of the metrics comparable across them; diverged runs have no
    metrics, so the tests pair the runs trained under both losses)."""
    from vaestudy.aggregate import COMPARABLE, collect_histories, collect_metrics, collect_runs
    from vaestudy.stats import paired_comparisons

    with atomic_path(out["runs"]) as tmp:
        collect_runs(summary_files, config_files).to_csv(tmp, index=False)
    metrics = collect_metrics(metric_files, summary_files)
    with atomic_path(out["metrics"]) as tmp:
        metrics.to_csv(tmp, index=False)
    with atomic_path(out["comparisons"]) as tmp:
        paired_comparisons(metrics, list(COMPARABLE)).to_csv(tmp, index=False)
    configs = [json.loads(Path(p).read_text()) for p in config_files]
    with atomic_path(out["history"]) as tmp:
        collect_histories(history_files, configs).to_csv(tmp, index=False)


def plots_job(*, metrics_csv: str, history_csv: str, out: dict) -> None:
    """The study's seaborn comparison plots (see :mod:`vaestudy.plots`); when every run
    diverged, each is a figure that says so."""
    import pandas as pd

    from vaestudy import plots
    from vaestudy.aggregate import COMPARABLE

    metrics, history = pd.read_csv(metrics_csv), pd.read_csv(history_csv)
    if metrics.empty:
        for path in out.values():
            with atomic_path(path) as tmp:
                plots.plot_nothing("Every run of the study diverged: nothing to plot.", tmp)
        return
    for name, draw, table in (("comparable", plots.plot_comparable, metrics),
                              ("loglik", plots.plot_log_likelihood, metrics),
                              ("training", plots.plot_training_curves, history)):
        with atomic_path(out[name]) as tmp:
            draw(table, tmp)
    with atomic_path(out["heatmap"]) as tmp:
        plots.plot_heatmap(metrics, "fid_classifier", COMPARABLE["fid_classifier"][0], tmp)


def side_by_side_job(*, pictures: list[str], latent: int, out: str) -> None:
    """One figure with the sample grids of every loss at latent size ``latent``; the paths
    are ``.../loss~L/latent~D/seed~S/samples.png``."""
    from vaestudy.plots import plot_side_by_side

    by_loss = {layout.parse_run_path(p).loss: p for p in pictures}
    with atomic_path(out) as tmp:
        plot_side_by_side(by_loss, f"latent size {latent}: the same prior draws decoded by "
                          f"each loss", tmp)


def report_job(*, inputs: dict, image_files: list[str], config: dict, out_html: str,
               execution: dict) -> None:
    """Render the self-contained HTML report. ``inputs`` names the template (and
    ``all_diverged``, the one of a study whose every run diverged), metrics (CSV),
    the plots (comparable, loglik, training, heatmap, side_by_side: one per latent size),
    theory (Markdown), theory_checks, comparisons and runs (CSV), classifier (JSON summary) and
    benchmarks (the Snakemake benchmark files of the jobs before the report);
    ``image_files`` are per-run PNGs under ``.../loss~L/latent~D/seed~S/NAME.png``;
    ``execution`` holds the run's ``cores`` (None on a cluster) and each rule's ``threads``."""
    import pandas as pd
    import yaml

    from vaestudy import costs, report
    from vaestudy.mathdoc import render_markdown

    metrics = pd.read_csv(inputs["metrics"])
    if metrics.empty:  # every run diverged: where, and what to change
        html = report.render_all_diverged(inputs["all_diverged"], pd.read_csv(inputs["runs"]),
                                          yaml.safe_dump(config, sort_keys=False), config)
        with atomic_path(out_html) as tmp:
            tmp.write_text(html)
        return
    images: dict[tuple, dict[str, str]] = {}
    for path in image_files:
        images.setdefault(tuple(layout.parse_run_path(path)), {})[
            layout.picture_name(path)] = str(path)
    first = metrics.iloc[0]
    study = {**config["study"], "training": config["training"],
             "n_train": int(first.n_train), "n_val": int(first.n_val),
             "test_split": first.split, "binarization": config["data"]["binarization"],
             "elbo_samples": int(first.elbo_samples), "iwae_samples": int(first.iwae_samples),
             "iwae_images": int(first.iwae_images), "n_generated": int(first.n_generated),
             "log_px_images": first.log_px_images_text, "n_test": int(first.n_test),
             "knn_k": config["evaluation"]["knn_k"]}
    theory = {"html": render_markdown(inputs["theory"]),
              "checks": pd.read_csv(inputs["theory_checks"])}
    plots = {name: inputs[name] for name in ("comparable", "loglik", "training", "heatmap")}
    plots.update({f"side_by_side_{layout.side_by_side_latent(p)}": p
                  for p in inputs["side_by_side"]})
    extra = {"theory": theory, "comparisons": pd.read_csv(inputs["comparisons"]),
             "runs": pd.read_csv(inputs["runs"]),
             "classifier": json.loads(Path(inputs["classifier"]).read_text())}
    jobs = costs.read_benchmarks(inputs["benchmarks"])
    extra["costs"] = {"rules": costs.rule_costs(jobs, execution["threads"]),
                      "efficiency": costs.efficiency(jobs, execution["threads"],
                                                     execution["cores"])}
    html = report.render(inputs["template"], metrics, plots, images,
                         yaml.safe_dump(config, sort_keys=False), study, extra)
    with atomic_path(out_html) as tmp:
        tmp.write_text(html)


def theory_job(*, table: str, log: str | None = None) -> None:
    """The numerical checks of docs/theory.md (:func:`vaestudy.theory.run_all`) as a CSV
    ``table``, written first; then the job fails if any check failed, so that the failure is
    visible (Snakemake removes a failed job's outputs; the log keeps the table)."""
    import pandas as pd

    from vaestudy.theory import run_all

    with runtime.logged(log) as logger:
        checks = pd.DataFrame(run_all(0), columns=["identity", "max_abs_error", "tolerance",
                                                   "passed"])
        with atomic_path(table) as tmp:
            checks.to_csv(tmp, index=False)
        logger.info("theory checks:\n%s", checks.to_string(index=False))
        failed = checks.loc[~checks["passed"], "identity"].tolist()
        if failed:
            raise RuntimeError(f"{len(failed)} theory check(s) failed: {failed}")
        logger.info("all %d theory checks passed", len(checks))
