"""Which device a job computes on, chosen honestly before TensorFlow runs any op.

Why: TensorFlow silently falls back to the CPU when it sees no GPU, so a job that requested a
GPU would run for hours on the wrong device; and every TensorFlow process takes GPU 0 (and a
context on every visible GPU), so several jobs on a multi-GPU machine would pile onto one
device while a CPU-only job would still take GPU memory. :func:`select_devices` fixes both and
returns a line for the job's log.
"""

from __future__ import annotations

import fcntl
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

#: Lock files of the GPUs this process claimed; open for the process's life, so held until exit.
_HELD: list[IO[str]] = []


class DeviceError(RuntimeError):
    """A job's device request cannot be met; the message names the problem and the fix."""


def check_request(requested: int, n_visible: int, tf_version: str = "?",
                  built_with_cuda: bool | None = None) -> None:
    """Raise :class:`DeviceError` when fewer GPUs are visible than ``requested``."""
    if requested <= n_visible:
        return
    cuda = {True: "yes", False: "no", None: "unknown"}[built_with_cuda]
    pinned = os.environ.get("CUDA_VISIBLE_DEVICES")
    seen = "no GPU" if n_visible == 0 else f"only {n_visible} GPU(s)"
    raise DeviceError(
        f"this job requests the resource gpu={requested} but TensorFlow sees {seen} "
        f"(tensorflow {tf_version}, built with CUDA: {cuda}; CUDA_VISIBLE_DEVICES="
        f"{'unset' if pinned is None else repr(pinned)}). Either, on a machine with an NVIDIA "
        f"driver, install TensorFlow's CUDA build with its CUDA libraries ({sys.executable} -m "
        f"pip install "
        f"\"tensorflow[and-cuda]=={tf_version}\"; for --sdm conda, in workflow/envs/vae.yaml), "
        f"or run on the CPU: set the gpu resource to 0 (drop a profile's `gpu: 1` under "
        f"set-resources, or `--set-resources <rule>:gpu=1` from the command line).")


def claim_gpus(n_visible: int, requested: int, lock_dir: Path | str | None = None,
               start: int = 0) -> tuple[list[int], list[Path]]:
    """Claim ``requested`` of GPUs ``0..n_visible-1`` that no other process on this machine
    holds, by a non-blocking exclusive ``flock`` on ``<lock_dir>/vaestudy-gpu-<i>.lock``,
    trying indexes from ``start`` (mod ``n_visible``) on. Returns the chosen indexes (sorted)
    and the lock files actually held; where too few are free, the remainder are taken in the
    same order, unlocked (so jobs still spread when locking is unavailable)."""
    lock_dir = Path(tempfile.gettempdir() if lock_dir is None else lock_dir)
    order = [(start + k) % n_visible for k in range(n_visible)]
    chosen: list[int] = []
    locks: list[Path] = []
    for i in order:
        if len(chosen) == requested:
            break
        path = lock_dir / f"vaestudy-gpu-{i}.lock"
        try:
            f = open(path, "a+")
        except OSError:
            continue  # e.g. another user's file: treat that GPU as taken
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by another process, or locking unsupported on this filesystem
            f.close()
            continue
        _HELD.append(f)
        chosen.append(i)
        locks.append(path)
    for i in order:  # too few free: share, starting from this process's offset
        if len(chosen) == requested:
            break
        if i not in chosen:
            chosen.append(i)
    return sorted(chosen), locks


VECTOR_EXTENSIONS = (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("amx_tile", "AMX"))


def cpu_name(cpuinfo: str | None = None) -> str:
    """The CPU's model name and its vector extensions, e.g. ``AMD EPYC (AVX2, AVX-512)``.

    Why the extensions: the same model name covers CPUs whose TensorFlow speed differs
    several-fold (AVX2 only against AVX-512 or AMX), so a timing needs both. Read from
    ``cpuinfo`` (``/proc/cpuinfo``'s text by default), else platform.processor(), else
    'unknown'.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    first = cpuinfo.split("\n\n")[0].splitlines()  # the first processor's block
    fields = dict(line.split(":", 1) for line in first if ":" in line)
    fields = {key.strip().lower(): value.strip() for key, value in fields.items()}
    name = fields.get("model name") or platform.processor() or "unknown"
    flags = set(fields.get("flags", "").split())
    found = [label for flag, label in VECTOR_EXTENSIONS if flag in flags]
    return f"{name} ({', '.join(found)})" if found else name


def _tf_build() -> tuple[str, bool | None]:
    try:
        import tensorflow as tf
    except ImportError:
        return "not installed", None
    return tf.__version__, bool(tf.test.is_built_with_cuda())


def select_devices(requested_gpus: int, lock_dir: Path | str | None = None, *,
                   physical: Sequence[Any] | None = None,
                   set_visible: Callable[[list[Any], str], None] | None = None,
                   set_growth: Callable[[Any, bool], None] | None = None) -> str:
    """Make only the GPUs this job may use visible to TensorFlow and describe the result.

    Call once per job process after ``import tensorflow`` and before any op. ``requested_gpus``
    0 hides every GPU (a CPU job must not take GPU memory); more requested than visible raises
    :class:`DeviceError`; more visible than requested, with ``CUDA_VISIBLE_DEVICES`` unset (no
    scheduler pinned this job), claims free GPUs with :func:`claim_gpus`; with it set, the
    first ``requested_gpus`` visible ones are used. Kept GPUs get memory growth, so jobs can
    share one. ``physical``, ``set_visible`` and ``set_growth`` replace TensorFlow's
    ``list_physical_devices("GPU")``, ``set_visible_devices`` and ``set_memory_growth`` (tests).
    """
    if physical is None or set_visible is None or set_growth is None:
        import tensorflow as tf
        physical = tf.config.list_physical_devices("GPU") if physical is None else physical
        set_visible = set_visible or tf.config.set_visible_devices
        set_growth = set_growth or tf.config.experimental.set_memory_growth
    gpus = list(physical)
    n = len(gpus)
    if requested_gpus <= 0:
        set_visible([], "GPU")
        hidden = f"0 GPUs requested; {n} visible GPU(s) hidden" if n else "no GPU requested"
        return f"CPU: {cpu_name()} ({hidden})"
    if n < requested_gpus:
        check_request(requested_gpus, n, *_tf_build())
    note = ""
    if n > requested_gpus and os.environ.get("CUDA_VISIBLE_DEVICES") is None:
        chosen, locks = claim_gpus(n, requested_gpus, lock_dir, start=os.getpid() % n)
        note = ", claimed with " + ", ".join(map(str, locks)) if locks else ""
        if len(locks) < requested_gpus:
            note += (f", {requested_gpus - len(locks)} not claimed (held by other jobs or "
                     f"locking unavailable): shared from offset {os.getpid() % n}")
    else:
        chosen = list(range(requested_gpus))
    kept = [gpus[i] for i in chosen]
    set_visible(kept, "GPU")
    for gpu in kept:
        set_growth(gpu, True)
    names = ", ".join(getattr(g, "name", str(g)) for g in kept)
    which = "GPU" if len(chosen) == 1 else "GPUs"
    return f"{which} {', '.join(map(str, chosen))} of {n} ({names}){note}"
