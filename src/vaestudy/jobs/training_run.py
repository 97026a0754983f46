"""The training job of a VAE run of the grid, and what it writes.

A run of a longer training budget continues the final state of the run of the next shorter
budget of the same grid point (``continues``): the same bytes as a run trained straight to
the longer budget, since a checkpoint holds the whole state of the loop
(:mod:`vaestudy.vae.checkpoint`). It trains under a lock (one process per run), and keeps its
finished outputs
(:mod:`vaestudy.jobs.kept_outputs`): started again with the same settings and code (Snakemake was
interrupted after the training ended), it restores them and trains nothing. Files are written
through :mod:`vaestudy.core.atomic`, so a killed job never leaves a complete-looking but half-written
output. TensorFlow is imported only when something is trained.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np

from vaestudy.core import layout
from vaestudy.core.atomic import atomic_path, write_bytes, write_json
from vaestudy.core.config import RunConfig, run_config
from vaestudy.core.provenance import code_version
from vaestudy.jobs import kept_outputs, runtime, usage


def train_run(settings: dict, loss: str, latent: int, seed: int, out: dict[str, str],
              logger: logging.Logger, threads: int = 1, gpus: int = 0,
              dataset: str = "mnist", log: str | None = None,
              continues: dict[str, str] | None = None) -> None:
    """Train one grid point (of ``dataset``) with ``settings``
    (:func:`vaestudy.core.rule_params.train_settings`, its data folder filled in). ``out`` maps the names
    of :data:`vaestudy.core.layout.TRAIN_FILES` to their paths; the checkpoint and the lock go
    beside them. ``config`` is written first and again with the other outputs, ``history`` after
    every epoch (progress files). A run that diverges writes its status and history and an empty
    model folder. ``log``: the job's log file, kept with the outputs (a job that restores them shows
    its per-epoch lines). ``continues``: the outputs (by the same names) of the run of the next
    shorter budget of this grid point, whose final state this run continues (None: trained from
    its first epoch)."""
    run = Path(out["config"]).parent
    with runtime.exclusive(run / layout.LOCK, f"training of {run}"):
        cfg = run_config(settings, loss, latent, seed, dataset)
        key = {**cfg.training_dict(), "code": code_version()}
        if kept_outputs.restored(out, key, f"training of {run}", logger):
            usage.log_restored_work(out["summary"], logger)
            return
        logger.info("device: %s", runtime.configure(threads, seed, gpus))
        logger.info("run config: %s", json.dumps(cfg.training_dict()))
        _write_config(cfg, out["config"])
        attempts = Attempts(run / layout.ATTEMPTS)
        summary, budget = _shorter_run(continues) if continues else ({}, 0)
        if continues and summary["status"] != "trained":
            _copy_diverged(continues, summary, budget, out, logger)
        else:
            if continues:
                _start_from(continues["state"], budget, run / layout.CHECKPOINT, logger)
            _train_and_write(cfg, out, threads, logger, attempts)
        _write_config(cfg, out["config"])  # again: a second Snakemake may have deleted it
        kept_outputs.keep(out, key, log)
        (run / layout.ATTEMPTS).unlink(missing_ok=True)  # every output is complete and kept
        logger.info(usage.work_line(json.loads(Path(out["summary"]).read_text())["work"]))


class Attempts:
    """The cost of every process that trained one run (:func:`vaestudy.jobs.usage.usage`), kept in
    ``path`` beside the checkpoint, so that a run resumed after an interruption sums them. A
    process records at every epoch's end and when it stops (finished, failed, SIGTERM): one
    killed outright counts up to its last epoch, the point its successor resumes from."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.earlier = list(json.loads(path.read_text()))
        except (OSError, ValueError):
            self.earlier = []

    def record(self) -> None:
        """Write the earlier processes' costs and this one's so far."""
        write_json(self.path, self.earlier + [usage.usage()])

    def total(self) -> dict:
        """:func:`vaestudy.jobs.usage.total_work` of the earlier processes and this one."""
        return usage.total_work(self.earlier + [usage.usage()])


def _train_and_write(cfg: RunConfig, out: dict, threads: int, logger,
                     attempts: Attempts) -> None:
    """Train the run of ``cfg`` (resuming from its checkpoint beside ``out``; SIGTERM saves
    the position and stops) and write the outputs of the trained or diverged run, with the
    work of every attempt (``attempts``, recorded at every epoch's end and when it stops)."""
    from vaestudy.vae.train import NonFiniteLossError, train

    def on_epoch(history) -> None:
        _write_history(out["history"], history)
        attempts.record()

    with runtime.stop_on_sigterm() as stopped:
        try:
            result = train(cfg, cfg.load_data(), logger,
                           Path(out["config"]).parent / layout.CHECKPOINT,
                           should_stop=stopped, on_epoch=on_epoch)
        except NonFiniteLossError as err:
            logger.error("diverged: %s", err)
            _write_diverged(err, out, threads, attempts.total())
            return
        finally:
            attempts.record()
    _write_trained(result, out, threads, attempts.total())
    logger.info("done in %.1f s; best epoch %d", result.seconds, result.best_epoch)


def _shorter_run(shorter: dict[str, str]) -> tuple[dict, int]:
    """The training summary and the budget (epochs) of the shorter budget's run."""
    return (json.loads(Path(shorter["summary"]).read_text()),
            json.loads(Path(shorter["config"]).read_text())["training"]["epochs"])


def _start_from(state: str, epochs: int, checkpoint: Path, logger) -> None:
    """Put the final state of the shorter budget's run (``state``, after ``epochs``) where
    training resumes from, unless this run has a checkpoint of its own (an interrupted
    continuation goes on from where it stopped)."""
    if checkpoint.exists():
        return
    with atomic_path(checkpoint) as tmp:
        shutil.copyfile(state, tmp)
    logger.info("continues the final state of the %d-epoch run %s", epochs, Path(state).parent)


def _copy_diverged(shorter: dict[str, str], summary: dict, epochs: int, out: dict,
                   logger) -> None:
    """This run's outputs when the shorter budget's run (of ``epochs``, its training
    ``summary``) diverged: the same divergence (a run trained straight to this budget takes
    the same steps up to it), recorded again with this run's budget."""
    logger.error("diverged at epoch %d of the %d-epoch run %s (the same steps as this run's): "
                 "not trained further", summary["diverged_at"]["epoch"], epochs,
                 Path(shorter["summary"]).parent)
    Path(out["model"]).mkdir(parents=True, exist_ok=True)
    for name in ("history", "epoch_samples", "state"):
        with atomic_path(out[name]) as tmp:
            shutil.copyfile(shorter[name], tmp)
    write_json(out["summary"], {**summary, "work": usage.total_work([usage.usage()]),
                                "diverged_in_budget": epochs})


def _write_config(cfg: RunConfig, path: str) -> None:
    with atomic_path(path) as tmp:
        cfg.save(tmp)


def _write_history(path: str, history) -> None:
    with atomic_path(path) as tmp:
        history.to_csv(tmp, index=False)


def _keep_state(out: dict) -> None:
    """The loop's final checkpoint becomes the ``state`` output, which a longer budget's run
    continues; a run that diverged before its first checkpoint has none (an empty file: a
    longer budget's run copies the divergence, :func:`_copy_diverged`)."""
    checkpoint = Path(out["config"]).parent / layout.CHECKPOINT
    if checkpoint.exists():
        checkpoint.replace(out["state"])
    else:
        write_bytes(out["state"], b"")


def _write_trained(result, out: dict, threads: int, work: dict) -> None:
    model_dir = Path(out["model"])
    for name, model in (("encoder", result.encoder), ("decoder", result.decoder)):
        with atomic_path(model_dir / f"{name}.keras") as tmp:
            model.save(tmp)
    _write_run(out, result.history, result.epoch_samples, threads, status="trained",
               train_seconds=result.seconds, sigma=result.sigma, best_epoch=result.best_epoch,
               stopped_early_at=result.stopped_early_at, work=work)


def _write_diverged(err, out: dict, threads: int, work: dict) -> None:
    """The result of a diverged run: where it diverged, its last finite losses and the
    epochs it finished; no models (the model folder stays empty)."""
    Path(out["model"]).mkdir(parents=True, exist_ok=True)
    samples = np.stack(err.samples) if err.samples else np.zeros((0, 0, 28, 28), np.uint8)
    _write_run(out, err.history, samples, threads, status="diverged",
               diverged_at={"epoch": err.epoch, "step": err.step},
               last_finite_losses=err.last_finite, message=str(err), best_epoch=None,
               sigma=None, work=work)


def _write_run(out: dict, history, epoch_samples: np.ndarray, threads: int, **summary) -> None:
    """The outputs every finished training writes: history, per-epoch samples, the final
    state and the summary (``summary`` plus epochs, threads and the code version)."""
    _write_history(out["history"], history)
    _keep_state(out)
    with atomic_path(out["epoch_samples"]) as tmp:
        np.save(tmp, epoch_samples)
    write_json(out["summary"], {**summary, "epochs_run": len(history), "threads": threads,
                                "train_code": code_version()})
