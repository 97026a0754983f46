"""Process-level set-up of a job: TensorFlow thread pools and seeds.

Snakemake's ``threads`` reach a job only as a number; TensorFlow sizes its thread pools from
the machine's core count unless told otherwise, so several jobs started by ``--cores 8``
would each use every core. :func:`configure` must run before TensorFlow executes any op.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
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
