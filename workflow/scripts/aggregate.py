"""Rule aggregate: the metrics, runs, history and comparisons tables."""

import _bootstrap  # noqa: F401

from vaestudy.analysis.aggregate import write_tables
from vaestudy.jobs.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    write_tables(sm.input.metrics, sm.input.summaries, sm.input.histories, sm.input.configs,
                 dict(sm.output.items()))
    log.info("aggregated %d runs (%d evaluated)", len(sm.input.summaries), len(sm.input.metrics))
