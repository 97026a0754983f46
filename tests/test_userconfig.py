"""What users type becomes what the schema checks: the grid short form of ``--config`` and
numbers that YAML 1.1 reads as strings (vaestudy.userconfig)."""

import pytest
import yaml

from vaestudy.userconfig import coerce, normalize


@pytest.fixture(scope="module")
def schema(root):
    return yaml.safe_load((root / "workflow" / "schemas" / "config.schema.yaml").read_text())


def test_grid_short_form_moves_into_study_as_typed_lists(schema):
    config = {"study": {"losses": ["bce"], "seeds": [0]}, "losses": "bce,mse",
              "latent_dims": "2, 8,32", "seeds": 3}
    normalize(config, schema)
    assert config == {"study": {"losses": ["bce", "mse"], "latent_dims": [2, 8, 32],
                                "seeds": [3]}}


def test_yaml11_number_strings_become_numbers_where_the_schema_wants_them(schema):
    config = normalize({"training": {"learning_rate": "1e-4", "epochs": "6"},
                        "loss_variants": {"tiny": {"family": "mse", "sigma": "1.0e-30"}}},
                       schema)
    assert config["training"] == {"learning_rate": 1e-4, "epochs": 6}
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
                                        ("likelihood", "loss_variants")])
def test_a_retired_section_says_where_its_settings_went(schema, key, where):
    from vaestudy.userconfig import RETIRED, RetiredKeyError

    with pytest.raises(RetiredKeyError, match=f"config key '{key}' is no longer read: .*{where}"):
        normalize({key: {}}, schema)
    assert not set(RETIRED) & set(schema["properties"])  # retired keys are not in the schema
