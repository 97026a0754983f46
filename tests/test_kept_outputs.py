"""A finished job's outputs survive Snakemake deleting them (vaestudy.jobs.kept_outputs)."""

import shutil
from pathlib import Path

import pytest

from vaestudy.jobs import kept_outputs

KEY = {"training": {"epochs": 2}, "code": "0.1.0+abc"}


@pytest.fixture()
def outputs(tmp_path) -> dict[str, str]:
    """A run's outputs: files and a folder of files, and an empty folder (a diverged run's
    model)."""
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "encoder.keras").write_bytes(b"weights")
    (run / "model" / ".snakemake_timestamp").write_text("")
    (run / "empty").mkdir()
    (run / "history.csv").write_text("epoch\n1\n")
    return {"model": str(run / "model"), "empty": str(run / "empty"),
            "history": str(run / "history.csv")}


def _delete(outputs: dict[str, str]) -> None:
    """What Snakemake does to a job's outputs before it runs the job again."""
    for path in map(Path, outputs.values()):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def test_kept_outputs_come_back_with_the_same_bytes_and_no_extra_disk(outputs, tmp_path):
    kept_outputs.keep(outputs, KEY)
    run = tmp_path / "run"
    assert (run / "history.csv").stat().st_nlink == 2  # a hard link, not a copy
    _delete(outputs)
    assert kept_outputs.restore(outputs, KEY)
    assert (run / "model" / "encoder.keras").read_bytes() == b"weights"
    assert (run / "history.csv").read_text() == "epoch\n1\n"
    assert (run / "empty").is_dir() and not list((run / "empty").iterdir())
    assert not (run / "model" / ".snakemake_timestamp").exists()  # hidden files are not kept


def test_outputs_relative_to_the_working_directory(outputs, tmp_path, monkeypatch):
    """Snakemake gives a relative output_dir's paths relative to its working directory
    (the default study: results/runs/...): kept and restored all the same."""
    monkeypatch.chdir(tmp_path)
    relative = {name: str(Path(path).relative_to(tmp_path)) for name, path in outputs.items()}
    kept_outputs.keep(relative, KEY)
    _delete(relative)
    assert kept_outputs.restore(relative, KEY)
    assert (tmp_path / "run" / "model" / "encoder.keras").read_bytes() == b"weights"


def test_outputs_of_other_settings_or_code_are_not_restored(outputs, tmp_path):
    kept_outputs.keep(outputs, KEY)
    _delete(outputs)
    assert not kept_outputs.restore(outputs, {**KEY, "code": "0.1.0+def"})
    assert not (tmp_path / "run" / "history.csv").exists()
    assert not kept_outputs.folder(outputs).exists()  # the stale outputs are dropped
    assert not kept_outputs.restore(outputs, KEY)


def test_a_record_cut_short_is_not_trusted(outputs, tmp_path):
    """A job killed while keeping its outputs leaves no record: the record is written last,
    and a file it lists that is missing voids it."""
    kept_outputs.keep(outputs, KEY)
    (kept_outputs.folder(outputs) / "history.csv").unlink()
    _delete(outputs)
    assert not kept_outputs.restore(outputs, KEY)
    assert not (tmp_path / "run" / "model").exists()


def test_restored_says_so_in_the_log_only_when_it_restores(outputs, caplog):
    """A job started again after its outputs were kept links them back and logs where from;
    with nothing kept it trains (False) and logs nothing."""
    import logging

    logger = logging.getLogger("test_finished")
    with caplog.at_level(logging.INFO, logger="test_finished"):
        assert not kept_outputs.restored(outputs, KEY, "run bce/2/0", logger)
        assert caplog.records == []
        kept_outputs.keep(outputs, KEY)
        _delete(outputs)
        assert kept_outputs.restored(outputs, KEY, "run bce/2/0", logger)
    assert Path(outputs["history"]).read_text() == "epoch\n1\n"
    (record,) = caplog.records
    assert record.getMessage().startswith("run bce/2/0 had finished with these settings")
    assert str(kept_outputs.folder(outputs)) in record.getMessage()


def test_a_restoring_job_shows_the_log_of_the_job_that_trained(outputs, tmp_path, caplog):
    """The log of the job that produced the kept outputs (its per-epoch lines) is kept with
    them, and a job that restores them writes it into its own log, which Snakemake replaced."""
    import logging

    log = tmp_path / "train.log"
    log.write_text("INFO epoch 1: train 180.2, val 171.9 nats\nINFO epoch 2: train 150.1\n")
    kept_outputs.keep(outputs, KEY, str(log))
    log.write_text("")  # the next job's log starts empty
    _delete(outputs)
    logger = logging.getLogger("test_finished")
    with caplog.at_level(logging.INFO, logger="test_finished"):
        assert kept_outputs.restored(outputs, KEY, "run bce/2/0", logger)
    kept = caplog.records[-1].getMessage()
    assert kept.startswith("the log of the job that produced them, as it was (each line")
    assert kept.endswith(f"\n{kept_outputs.QUOTE}INFO epoch 1: train 180.2, val 171.9 nats"
                         f"\n{kept_outputs.QUOTE}INFO epoch 2: train 150.1")
