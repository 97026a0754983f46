"""Process-level set-up of a job: TensorFlow thread pools and seeds.

Snakemake's ``threads`` reach a job only as a number; TensorFlow sizes its thread pools from
the machine's core count unless told otherwise, so several jobs started by ``--cores 8``
would each use every core. :func:`configure` must run before TensorFlow executes any op.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import random
import resource
import signal
import sys
from collections.abc import Callable, Iterator

import numpy as np


def configure(threads: int, seed: int | None = None) -> None:
    """Limit TensorFlow to ``threads`` intra-op threads (inter-op 1) and seed Python, NumPy
    and TensorFlow. GPUs, if any, get memory growth so that jobs can share a device."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()  # the same seed gives the same numbers
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)
    if seed is not None:
        random.seed(seed)
        np.random.seed(seed)
        tf.random.set_seed(seed)


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


#: The line :func:`record_usage_at_exit` appends to a job's log (read by vaestudy.costs).
USAGE_PREFIX = "job usage:"


def usage_line() -> str:
    """This process's exact CPU seconds (user + system, all threads, plus waited-for child
    processes) and peak resident memory so far, as one parseable line."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    peak_mb = max(me.ru_maxrss, kids.ru_maxrss) / 1024  # Linux reports KiB
    return f"{USAGE_PREFIX} cpu_seconds={cpu:.2f} peak_rss_mb={peak_mb:.1f}"


def record_usage_at_exit(log_path: str | None = None) -> None:
    """At process exit, append :func:`usage_line` to the job's log (by default the first log
    of the ``snakemake`` object of a Snakemake script).

    Why: Snakemake's ``benchmark:`` files sample CPU time and memory every 30 s after a job's
    first 15 s, so a job's last seconds (up to 30) are missing from its ``cpu_time``; the
    report's efficiency figures need the exact number, which only the process itself knows.
    """

    def append() -> None:
        path = log_path
        if path is None:
            sm = getattr(sys.modules.get("__main__"), "snakemake", None)
            path = sm.log[0] if sm is not None and len(sm.log) else None
        if path:
            with open(path, "a") as f:
                f.write(usage_line() + "\n")

    atexit.register(append)
