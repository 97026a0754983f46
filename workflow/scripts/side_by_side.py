"""Rule side_by_side: the sample grids and the reconstructions of every loss at one latent
size of one dataset, each in one figure."""

import _bootstrap  # noqa: F401

from vaestudy.files import atomic_path
from vaestudy.layout import parse_run_path
from vaestudy.study_plots import plot_side_by_side
from vaestudy.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
TITLES = {
    "samples": "the same prior draws decoded by each loss",
    "reconstructions": "the same test images reconstructed by each loss",
}
with logged(sm.log[0]) as log:
    for picture, what in TITLES.items():
        by_loss = {parse_run_path(p).loss: p for p in sm.input[picture]}
        title = f"{sm.wildcards.dataset}, latent size {sm.wildcards.latent}: {what}"
        with atomic_path(sm.output[picture]) as tmp:
            plot_side_by_side(by_loss, title, tmp)
        log.info("wrote %s", sm.output[picture])
