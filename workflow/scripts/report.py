"""Rule report: the self-contained HTML report (vaestudy.jobs.report_job)."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import report_job
from vaestudy.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    named = {name: sm.input[name] for name in sm.input.keys() if name != "images"}
    report_job(named, sm.input.images, sm.config, sm.output[0], sm.params.execution)
    log.info("wrote %s", sm.output[0])
