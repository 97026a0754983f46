"""Rule across: the forest plot of the pairs of losses separated on the study's first dataset
or on this one, at one training budget (vaestudy.analysis.forest.write_forest)."""

import _bootstrap  # noqa: F401

from vaestudy.analysis.forest import write_forest
from vaestudy.jobs.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    write_forest(sm.input.comparisons, sm.params.reference, sm.wildcards.dataset,
                 int(sm.wildcards.epochs), sm.output[0])
    log.info("wrote %s", sm.output[0])
