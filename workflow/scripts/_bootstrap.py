"""Imported first by every workflow script: the job uses the package beside its workflow,
``<repo>/src/vaestudy``, as the Snakefile did at parse time (setup.smk puts the same folder
first on sys.path). One rule for both, so that parse time and the jobs never load different
copies, also where another ``vaestudy`` is installed or in a per-rule conda environment.

The package is imported here, before any script imports NumPy: its ``__init__`` turns NumPy's
huge-page advice off (why: ``src/vaestudy/__init__.py``, docs/performance.md)."""

import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
if sys.path[:1] != [SRC]:
    sys.path.insert(0, SRC)

import vaestudy  # noqa: E402, F401 - before NumPy (see above)
