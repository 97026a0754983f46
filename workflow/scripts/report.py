"""Rule report: the self-contained HTML report (vaestudy.report.report.write_report)."""

import _bootstrap  # noqa: F401

from vaestudy.jobs.runtime import logged
from vaestudy.report.report import write_report

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    named = {name: sm.input[name] for name in sm.input.keys() if name != "images"}
    write_report(named, sm.input.images, sm.config, sm.output[0], sm.params.execution)
    log.info("wrote %s", sm.output[0])
