"""vaestudy: a convolutional variational autoencoder on MNIST and the pieces of the study
(data, model, likelihoods, training, evaluation, a run's pictures, the study's tables and
plots, report).

Importing it before NumPy turns NumPy's transparent-huge-page advice off for its large arrays
(the one home of this setting: every job imports the package first through
``workflow/scripts/_bootstrap.py``, and so do the tools' benchmarks). Where the kernel
defragments memory for pages so advised (``/sys/kernel/mm/transparent_hugepage/defrag`` =
``madvise``, as on the 2-core machines of docs/performance.md), the advice made the first touch
of a 55,000-image array cost seconds of system time in every job that loads the data and in
every training epoch; the numbers are the same either way. ``NUMPY_MADVISE_HUGEPAGE=1`` set by
the user wins (``tools/data_benchmark.py`` compares both)."""

import os

os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

__version__ = "0.1.0"
