"""What a Snakemake job needs around the library: its log, threads and seeds, devices, the
training jobs that keep and restore finished outputs, progress."""
