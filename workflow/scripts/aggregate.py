"""Rule aggregate: the metrics, runs, history and comparisons tables."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import aggregate_job
from vaestudy.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    aggregate_job(metric_files=sm.input.metrics, summary_files=sm.input.summaries,
                  history_files=sm.input.histories, config_files=sm.input.configs,
                  out=dict(sm.output.items()))
    log.info("aggregated %d runs (%d evaluated)", len(sm.input.summaries), len(sm.input.metrics))
