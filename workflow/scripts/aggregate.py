"""Rule aggregate: metrics.csv, history.csv and comparisons.csv (vaestudy.jobs.aggregate_job)."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import aggregate_job
from vaestudy.runtime import job_logger

sm = snakemake  # noqa: F821 - injected by Snakemake
aggregate_job(sm.input.metrics, sm.input.summaries, sm.input.histories, sm.input.configs,
              dict(sm.output.items()))
job_logger(sm.log[0]).info("aggregated %d runs", len(sm.input.metrics))
