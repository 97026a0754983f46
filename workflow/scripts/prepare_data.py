"""Rule prepare_data: download missing MNIST files, verify all, write a manifest."""

import _bootstrap  # noqa: F401

from vaestudy.data import prepare
from vaestudy.files import write_json
from vaestudy.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    write_json(sm.output[0], prepare(sm.params.dir, log=log.info))
