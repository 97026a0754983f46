"""Rule plots: seaborn comparison plots (vaestudy.jobs.plots_job)."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import plots_job
from vaestudy.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    plots_job(sm.input.metrics, sm.input.history, dict(sm.output.items()))
    log.info("wrote %s", list(sm.output))
