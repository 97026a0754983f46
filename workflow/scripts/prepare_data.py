"""Rule prepare_data: download missing MNIST files, verify all, write a manifest."""

import _bootstrap  # noqa: F401

from vaestudy.data import prepare
from vaestudy.jobs import write_json
from vaestudy.runtime import job_logger

sm = snakemake  # noqa: F821 - injected by Snakemake
manifest = prepare(sm.params.dir, log=job_logger(sm.log[0]).info)
write_json(sm.output[0], manifest)
