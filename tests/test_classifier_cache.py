"""The classifier is trained once per machine (vaestudy.jobs.machine_cache): a second study
with another output folder links it, another setting, other data or other code trains it."""

import logging

import numpy as np
import pytest

from vaestudy.core.datasets import FILES
from vaestudy.evaluation import classifier
from vaestudy.jobs import classifier_run, machine_cache, runtime

SETTINGS = {"dataset": "mnist", "classifier": {"epochs": 1, "seed": 0},
            "data": {"validation_size": 64, "split_seed": 0, "train_subset": 256,
                     "test_subset": 32}}


class FakeNet:
    """Stands in for the Keras classifier: saving writes its epochs' count."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def save(self, path):
        open(path, "wb").write(b"classifier of %d epochs" % self.epochs)


@pytest.fixture()
def trained(monkeypatch, tmp_path, root):
    """Trainings of the (fake) classifier, counted; the cache in a temporary folder."""
    calls = []

    def train(x, y, x_val, y_val, epochs, seed):
        calls.append(epochs)
        return FakeNet(epochs), {"val_accuracy": [0.5]}

    monkeypatch.setattr(classifier, "train_classifier", train)
    monkeypatch.setattr(classifier, "features_and_predictions",
                        lambda net, x: (np.zeros((len(x), 128)), np.zeros(len(x), int)))
    monkeypatch.setattr(runtime, "configure", lambda *a, **k: "cpu")
    monkeypatch.setenv(machine_cache.ENV, str(tmp_path / "cache"))
    return calls


def _manifest(root, sha: str | None = None) -> dict:
    manifest = {"dataset": "mnist", "dir": str(root / "resources" / "mnist"),
                "files": {name: {"sha256_decompressed": sha or f"sha-{name}"}
                          for name in FILES.values()}}
    return manifest


def _study(root, tmp_path, name: str, settings: dict = SETTINGS, sha: str | None = None):
    """One study's classifier job in its own output folder; its outputs."""
    manifest = _manifest(root, sha)
    folder = tmp_path / name / "classifier" / "mnist"
    out = {"model": folder / "classifier.keras", "summary": folder / "classifier.json",
           "features": folder / "test_features.npy"}
    data = {**settings["data"], "dir": manifest["dir"]}
    classifier_run.train_classifier_run({**settings, "data": data}, manifest, str(out["model"]),
                                        str(out["summary"]), logging.getLogger("test"),
                                        features=str(out["features"]))
    return out


def test_a_second_study_links_the_classifier_of_the_first(root, tmp_path, trained, caplog):
    first = _study(root, tmp_path, "a")
    with caplog.at_level(logging.INFO, logger="test"):
        second = _study(root, tmp_path, "b")
    assert trained == [1]  # trained once
    for name in first:
        assert second[name].read_bytes() == first[name].read_bytes()
    assert "made by an earlier study on this machine" in caplog.text
    assert str(tmp_path / "cache" / "classifier") in caplog.text


def test_other_settings_data_or_code_train_again(root, tmp_path, trained, monkeypatch):
    _study(root, tmp_path, "a")
    _study(root, tmp_path, "b", {**SETTINGS, "classifier": {"epochs": 2, "seed": 0}})
    _study(root, tmp_path, "c", sha="other data")
    monkeypatch.setattr(classifier_run, "code_version", lambda: "0.1.0+other")
    _study(root, tmp_path, "d")
    assert trained == [1, 2, 1, 1]
    assert (tmp_path / "b" / "classifier" / "mnist" / "classifier.keras").read_bytes() == \
        b"classifier of 2 epochs"


def test_the_data_folder_is_not_part_of_the_key(root):
    moved = {**_manifest(root), "dir": "/elsewhere"}
    settings = {**SETTINGS, "data": {**SETTINGS["data"], "dir": "/elsewhere"}}
    assert classifier_run.classifier_key(settings, moved) == \
        classifier_run.classifier_key({**SETTINGS, "data": {**SETTINGS["data"], "dir": "/x"}},
                                      _manifest(root))


def test_a_damaged_entry_is_not_trusted_and_off_turns_the_cache_off(root, tmp_path, trained,
                                                                    monkeypatch):
    _study(root, tmp_path, "a")
    (entry,) = (tmp_path / "cache" / "classifier").iterdir()
    (entry / "test_features.npy").unlink()
    _study(root, tmp_path, "b")
    assert trained == [1, 1]
    monkeypatch.setenv(machine_cache.ENV, "off")
    assert machine_cache.root() is None
    _study(root, tmp_path, "c")
    assert trained == [1, 1, 1]


def test_the_default_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(machine_cache.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert machine_cache.root() == tmp_path / "vaestudy"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert machine_cache.root() == tmp_path / "home" / ".cache" / "vaestudy"
