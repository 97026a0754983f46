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


def _schema(root):
    import yaml

    return yaml.safe_load((root / "workflow" / "schemas" / "config.schema.yaml").read_text())


def test_config_objects_agree_with_the_schema(root):
    """The JSON schema is the config's contract; the typed objects must have exactly its keys
    and defaults, and refuse the values just below its minimums."""
    import dataclasses

    from vaestudy.config import SECTIONS, ClassifierConfig

    props = _schema(root)["properties"]
    for name, cls in {**SECTIONS, "classifier": ClassifierConfig}.items():
        schema = props[name]["properties"]
        fields = {f.name: f for f in dataclasses.fields(cls)}
        assert set(schema) == set(fields), name
        obj = cls()
        for key, spec in schema.items():
            default = getattr(obj, key)
            if key == "representation":
                assert default == {k: v["default"] for k, v in spec["properties"].items()}
                continue
            assert (list(default) if isinstance(default, tuple) else default) == spec["default"], \
                f"{name}.{key}"
            if "minimum" in spec and spec.get("type") == "integer":
                with pytest.raises(ConfigError):
                    cls(**{key: spec["minimum"] - 1})
