"""Rule side_by_side: the sample grids of every loss at one latent size in one figure."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import side_by_side_job
from vaestudy.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    side_by_side_job(pictures=list(sm.input.samples), latent=int(sm.wildcards.latent),
                     out=sm.output[0])
    log.info("wrote %s", sm.output[0])
