"""Rule side_by_side: the sample grids and the reconstructions of every loss at one latent
size of one dataset after one training budget, each in one picture."""

import _bootstrap  # noqa: F401

from vaestudy.analysis.budgets import budget_text
from vaestudy.analysis.study_plots import plot_side_by_side
from vaestudy.core.atomic import atomic_path
from vaestudy.core.layout import parse_run_path
from vaestudy.jobs.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
# output: (input pictures, rows of tiles kept (None: all), title)
PICTURES = {
    "samples": ("samples", None, "the same prior draws decoded by each loss"),
    "reconstructions": ("reconstructions", None, "the same test images reconstructed by each loss"),
    "sample_rows": ("samples", 1, "the first row of the same prior draws, decoded by each loss"),
}
with logged(sm.log[0]) as log:
    for output, (picture, rows, what) in PICTURES.items():
        by_loss = {parse_run_path(p).loss: p for p in sm.input[picture]}
        title = (f"{sm.wildcards.dataset}, {budget_text(sm.wildcards.epochs)}, latent size "
                 f"{sm.wildcards.latent}: {what}")
        with atomic_path(sm.output[output]) as tmp:
            plot_side_by_side(by_loss, title, tmp, rows)
        log.info("wrote %s", sm.output[output])
