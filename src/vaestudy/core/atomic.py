"""Writing result files so that a killed or failing job never leaves a half-written one.

Every output of the study (models, tables, pictures, checkpoints) is written to a temporary
name beside its target and renamed into place only when complete: a crash, a kill or a full
disk leaves the previous file (or none), never a truncated one that looks finished.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path

#: errno values that mean "the fault is the place, not the program": named in the message.
_PLACE_ERRORS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
                 errno.EACCES: "the directory is not writable",
                 errno.EROFS: "the file system is read-only"}


@contextlib.contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` (same suffix); rename it onto ``target`` only
    if the block succeeds, otherwise remove it. A full disk or a read-only directory becomes
    an error that names the file and the fix."""
    target = Path(target)
    tmp = target.with_name(f".{target.stem}.tmp-{os.getpid()}{target.suffix}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, target)
    except OSError as err:
        if err.errno not in _PLACE_ERRORS:
            raise
        raise OSError(err.errno, f"cannot write {target}: {_PLACE_ERRORS[err.errno]} "
                      f"({err.strerror}). Free space or choose a writable output_dir, then "
                      f"re-run: finished outputs and the last training checkpoint are kept."
                      ) from err
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (fsync before the rename)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_json(path: Path | str, obj: dict) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")
