"""Rule prepare_data: download the dataset's missing files, verify all four, write a manifest."""

import _bootstrap  # noqa: F401

from vaestudy.core import datasets, fetch
from vaestudy.core.atomic import write_json
from vaestudy.jobs.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    manifest = fetch.prepare(datasets.get(sm.params.dataset), sm.params.dir, log=log.info)
    write_json(sm.output[0], manifest)
