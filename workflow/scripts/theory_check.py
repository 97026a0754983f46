"""Rule theory_check: the numerical checks of docs/theory.md (vaestudy.theory.theory.run_all) as a
table, written first; then the job fails if any check failed, so that the failure is visible
(Snakemake removes a failed job's outputs; the log keeps the table)."""

import _bootstrap  # noqa: F401
import pandas as pd

from vaestudy.core.atomic import atomic_path
from vaestudy.jobs.runtime import logged
from vaestudy.theory import theory

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    checks = pd.DataFrame(theory.run_all(0),
                          columns=["identity", "max_abs_error", "tolerance", "passed"])
    with atomic_path(sm.output[0]) as tmp:
        checks.to_csv(tmp, index=False)
    log.info("theory checks:\n%s", checks.to_string(index=False))
    failed = checks.loc[~checks["passed"], "identity"].tolist()
    if failed:
        raise RuntimeError(f"{len(failed)} theory check(s) failed: {failed}")
    log.info("all %d theory checks passed", len(checks))
