"""Shared fixtures: the repository root, the committed MNIST copy, a quiet TensorFlow."""

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT / "resources" / "mnist"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture()
def mnist_copy(tmp_path) -> Path:
    """A private copy of the four MNIST files that a test may damage."""
    target = tmp_path / "mnist"
    target.mkdir()
    for f in MNIST.glob("*.gz"):
        shutil.copy(f, target / f.name)
    return target
