# Before any rule: the package on sys.path, the config normalized and validated (schema, then
# vaestudy.core.preflight), the local memory cap and how jobs execute, the grid and its
# wildcards.
import json
import os
import re
import sys

import yaml
from snakemake.exceptions import IncompleteCheckpointException, WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")

# The package beside the workflow, first on sys.path: one rule with the jobs, which
# workflow/scripts/_bootstrap.py puts on the same path (docs/architecture.md).
ROOT = os.path.abspath(os.path.join(workflow.current_basedir, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "src"))
from vaestudy.core import rule_params  # noqa: E402
from vaestudy.core import layout  # noqa: E402
from vaestudy.core import pictured as pictured_lib  # noqa: E402
from vaestudy.core import preflight  # noqa: E402
from vaestudy.core.userconfig import normalize  # noqa: E402

SCHEMA = workflow.source_path("../schemas/config.schema.yaml")
with open(SCHEMA) as schema_file:
    normalize(config, yaml.safe_load(schema_file))
validate(config, SCHEMA)

OUT = config["output_dir"]


# What the schema cannot check (vaestudy.core.preflight): stopped here, before any job, with one
# message naming the key or folder and the fix; the folder of each dataset, verified.
try:
    DATA_DIRS = preflight.run(config, ROOT, OUT)
except preflight.PreflightError as err:
    raise WorkflowError(str(err)) from None


def limit_local_memory():
    """A local run never starts more jobs than this machine's memory holds: unless
    ``--resources mem_mb=N`` is given, the total of the running jobs' ``mem_mb`` (each rule's
    measured peak plus a margin) is capped at 90 % of the physical memory (docs/clusters.md)."""
    local = workflow.local_exec and not workflow.remote_exec
    if local and "mem_mb" not in workflow.resource_settings.resources:
        physical_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
        workflow.register_resource("mem_mb", int(0.9 * physical_mb))


limit_local_memory()


def study_execution():
    """How this run executes jobs, for the report's efficiency numbers: the rules' threads
    (after a profile's set-threads, capped at --cores as Snakemake does locally) and the
    cores of a local run (None when jobs go to a cluster)."""
    local = workflow.local_exec and not workflow.remote_exec
    try:
        cores = workflow.cores if local else None
    except WorkflowError:  # no --cores: a run that executes nothing (--report, --lint)
        cores = None
    threads = {}
    for r in workflow.rules:
        t = r.resources.get("_cores")
        if isinstance(t, int):
            threads[r.name] = min(t, cores) if cores else t
    return {"cores": cores, "threads": threads}


GRID = dict(
    dataset=config["study"]["datasets"],
    # training budgets, shortest first: a longer one continues the next shorter one's runs
    epochs=sorted(config["study"]["epochs"]),
    loss=config["study"]["losses"],
    latent=config["study"]["latent_dims"],
    seed=config["study"]["seeds"],
)
# The per-run jobs after training (evaluate, then run_pictures, which reads its metrics) share
# one group per run: on a cluster they are one submission.
RUN_GROUP = "run_{dataset}_{epochs}_{loss}_{latent}_{seed}"
# The jobs of one dataset (its data, its classifier, its plots).
DATASET_KEY = layout.DATASET_KEY


wildcard_constraints:
    dataset="|".join(map(re.escape, GRID["dataset"])),
    epochs=r"\d+",
    loss="|".join(map(re.escape, GRID["loss"])),
    latent=r"\d+",
    seed=r"\d+",
