"""What users write, made into what the schema checks, before validation.

Two things users type that the JSON schema alone would refuse:

- **The grid on the command line.** ``snakemake --config datasets=mnist,fashion-mnist
  losses=bce,mse latent_dims=2,8`` arrives as top-level strings (Snakemake's ``--config``
  cannot set nested keys). The shorthand keys ``datasets``, ``epochs`` (training budgets),
  ``losses``, ``latent_dims`` and ``seeds`` are moved into ``study`` as lists
  (comma-separated, or a YAML list); the schema then checks every item as usual.
- **Numbers that YAML 1.1 reads as strings.** PyYAML (and so Snakemake) reads ``1e-4`` as the
  string ``"1e-4"`` (YAML 1.1 wants ``1.0e-4``). A string where the schema wants a number is
  converted when it parses as one; anything else is left for the schema to reject.

And one rule the schema cannot express: **every number is finite** (:func:`require_finite`).
NaN passes every comparison of a JSON schema (``exclusiveMinimum: 0`` is false for it) and
``.inf`` passes a minimum, so ``.nan``, ``.inf`` and ``"nan"`` are refused here, naming the
key; the config objects of :mod:`vaestudy.core.config` and :mod:`vaestudy.core.losses` apply the
same function.

Pure Python (no TensorFlow): the Snakefile calls :func:`normalize` on every parse.
"""

from __future__ import annotations

import math
from typing import Any

#: Top-level shorthand keys (``--config losses=bce,mse``): each sets the ``study`` key of its
#: name.
GRID_SHORTHAND = ("datasets", "epochs", "losses", "latent_dims", "seeds")

#: Config sections that no longer exist -> where their settings live now.
RETIRED = {
    "resources": "threads and GPUs are settings of the machine, not of the study: give them in "
                 "a profile (set-threads / set-resources, see profiles/slurm-gpu) or on the "
                 "command line, e.g. --set-threads train=4 --set-resources train:gpu=1",
    "likelihood": "a loss's settings live in 'loss_variants', e.g. {mse-sigma0.1: {family: "
                  "mse, sigma: 0.1}}, named in study.losses",
    "data.dir": "the folder of each dataset is given by name in 'data.dirs', e.g. data: "
                "{dirs: {mnist: PATH}} (study.datasets names the datasets of the grid)",
    "training.epochs": "the training budget is an axis of the grid: study.epochs, a list "
                       "(e.g. study: {epochs: [2, 10]}, or --config epochs=2,10); a longer "
                       "budget continues the runs of the next shorter one",
    "figures": "the section of the per-run pictures is called 'pictures' (the same keys: "
               "latent_seed, grid_size, n_reconstructions, manifold_size): rename 'figures:' "
               "to 'pictures:'",
}


class RetiredKeyError(ValueError):
    """The config has a section this version no longer reads; the message says where its
    settings went."""


class NonFiniteError(ValueError):
    """A number of the config is NaN or infinite; the message names its key."""


def non_finite(value: Any, key: str = "") -> tuple[str, float] | None:
    """The first number in ``value`` (nested dicts and lists; ``key`` is the dotted key of
    ``value`` itself) that is NaN or infinite, as (dotted key, number); None when every
    number is finite."""
    if isinstance(value, float) and not math.isfinite(value):
        return key, value
    items = (value.items() if isinstance(value, dict)
             else enumerate(value) if isinstance(value, (list, tuple)) else ())
    for name, item in items:
        found = non_finite(item, f"{key}[{name}]" if isinstance(name, int)
                           else f"{key}.{name}" if key else str(name))
        if found:
            return found
    return None


def require_finite(value: Any, key: str = "", error: type[Exception] = NonFiniteError) -> None:
    """The rule of every number of a config: finite. Raises ``error`` naming the first key
    of ``value`` (whose own dotted key is ``key``) that holds NaN or an infinity."""
    found = non_finite(value, key)
    if found:
        raise error(f"config '{found[0]}' = {found[1]} is not a finite number (NaN and "
                    f"infinities are refused); give a finite number.")


def _as_list(value: Any) -> list:
    """``"bce,mse"`` -> ``["bce", "mse"]``; ``"2"`` and ``2`` -> one-item lists; lists stay."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return [value]


def _number(value: str, kind: str) -> Any:
    """``value`` as an int or float when it parses as the schema's ``kind``, else unchanged."""
    try:
        number = float(value)
    except ValueError:
        return value
    if kind == "integer" and math.isfinite(number):  # "nan": refused as not finite
        return int(number) if number.is_integer() and "." not in value.lower() else value
    return number


def coerce(value: Any, schema: dict) -> Any:
    """``value`` with strings converted to numbers wherever ``schema`` asks for one
    (recursing into objects and arrays); everything else unchanged."""
    kind = schema.get("type")
    if isinstance(value, str) and kind in ("number", "integer"):
        return _number(value.strip(), kind)
    if isinstance(value, dict) and kind == "object":
        props, rest = schema.get("properties", {}), schema.get("additionalProperties")
        return {k: coerce(v, props[k]) if k in props
                else coerce(v, rest) if isinstance(rest, dict) else v for k, v in value.items()}
    if isinstance(value, list) and kind == "array" and isinstance(schema.get("items"), dict):
        return [coerce(item, schema["items"]) for item in value]
    return value


def normalize(config: dict, schema: dict) -> dict:
    """The config with the grid shorthand moved into ``study`` and numeric strings made
    numbers (see the module's docstring). Modifies ``config`` in place (Snakemake's config
    object is shared) and returns it. A retired section is a :class:`RetiredKeyError`, a
    number that is not finite a :class:`NonFiniteError`."""
    for key in RETIRED:
        section, _, name = key.rpartition(".")
        holder = config.get(section) if section else config
        if isinstance(holder, dict) and name in holder:
            raise RetiredKeyError(f"config key '{key}' is no longer read: {RETIRED[key]}.")
    for key in GRID_SHORTHAND:
        if key in config:
            study = config.get("study") or {}
            study[key] = _as_list(config.pop(key))
            config["study"] = study
    for key, value in list(config.items()):
        props = schema.get("properties", {})
        if key in props:
            config[key] = coerce(value, props[key])
    require_finite(config)
    return config
