"""The checks the workflow runs before any job, beyond what the config's JSON schema can say:
the subsets and the batch fit their splits, every loss resolves (the evaluation's overrides'
too), each folder of ``data.dirs``
exists, the output directory is a writable folder of the study's own, and each dataset is on
this machine (verified) or can be downloaded.

Why a module: ``workflow/rules/common.smk`` keeps paths and input functions;
``workflow/rules/setup.smk`` calls :func:`run` once and turns its one error type into Snakemake's
``WorkflowError``, so a bad setting stops the workflow in seconds with one message that names the
key and the fix. Nothing here writes anything. TensorFlow-free (Snakemake imports it when it plans).
"""

from __future__ import annotations

import os

from vaestudy.core import data, datasets, fetch, layout, losses


class PreflightError(ValueError):
    """A setting or a folder that would make the study fail; the message names the fix."""


def run(config: dict, root: str, out: str, cwd: str | None = None) -> dict[str, str]:
    """Every check, in the order a user fixes them; returns the folder each dataset of the
    grid is read from (:func:`data_dirs`). ``root``: the workflow's repository; ``out``: the
    config's ``output_dir``; ``cwd``: the working directory (default: the current one)."""
    sizes_and_losses(config)
    overrides_name_losses(config)
    data_dirs_exist(config["data"]["dirs"], root)
    output_dir_is_its_own(out, cwd or os.getcwd(), root)
    output_dir_is_writable(out)
    return data_dirs(config, root, out)


def sizes_and_losses(config: dict) -> None:
    """The subsets and the batch fit their splits (:func:`vaestudy.core.data.check_sizes`) and every
    loss of the grid resolves (:func:`vaestudy.core.losses.resolve`)."""
    d = config["data"]
    try:
        data.check_sizes(d["validation_size"], d["train_subset"], d["test_subset"],
                         config["training"]["batch_size"])
    except data.DataError as err:
        raise PreflightError(str(err)) from None
    _resolve(config["study"]["losses"], config, "study.losses")


def overrides_name_losses(config: dict) -> None:
    """Every loss an entry of ``evaluation.overrides`` lists resolves (a misspelt one would
    select no run, silently). Losses and budgets outside the grid are allowed: the same
    config runs a part of its grid (``--config epochs=2,10``); datasets are the schema's."""
    for i, entry in enumerate(config["evaluation"].get("overrides", [])):
        _resolve(entry.get("losses", []), config, f"evaluation.overrides[{i}].losses")


def _resolve(names: list[str], config: dict, key: str) -> None:
    """Each loss of ``names`` (the config's ``key``) resolves, or an error that names the key."""
    for loss in names:
        try:
            losses.resolve(loss, config["loss_variants"])
        except losses.LossError as err:
            raise PreflightError(f"config '{key}': {err}") from None


def data_dirs_exist(dirs: dict[str, str], root: str) -> None:
    """Each folder of ``data.dirs`` exists: prepare_data downloads the files missing from it,
    but a folder that does not exist is more likely a typo than a wish to download."""
    for name, raw in dirs.items():
        title = datasets.get(name).title
        if not raw.strip():
            raise PreflightError(
                f"config 'data.dirs.{name}' is empty; name the folder of the four {title} .gz "
                f"files, or leave the key out to use the default places "
                f"(vaestudy.core.fetch.locate).")
        path = os.path.join(root, raw)  # relative paths belong to the workflow
        if not os.path.isdir(path):
            raise PreflightError(
                f"config 'data.dirs.{name}' = '{raw}': {path} is not an existing folder (a "
                f"relative path is relative to the workflow's repository {root}). Point it at "
                f"a folder with the four official {title} .gz files, or create the folder: the "
                f"rule prepare_data then downloads the missing files into it from the official "
                f"mirrors.")


def output_dir_is_its_own(out: str, cwd: str, root: str) -> None:
    """``output_dir`` is a folder of the study's own, because the study writes runs/, data/,
    logs/, report.html ... directly in it: a non-empty relative path inside ``cwd``, or an
    absolute path; never the filesystem root, ``cwd``, the repository ``root`` or a folder
    that contains either (``""`` once planned /theory/checks.csv)."""
    fix = "choose a folder of its own, e.g. --config output_dir=results (or an absolute path)"
    if not out.strip():
        raise PreflightError(f"config 'output_dir' is empty: the study would be written to the "
                             f"filesystem root; {fix}.")
    if not os.path.isabs(out) and os.path.normpath(out).split(os.sep)[0] == os.pardir:
        raise PreflightError(f"config 'output_dir' = '{out}' leaves the working directory "
                             f"{cwd}: a relative output_dir must stay inside it; {fix}.")
    target = os.path.realpath(os.path.join(cwd, out))
    if target == os.path.dirname(target):
        raise PreflightError(f"config 'output_dir' = '{out}' is the filesystem root; {fix}.")
    for what, place in (("the workflow's repository", root), ("the working directory", cwd)):
        if os.path.commonpath([target, os.path.realpath(place)]) == target:
            raise PreflightError(f"config 'output_dir' = '{out}' is or contains {what} {place}: "
                                 f"the study would write its folders among other files; {fix}.")


def output_dir_is_writable(out: str) -> None:
    """``output_dir`` is, or can be created as, a writable directory (its nearest existing
    ancestor is one)."""
    existing = os.path.abspath(out)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not (os.path.isdir(existing) and os.access(existing, os.W_OK | os.X_OK)):
        raise PreflightError(
            f"output_dir '{out}' is not a writable directory ({existing} is not a writable "
            f"directory); choose another with --config output_dir=PATH or free the path.")


def data_dirs(config: dict, root: str, out: str) -> dict[str, str]:
    """The folder each dataset of the grid is read from (or downloaded into), its files
    verified (:func:`vaestudy.core.fetch.require_obtainable`): a damaged file, or a dataset that
    is not on this machine and cannot be downloaded, stops the workflow here."""
    found = {}
    for name in config["study"]["datasets"]:
        cache = os.path.abspath(layout.downloads(out, name))
        try:
            found[name] = str(fetch.require_obtainable(
                datasets.get(name), config["data"]["dirs"].get(name), root, cache))
        except datasets.DataError as err:
            raise PreflightError(str(err)) from None
    return found

