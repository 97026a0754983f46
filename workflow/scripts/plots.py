"""Rule plots: the seaborn comparison plots of one dataset at one training budget."""

import _bootstrap  # noqa: F401

from vaestudy.analysis.study_plots import write_plots
from vaestudy.jobs.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    write_plots(sm.input.metrics, sm.input.history, dict(sm.output.items()), sm.params.dataset,
                int(sm.params.epochs))
    log.info("wrote %s", list(sm.output))
