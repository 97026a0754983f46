"""Rule budgets: the comparable metrics of one dataset against the training budget
(vaestudy.analysis.budgets.write_budgets_plot)."""

import _bootstrap  # noqa: F401

from vaestudy.analysis.budgets import write_budgets_plot
from vaestudy.jobs.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    write_budgets_plot(sm.input.metrics, sm.wildcards.dataset, sm.params.title, sm.output[0])
    log.info("wrote %s", sm.output[0])
