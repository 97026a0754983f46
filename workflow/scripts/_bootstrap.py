"""Imported first by every workflow script: the job uses the package beside its workflow,
``<repo>/src/vaestudy``, as the Snakefile did at parse time (setup.smk puts the same folder
first on sys.path). One rule for both, so that parse time and the jobs never load different
copies, also where another ``vaestudy`` is installed or in a per-rule conda environment."""

import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
if sys.path[:1] != [SRC]:
    sys.path.insert(0, SRC)
