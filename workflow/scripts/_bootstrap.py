"""Make the ``vaestudy`` package importable from workflow scripts even where it is not
installed (a per-rule conda environment, a cluster node): add ``<repo>/src`` to sys.path."""

import sys
from pathlib import Path

try:
    import vaestudy  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
