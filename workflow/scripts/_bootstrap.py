"""Imported first by every workflow script: makes the ``vaestudy`` package importable where it
is not installed (a per-rule conda environment, a cluster node) by adding ``<repo>/src`` to
sys.path. It does nothing else."""

import sys
from pathlib import Path

try:
    import vaestudy  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
