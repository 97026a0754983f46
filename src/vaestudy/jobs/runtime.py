"""The frame of a job's process: its log, TensorFlow thread pools and seeds, its lock, SIGTERM.

Every job script runs its work inside :func:`logged` (or :func:`job`, which also configures
TensorFlow); a training also holds its run's lock (:func:`exclusive`) and turns SIGTERM into a
flag (:func:`stop_on_sigterm`). What the process cost is :mod:`vaestudy.jobs.usage`.

Snakemake's ``threads`` reach a job only as a number; TensorFlow sizes its thread pools from
the machine's core count unless told otherwise, so several jobs started by ``--cores 8``
would each use every core. :func:`configure` must run before TensorFlow executes any op.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from vaestudy.jobs.usage import usage_line


def configure(threads: int, seed: int | None = None, gpus: int = 0) -> str:
    """Limit TensorFlow to ``threads`` intra-op threads (inter-op 1), choose the devices of a
    job that requested ``gpus`` GPUs (:func:`vaestudy.jobs.devices.select_devices`: no GPU
    visible for 0; a clear error if fewer are found) and seed Python, NumPy and TensorFlow.
    Returns the description of the device the job computes on."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import tensorflow as tf

    from vaestudy.jobs.devices import select_devices

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()  # the same seed gives the same numbers
    device = select_devices(gpus)
    if seed is not None:
        random.seed(seed)
        np.random.seed(seed)
        tf.random.set_seed(seed)
    return f"{device}; {threads} thread(s)"


@contextlib.contextmanager
def logged(log: str | None) -> Iterator[logging.Logger]:
    """The frame of every job: its logger (the rule's log file). Any exception of the block
    is written to the log before it propagates, so that ``--show-failed-logs`` shows the
    error itself; when the block ends, failed or not, the job's exact CPU seconds and peak
    memory are logged (:func:`usage_line`, read by :mod:`vaestudy.report.benchmarks`)."""
    logger = job_logger(log)
    try:
        yield logger
    except BaseException as err:
        logger.error("job failed: %s: %s", type(err).__name__, err, exc_info=True)
        raise
    finally:
        logger.info(usage_line())


@contextlib.contextmanager
def job(log: str | None, threads: int, seed: int | None = None,
        gpus: int = 0) -> Iterator[logging.Logger]:
    """The frame of every TensorFlow job: :func:`logged`, then its threads, devices and
    seeds (:func:`configure`), with the device written to the log."""
    with logged(log) as logger:
        logger.info("device: %s", configure(threads, seed, gpus))
        yield logger


@contextlib.contextmanager
def exclusive(lock: Path | str, what: str) -> Iterator[None]:
    """Hold an exclusive lock on the file ``lock`` for the block, or fail at once with a
    message naming the process that holds it: the same run must never be trained by two
    processes (say a job left running by a killed Snakemake and its re-run), which would
    both write one checkpoint."""
    lock = Path(lock)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            raise RuntimeError(
                f"{what} is already running in another process ({holder}; lock {lock}). "
                f"Wait for it to finish, or stop it (kill its pid) and re-run.") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        try:
            yield
        finally:
            f.truncate(0)


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[Callable[[], bool]]:
    """Within the block, SIGTERM (what a cluster sends before killing a job) only sets a flag;
    the block receives a function that tells whether it was set, so a training loop can save
    its position and stop cleanly. The previous handler is restored afterwards."""
    received = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        yield lambda: bool(received)
    finally:
        signal.signal(signal.SIGTERM, previous)


def job_logger(path: str | None, name: str = "vaestudy") -> logging.Logger:
    """A logger that writes to the rule's log file (and to stderr when ``path`` is None)."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(path, mode="w") if path else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.handlers[:] = [handler]
    return logger
