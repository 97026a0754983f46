"""Rule plots: seaborn comparison plots (vaestudy.jobs.plots_job)."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import plots_job
from vaestudy.runtime import job_logger

sm = snakemake  # noqa: F821 - injected by Snakemake
plots_job(sm.input.metrics, sm.input.history, dict(sm.output.items()))
job_logger(sm.log[0]).info("wrote %s", list(sm.output))
