"""Rule report: the self-contained HTML report."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import report_job
from vaestudy.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    named = {name: sm.input[name] for name in sm.input.keys() if name != "images"}
    report_job(inputs=named, image_files=sm.input.images, config=sm.config,
               out_html=sm.output[0], execution=sm.params.execution)
    log.info("wrote %s", sm.output[0])
