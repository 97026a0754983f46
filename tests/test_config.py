"""Config objects: defaults, unknown keys and bad values are errors that name the key."""

import pytest

from vaestudy.core.config import ConfigError, RunConfig, run_config
from vaestudy.core.trained_run import load_run_config


def test_defaults_and_round_trip(tmp_path):
    cfg = run_config({"training": {"epochs": 3}}, "bce", 16, 0)
    assert cfg.training.epochs == 3 and cfg.data.binarization == "dynamic"
    cfg.save(tmp_path / "config.json")
    assert load_run_config(tmp_path / "config.json") == cfg


@pytest.mark.parametrize(
    "config, loss, latent, seed, message",
    [
        ({"training": {"epoch": 3}}, "bce", 2, 0, r"unknown key\(s\) \['epoch'\] in 'training'"),
        ({}, "l1", 2, 0, "unknown loss 'l1': built-in losses are .*define others under "
                         "'loss_variants'"),
        ({"loss_variants": {"mse": {"family": "mse", "sigma": 2}}}, "mse", 2, 0,
         r"loss_variants \['mse'\] redefine built-in losses"),
        ({"loss_variants": {"m2": {"family": "mse", "scale": 2}}}, "m2", 2, 0,
         r"family mse takes settings \['sigma'\] and data in .*; got \['scale'\]"),
        ({"loss_variants": {"m2": {"family": "mse", "sigma": -1}}}, "m2", 2, 0,
         "sigma must be > 0"),
        ({"loss_variants": {"m2": {"family": "l2"}}}, "m2", 2, 0, "'family' must be one of"),
        ({}, "bce", 0, 0, "'latent_dim' = 0 is invalid"),
        ({"training": {"epochs": 0}}, "bce", 2, 0, "'training.epochs' = 0"),
        ({"data": {"binarization": "otsu"}}, "bce", 2, 0, "'data.binarization' = 'otsu'"),
        ({"model": {"encoder_filters": [8]}}, "bce", 2, 0, "'model.encoder_filters'"),
        ({"training": {"precision": "float16"}}, "bce", 2, 0,
         "'training.precision' = 'float16' is invalid; allowed: float32, mixed_bfloat16"),
        # every number is finite (the rule of vaestudy.core.userconfig, also in the objects)
        ({"training": {"learning_rate": float("nan")}}, "bce", 2, 0,
         "'training.learning_rate' = nan is not a finite number"),
        ({"loss_variants": {"m2": {"family": "mse", "sigma": float("inf")}}}, "m2", 2, 0,
         "'loss_variants.m2.sigma' = inf is not a finite number"),
        ({"loss_variants": {"g": {"family": "gauss-learned", "min_log_sigma": "-inf"}}}, "g",
         2, 0, "'loss_variants.g.min_log_sigma' = -inf is not a finite number"),
    ],
)
def test_bad_config_names_the_key(config, loss, latent, seed, message):
    with pytest.raises(ConfigError, match=message):
        run_config(config, loss, latent, seed)


def test_run_config_is_immutable():
    cfg = run_config({}, "mse", 2, 1)
    with pytest.raises(AttributeError):
        cfg.loss = "bce"
    with pytest.raises(ConfigError, match="'loss' = 'bce' is invalid"):
        RunConfig(loss="bce", latent_dim=2, seed=1, likelihood=cfg.likelihood)


def test_loss_variants_resolve_and_are_saved_with_the_run(tmp_path):
    """A named variant carries its family's settings; the run's config.json holds it
    resolved, so the saved run reads back without the study's loss_variants."""
    config = {"loss_variants": {"mse-sigma0.1": {"family": "mse", "sigma": 0.1},
                                "bce-gray": {"family": "bce", "data": "gray"}}}
    cfg = run_config(config, "mse-sigma0.1", 16, 0)
    assert (cfg.likelihood.family, cfg.likelihood.sigma) == ("mse", 0.1)
    assert cfg.likelihood.beta == pytest.approx(0.02) and cfg.binarization == "dynamic"
    cfg.save(tmp_path / "config.json")
    assert load_run_config(tmp_path / "config.json") == cfg
    assert run_config(config, "bce-gray", 2, 0).binarization == "dequantized"
    mean = run_config({}, "mse-mean", 2, 0).likelihood
    assert mean.beta == pytest.approx(784) and "β = 784" in mean.describe()
    assert run_config({}, "gauss-learned", 2, 0).likelihood.settings == {"min_log_sigma": -6.0,
                                                                         "init_sigma": 0.1}
    plain = run_config({}, "mse", 2, 0).likelihood
    assert (plain.sigma, plain.beta) == (1.0, 2.0) and "σ = 1, β = 2" in plain.describe()


def test_train_settings_of_a_loss_ignore_other_losses_variants():
    """Changing one variant's sigma re-trains that variant's runs only (the rule's params)."""
    from vaestudy.core.rule_params import train_settings

    base = {"data": {"test_subset": 0}, "model": {}, "training": {}, "pictures":
            {"latent_seed": 1, "grid_size": 8}, "loss_variants": {"a": {"family": "mse"}}}
    other = {**base, "loss_variants": {"a": {"family": "mse", "sigma": 0.5}}}
    assert train_settings(base, "bce", 2) == train_settings(other, "bce", 2)
    assert train_settings(base, "a", 2) != train_settings(other, "a", 2)


def test_train_settings_hold_the_runs_budget_and_continuation_ignores_it():
    """A run's budget is its training.epochs (a change re-trains it); what a longer budget must
    share with the shorter run it continues is everything else."""
    from vaestudy.core.rule_params import continued_settings, train_settings

    base = {"data": {"test_subset": 0}, "model": {}, "training": {"batch_size": 64},
            "pictures": {"latent_seed": 1, "grid_size": 8}}
    two, ten = train_settings(base, "bce", 2), train_settings(base, "bce", "10")
    assert (two["training"], ten["training"]) == ({"batch_size": 64, "epochs": 2},
                                                  {"batch_size": 64, "epochs": 10})
    assert continued_settings(two) == continued_settings(ten) != two
    other = train_settings({**base, "training": {"batch_size": 32}}, "bce", 2)
    assert continued_settings(other) != continued_settings(two)
    assert base["training"] == {"batch_size": 64}  # the workflow's config is not changed


def test_evaluation_overrides_reach_the_runs_they_select_only():
    """An entry of evaluation.overrides replaces the estimator settings of the runs whose
    dataset, loss and budget it lists (a later entry winning); every other run keeps the
    params it had without the list (its evaluation does not re-run)."""
    from vaestudy.core.rule_params import evaluation_settings

    plain = {"data": {"test_subset": 0}, "evaluation": {"iwae_samples": 100, "iwae_images": 2000}}
    entries = [{"losses": ["bce"], "epochs": [100], "iwae_samples": 1000, "iwae_images": 0},
               {"datasets": ["fashion-mnist"], "losses": ["bce"], "iwae_images": 500}]
    config = {**plain, "evaluation": {**plain["evaluation"], "overrides": entries}}

    def estimator(dataset, loss, epochs):
        section = evaluation_settings(config, dataset, loss, epochs)["evaluation"]
        assert set(section) == set(plain["evaluation"])  # the settings, not the selectors
        return section["iwae_samples"], section["iwae_images"]

    assert estimator("mnist", "bce", 100) == (1000, 0)
    assert estimator("fashion-mnist", "bce", "100") == (1000, 500)  # the later entry wins
    assert estimator("fashion-mnist", "bce", 30) == (100, 500)
    for run in (("mnist", "bce", 30), ("mnist", "mse", 100)):
        assert evaluation_settings(config, *run) == evaluation_settings(plain, *run)
    assert config["evaluation"]["overrides"] == entries  # the workflow's config is not changed


def test_log_px_decodes_count_the_images_there_are():
    """K x images, an override's included: 0 images means every test image (10,000, or the
    test subset), and more than there are means all of them."""
    from vaestudy.core.rule_params import log_px_decodes

    entry = {"losses": ["bce"], "epochs": [100], "iwae_samples": 1000, "iwae_images": 0}
    config = {"data": {"test_subset": 0},
              "evaluation": {"iwae_samples": 100, "iwae_images": 2000, "overrides": [entry]}}
    assert log_px_decodes(config, "mnist", "bce", 100) == 1000 * 10000
    assert log_px_decodes(config, "mnist", "mse", 100) == 100 * 2000
    config["data"]["test_subset"] = 500
    assert log_px_decodes(config, "mnist", "bce", 100) == 1000 * 500
    assert log_px_decodes(config, "mnist", "mse", 100) == 100 * 500


def _schema(root):
    import yaml

    return yaml.safe_load((root / "workflow" / "schemas" / "config.schema.yaml").read_text())


def test_config_objects_agree_with_the_schema(root):
    """The JSON schema is the config's contract; the typed objects must have exactly its keys
    and defaults, and refuse the values just below its minimums."""
    import dataclasses

    from vaestudy.core.config import SECTIONS, ClassifierConfig

    props = _schema(root)["properties"]
    # where the data lives is the workflow's business (data.dirs, by dataset); a run's
    # DataConfig.dir is its dataset's folder, filled in from the prepare_data manifest
    # and a run's budget, TrainingConfig.epochs, is its grid point's (study.epochs); the
    # evaluation's overrides are resolved per run (rule_params.evaluation_settings)
    workflow_only = {"data": {"dirs"}, "evaluation": {"overrides"}}
    run_only = {"data": {"dir"}, "training": {"epochs"}}
    from vaestudy.core.rule_params import OVERRIDE_SELECTORS

    entry = props["evaluation"]["properties"]["overrides"]["items"]["properties"]
    for key, spec in entry.items():  # an override's setting is the section's, without default
        assert key in OVERRIDE_SELECTORS or spec == {
            k: v for k, v in props["evaluation"]["properties"][key].items()
            if k in ("type", "minimum")}, key
    assert [SECTIONS["training"]().epochs] == props["study"]["properties"]["epochs"]["default"]
    for name, cls in {**SECTIONS, "classifier": ClassifierConfig}.items():
        schema = {k: v for k, v in props[name]["properties"].items()
                  if k not in workflow_only.get(name, set())}
        fields = {f.name: f for f in dataclasses.fields(cls)
                  if f.name not in run_only.get(name, set())}
        assert set(schema) == set(fields), name
        obj = cls()
        for key, spec in schema.items():
            default = getattr(obj, key)
            assert (list(default) if isinstance(default, tuple) else default) == spec["default"], \
                f"{name}.{key}"
            if "minimum" in spec and spec.get("type") == "integer":
                with pytest.raises(ConfigError):
                    cls(**{key: spec["minimum"] - 1})


def test_schema_names_the_registry_datasets(root):
    """The dataset registry is the one home of the datasets: the schema's enums follow it."""
    from vaestudy.core.datasets import DATASETS

    props = _schema(root)["properties"]
    assert props["study"]["properties"]["datasets"]["items"]["enum"] == list(DATASETS)
    assert props["data"]["properties"]["dirs"]["propertyNames"]["enum"] == list(DATASETS)
    entry = props["evaluation"]["properties"]["overrides"]["items"]["properties"]
    assert entry["datasets"]["items"]["enum"] == list(DATASETS)


def test_schema_names_the_registry_families(root):
    """The loss registry is the one home of the families: the schema's enum follows it."""
    from vaestudy.core.losses import FAMILIES, NAME, REPRESENTATIONS

    props = _schema(root)["properties"]
    variant = props["loss_variants"]["additionalProperties"]["properties"]
    assert variant["family"]["enum"] == list(FAMILIES)
    assert variant["data"]["enum"] == list(REPRESENTATIONS)
    settings = {k for f in FAMILIES.values() for k in f.settings}
    assert set(variant) == {"family", "data"} | settings
    assert props["study"]["properties"]["losses"]["items"]["pattern"] == NAME.pattern
    assert props["loss_variants"]["propertyNames"]["pattern"] == NAME.pattern


def test_loss_registry_refuses_what_the_schema_cannot_see():
    """Names and saved settings that reach the registry without the workflow's schema (a
    script, a hand-edited config.json) are errors too; a variant on the other kind of data
    says so in its description."""
    from vaestudy.core import losses

    with pytest.raises(losses.LossError, match="must match"):
        losses.resolve("Mse", {"Mse": {"family": "mse"}})
    with pytest.raises(losses.LossError, match="family mse takes settings"):
        losses.resolve("m", {"m": {"family": "mse", "data": "grey"}})
    with pytest.raises(losses.LossError, match="sigma must be > 0"):
        losses.resolve("m", {"m": {"family": "mse", "sigma": 0}})
    spec = losses.resolve("bce-gray", {"bce-gray": {"family": "bce", "data": "gray"}})
    assert spec.describe().endswith("; on gray data (on gray levels a function of total mass "
                                    "at most 1/2 per pixel)") and spec.sigma is None
    assert spec.beta is None and not losses.resolve("bce").describe().endswith("data")
    # exact bits/dim only on the levels; a bound (with its mass) for every dequantized loss
    gray = {"g": {"family": "mse", "sigma": 0.1, "data": "gray"}}
    assert spec.dequantized and not spec.exact_levels and not losses.resolve("mse").dequantized
    assert losses.resolve("g", gray).dequantized and losses.resolve("cbern").dequantized
    assert losses.resolve("dgauss").exact_levels and losses.resolve("dlogistic").exact_levels
    saved = {"name": "mse", "family": "mse", "settings": {"sigma": 1.0}, "data": "binary"}
    assert losses.from_saved("mse", saved) == losses.resolve("mse")
    for wrong in ({**saved, "name": "bce"}, {**saved, "family": "l2"}):
        with pytest.raises(losses.LossError, match="does not belong"):
            losses.from_saved("mse", wrong)
