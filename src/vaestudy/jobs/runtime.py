"""Process-level set-up of a job: TensorFlow thread pools and seeds.

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
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

#: When this job's process imported the package's job frame (a job script's first lines).
_STARTED = time.monotonic()


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
    memory are logged (:func:`usage_line`, read by :mod:`vaestudy.report.costs`)."""
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


#: The start of the line :func:`logged` writes to a job's log (read by vaestudy.report.costs).
USAGE_PREFIX = "job usage:"


def usage() -> dict[str, float]:
    """This process's exact CPU seconds (user + system, all threads, plus waited-for child
    processes), peak resident memory (MB) and wall seconds since it started its job. Why:
    Snakemake's ``benchmark:`` files sample CPU time and memory every 30 s after a job's
    first 15 s, so a job's last seconds (up to 30) are missing from their ``cpu_time``; the
    report's efficiency figures need the exact number, which only the process itself knows."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"cpu_seconds": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
            "peak_mb": max(me.ru_maxrss, kids.ru_maxrss) / 1024,  # Linux reports KiB
            "wall_seconds": time.monotonic() - _STARTED}


def usage_line() -> str:
    """:func:`usage` as the one parseable line every job ends its log with."""
    now = usage()
    return f"{USAGE_PREFIX} cpu_seconds={now['cpu_seconds']:.2f} peak_rss_mb={now['peak_mb']:.1f}"


#: The start of the line a training job writes with the cost of the work behind its outputs.
WORK_PREFIX = "job work:"


def total_work(attempts: list[dict]) -> dict:
    """The cost of the work behind a training's outputs from the :func:`usage` of each
    process that trained it (a run resumed after an interruption had several): wall and CPU
    seconds summed, the largest peak memory, the number of attempts."""
    return {"attempts": len(attempts),
            "wall_seconds": float(sum(a["wall_seconds"] for a in attempts)),
            "cpu_seconds": float(sum(a["cpu_seconds"] for a in attempts)),
            "peak_mb": float(max((a["peak_mb"] for a in attempts), default=0.0))}


def work_line(work: dict, restored: bool = False) -> str:
    """The line of a training job's log that :mod:`vaestudy.report.costs` reads instead of the job's
    own benchmark: the ``work`` (:func:`total_work`) that produced its outputs, ``restored``
    when this job only put back the outputs of an earlier one (whose work it names)."""
    return (f"{WORK_PREFIX} wall_seconds={work['wall_seconds']:.2f} "
            f"cpu_seconds={work['cpu_seconds']:.2f} peak_rss_mb={work['peak_mb']:.1f} "
            f"attempts={work['attempts']} restored={int(restored)}")
