"""The settings and the data: the config and its checks, the loss registry, every path of a study,
the datasets and their splits, atomic files, provenance, the machine cache's folder.
TensorFlow-free: what the Snakefile imports at parse time."""
