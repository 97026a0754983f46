"""Rule side_by_side: the sample grids of every loss at one latent size in one figure."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import side_by_side_job
from vaestudy.runtime import job_logger

sm = snakemake  # noqa: F821 - injected by Snakemake
side_by_side_job(list(sm.input), int(sm.wildcards.latent), sm.output[0])
job_logger(sm.log[0]).info("wrote %s", sm.output[0])
