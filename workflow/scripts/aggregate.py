"""Rule aggregate: metrics.csv and history.csv of the study (vaestudy.jobs.aggregate_job)."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import aggregate_job
from vaestudy.runtime import job_logger

sm = snakemake  # noqa: F821 - injected by Snakemake
aggregate_job(sm.input.metrics, sm.input.summaries, sm.input.histories, sm.input.configs,
              sm.output.metrics, sm.output.history)
job_logger(sm.log[0]).info("aggregated %d runs", len(sm.input.metrics))
