"""Imported first by every workflow script: the job uses the package beside its workflow,
``<repo>/src/vaestudy``, as the Snakefile did at parse time (setup.smk puts the same folder
first on sys.path). One rule for both, so that parse time and the jobs never load different
copies, also where another ``vaestudy`` is installed or in a per-rule conda environment.

And before NumPy is imported: no transparent-huge-page advice on its large arrays. Where the
kernel defragments memory for pages so advised (``/sys/kernel/mm/transparent_hugepage/defrag``
= ``madvise``, as on the 2-core machines of docs/performance.md), NumPy's advice made the first
touch of a 55,000-image array cost seconds of system time in every job that loads the data and
in every training epoch (docs/performance.md, "Memory"); the numbers are the same either way.
``NUMPY_MADVISE_HUGEPAGE=1`` set by the user wins."""

import os
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
if sys.path[:1] != [SRC]:
    sys.path.insert(0, SRC)

os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
