"""Rule train_classifier: the classifier of one dataset (digits, garments) behind the sample
metrics, and its features of the test images."""

import json
from pathlib import Path

import _bootstrap  # noqa: F401

from vaestudy.core.trained_run import with_data_dir
from vaestudy.jobs.classifier_run import train_classifier_run
from vaestudy.jobs.runtime import logged

sm = snakemake  # noqa: F821 - injected by Snakemake
with logged(sm.log[0]) as log:
    manifest = json.loads(Path(sm.input.manifest).read_text())
    settings = with_data_dir(sm.params.settings, manifest["dir"])
    train_classifier_run(settings, manifest, sm.output.model, sm.output.summary, log,
                         threads=sm.threads, gpus=sm.resources.gpu, features=sm.output.features,
                         log=sm.log[0])
