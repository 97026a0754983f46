"""Rule grid: the study's grid (losses x latent sizes x seeds) as grid.json."""

import _bootstrap  # noqa: F401

from vaestudy.core.atomic import write_json
from vaestudy.jobs.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    write_json(sm.output[0], sm.params.study)
    log.info("grid: %s", sm.params.study)
