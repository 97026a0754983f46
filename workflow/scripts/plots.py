"""Rule plots: the seaborn comparison plots."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import plots_job
from vaestudy.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    plots_job(metrics_csv=sm.input.metrics, history_csv=sm.input.history,
              out=dict(sm.output.items()))
    log.info("wrote %s", list(sm.output))
