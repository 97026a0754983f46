"""Which code produced a result: the package version and a hash of its source.

Every run's ``train_summary.json`` and ``metrics.json`` and the report record
:func:`code_version`; the report says plainly when the runs of one study came from different
code. A code change does not re-run anything by itself (Snakemake re-runs on changed
params, inputs and rule scripts, not on an edited package module): re-run what a change
affects with ``--forcerun`` (README, "Changing things").
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import vaestudy

#: The package's source: every module of ``vaestudy`` (sorted, so the hash is stable).
PACKAGE = Path(vaestudy.__file__).resolve().parent


@functools.cache
def source_hash(package: Path = PACKAGE) -> str:
    """SHA-256 (first 12 hex digits) over the names and bytes of the package's modules."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def code_version() -> str:
    """``<version>+<source hash>``, e.g. ``0.1.0+3f2a9c1b7d40``."""
    return f"{vaestudy.__version__}+{source_hash()}"
