"""Config objects: defaults, unknown keys and bad values are errors that name the key."""

import pytest

from vaestudy.config import ConfigError, RunConfig, load_run_config, run_config


def test_defaults_and_round_trip(tmp_path):
    cfg = run_config({"training": {"epochs": 3}}, "bce", 16, 0)
    assert cfg.training.epochs == 3 and cfg.data.binarization == "dynamic"
    cfg.save(tmp_path / "config.json")
    assert load_run_config(tmp_path / "config.json") == cfg


@pytest.mark.parametrize(
    "config, loss, latent, seed, message",
    [
        ({"training": {"epoch": 3}}, "bce", 2, 0, r"unknown key\(s\) \['epoch'\] in 'training'"),
        ({}, "l1", 2, 0, "'loss' = 'l1' is invalid; allowed: bce, mse"),
        ({}, "bce", 0, 0, "'latent_dim' = 0 is invalid"),
        ({"training": {"epochs": 0}}, "bce", 2, 0, "'training.epochs' = 0"),
        ({"data": {"binarization": "otsu"}}, "bce", 2, 0, "'data.binarization' = 'otsu'"),
        ({"likelihood": {"mse_sigma": -1}}, "mse", 2, 0, "'likelihood.mse_sigma' = -1"),
        ({"model": {"encoder_filters": [8]}}, "bce", 2, 0, "'model.encoder_filters'"),
        ({"training": {"precision": "float16"}}, "bce", 2, 0,
         "'training.precision' = 'float16' is invalid; allowed: float32, mixed_bfloat16"),
    ],
)
def test_bad_config_names_the_key(config, loss, latent, seed, message):
    with pytest.raises(ConfigError, match=message):
        run_config(config, loss, latent, seed)


def test_run_config_is_immutable():
    cfg = RunConfig(loss="mse", latent_dim=2, seed=1)
    with pytest.raises(AttributeError):
        cfg.loss = "bce"
