"""What users type becomes what the schema checks: the grid short form of ``--config`` and
numbers that YAML 1.1 reads as strings (vaestudy.core.userconfig)."""

import re

import pytest
import yaml

from vaestudy.core.userconfig import NonFiniteError, coerce, normalize


@pytest.fixture(scope="module")
def schema(root):
    return yaml.safe_load((root / "workflow" / "schemas" / "config.schema.yaml").read_text())


def test_grid_short_form_moves_into_study_as_typed_lists(schema):
    config = {"study": {"losses": ["bce"], "seeds": [0]}, "losses": "bce,mse",
              "latent_dims": "2, 8,32", "seeds": 3, "epochs": "2,10"}
    normalize(config, schema)
    assert config == {"study": {"losses": ["bce", "mse"], "latent_dims": [2, 8, 32],
                                "seeds": [3], "epochs": [2, 10]}}


def test_the_training_budget_moved_to_the_grid(schema):
    """``training.epochs`` (one budget) became ``study.epochs`` (a list): a config that still
    sets it stops with the new place, not with the schema's 'unexpected'."""
    from vaestudy.core.userconfig import RetiredKeyError

    with pytest.raises(RetiredKeyError, match=r"'training.epochs' is no longer read: .*"
                                              r"study.epochs.*--config epochs=2,10"):
        normalize({"training": {"epochs": 30, "batch_size": 64}}, schema)
    assert "epochs" not in schema["properties"]["training"]["properties"]


def test_yaml11_number_strings_become_numbers_where_the_schema_wants_them(schema):
    config = normalize({"training": {"learning_rate": "1e-4", "batch_size": "6"},
                        "loss_variants": {"tiny": {"family": "mse", "sigma": "1.0e-30"}}},
                       schema)
    assert config["training"] == {"learning_rate": 1e-4, "batch_size": 6}
    assert config["loss_variants"]["tiny"]["sigma"] == 1e-30  # in a named variant too


@pytest.mark.parametrize("value, kind, expected", [
    ("2.5", "integer", "2.5"),  # not an integer: left for the schema to reject
    ("abc", "number", "abc"),
    ("1e3", "integer", 1000),
    (7, "number", 7),
])
def test_coerce_leaves_what_is_not_a_number_of_that_kind(value, kind, expected):
    assert coerce(value, {"type": kind}) == expected


def test_strings_are_not_numbers_where_the_schema_wants_strings(schema):
    config = normalize({"output_dir": "2026", "study": {"losses": "mse"}}, schema)
    assert config["output_dir"] == "2026" and config["study"]["losses"] == "mse"


@pytest.mark.parametrize("key, where", [("resources", "--set-threads train=4"),
                                        ("likelihood", "loss_variants"),
                                        ("figures", "rename .figures:. to .pictures:.")])
def test_a_retired_section_says_where_its_settings_went(schema, key, where):
    from vaestudy.core.userconfig import RETIRED, RetiredKeyError

    with pytest.raises(RetiredKeyError, match=f"config key '{key}' is no longer read: .*{where}"):
        normalize({key: {}}, schema)
    assert not set(RETIRED) & set(schema["properties"])  # retired keys are not in the schema


def _number_keys(schema: dict, key: str = "") -> list[str]:
    """The dotted key of every number (or integer) of ``schema``; ``[0]`` for array items,
    ``v`` for a named loss variant."""
    if schema.get("type") in ("number", "integer"):
        return [key]
    if schema.get("type") == "array":
        return _number_keys(schema["items"], f"{key}[0]")
    variant = schema.get("additionalProperties")
    found = _number_keys(variant, f"{key}.v") if isinstance(variant, dict) else []
    for name, sub in schema.get("properties", {}).items():
        found += _number_keys(sub, f"{key}.{name}" if key else name)
    return found


def _config_with(key: str, value) -> dict:
    """A config that sets the dotted ``key`` (as :func:`_number_keys` names it; an array's
    item ``[0]``) to ``value``."""
    *path, last = key.removesuffix("[0]").split(".")
    config: dict = {}
    node = config
    for name in path:  # an array of objects (evaluation.overrides[0].iwae_samples): one item
        node = (node.setdefault(name.removesuffix("[0]"), [{}])[0] if name.endswith("[0]")
                else node.setdefault(name, {}))
    node[last] = [value] if key.endswith("[0]") else value
    if key.startswith("loss_variants.v."):  # a loss variant needs its family
        config["loss_variants"]["v"]["family"] = "mse"
    return config


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), "nan", "-Infinity"])
def test_every_number_of_the_config_must_be_finite(schema, value):
    """NaN passes every comparison of a schema (exclusiveMinimum: 0 is false for it), so the
    rule is vaestudy.core.userconfig's: any number key of the schema, in YAML (.nan, .inf) or as
    a string ("nan"), is refused with its key."""
    keys = _number_keys(schema)
    assert "training.learning_rate" in keys and "loss_variants.v.sigma" in keys
    assert "study.seeds[0]" in keys and "evaluation.overrides[0].iwae_samples" in keys
    assert len(keys) > 25
    for key in keys:
        with pytest.raises(NonFiniteError, match=rf"config '{re.escape(key)}' = -?(nan|inf) is "
                                                 rf"not a finite number"):
            normalize(_config_with(key, value), schema)


@pytest.mark.parametrize("text, key", [
    ("training: {learning_rate: .nan}", "training.learning_rate"),
    ('training: {learning_rate: "nan"}', "training.learning_rate"),
    ("study: {losses: [s]}\nloss_variants: {s: {family: mse, sigma: .inf}}",
     "loss_variants.s.sigma"),
    ("study: {seeds: [0, -.inf]}", "study.seeds[1]"),
])
def test_a_dry_run_refuses_a_number_that_is_not_finite_in_seconds(root, tmp_path, text, key):
    import time

    from conftest import snakemake

    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'out'}\n{text}\n")
    t0 = time.perf_counter()
    result = snakemake(root, "-n", "--configfile", str(cfg))
    output = result.stdout + result.stderr
    assert result.returncode != 0 and time.perf_counter() - t0 < 30
    assert f"config '{key}' = " in output and "is not a finite number" in output, output[-2000:]
    assert "Job stats" not in output and not (tmp_path / "out").exists()
