"""Rule side_by_side: the sample grids of every loss at one latent size in one figure."""

import _bootstrap  # noqa: F401

from vaestudy.files import atomic_path
from vaestudy.layout import parse_run_path
from vaestudy.study_plots import plot_side_by_side
from vaestudy.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    by_loss = {parse_run_path(p).loss: p for p in sm.input.samples}
    title = f"latent size {sm.wildcards.latent}: the same prior draws decoded by each loss"
    with atomic_path(sm.output[0]) as tmp:
        plot_side_by_side(by_loss, title, tmp)
    log.info("wrote %s", sm.output[0])
