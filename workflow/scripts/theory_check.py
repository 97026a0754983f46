"""Rule theory_check: the numerical checks of docs/theory.md (vaestudy.theory.run_all) as a CSV
table. The table is written atomically first, then the job fails if any check failed, so that
the failure is visible (Snakemake removes the outputs of a failed job; the log keeps the table)."""

import _bootstrap  # noqa: F401

import pandas as pd

from vaestudy.files import atomic_path
from vaestudy.runtime import logged
from vaestudy.theory import run_all

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    records = run_all(0)
    table = pd.DataFrame(records, columns=["identity", "max_abs_error", "tolerance", "passed"])
    with atomic_path(sm.output[0]) as tmp:
        table.to_csv(tmp, index=False)
    log.info("theory checks:\n%s", table.to_string(index=False))
    failed = table.loc[~table["passed"], "identity"].tolist()
    if failed:
        raise RuntimeError(f"{len(failed)} theory check(s) failed: {failed}")
    log.info("all %d theory checks passed", len(table))
