"""Rule theory_check: the numerical checks of docs/theory.md as a table."""

import _bootstrap  # noqa: F401

from vaestudy.jobs import theory_job

sm = snakemake  # noqa: F821 - injected by Snakemake
theory_job(table=sm.output[0], log=sm.log[0])
