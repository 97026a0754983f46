"""Imported first by every workflow script. Makes the ``vaestudy`` package importable even
where it is not installed (a per-rule conda environment, a cluster node) by adding
``<repo>/src`` to sys.path, and records the job's exact CPU time and peak memory in its log
at exit (see vaestudy.runtime.record_usage_at_exit)."""

import sys
from pathlib import Path

try:
    import vaestudy  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from vaestudy.runtime import record_usage_at_exit  # noqa: E402

record_usage_at_exit()
