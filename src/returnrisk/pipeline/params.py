"""Training parameters: the defaults are the dataclasses, a YAML file only overrides them.

:class:`TrainParams` and the dataclasses it holds (:class:`~returnrisk.features.derive.Smoothing`,
:class:`~returnrisk.model.estimator.ModelParams`, :class:`~returnrisk.model.bundle.RiskBands`)
carry the only defaults. A params file (``returnrisk train --params FILE``) overrides any of
them; every key is checked — an unknown key at any level is an error naming it and listing the
valid ones, a value of the wrong type is an error naming it — so a typo never trains silently
with a default.

The package ships :data:`DEFAULT_PARAMS_FILE` (``returnrisk/pipeline/params.yaml``, package
data, so it is there outside a checkout too): the override file used when none is given. It
overrides nothing; it lists every key, commented out, with its default value (a test keeps the
two equal), as the template to copy.

File layout (sections → parameters)::

    data:       window_days
    split:      validation_days, calibration_days, refit
    features:   smoothing: {shop, category, brand, product, size, customer, fit_offset, …}
    model:      return_model: {LightGBM parameters}, reason_model: {…}, max_rounds_return, …
    risk_bands: low_ratio, high_ratio
    promotion:  tolerance_log_loss, tolerance_auc, min_new_rows
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from returnrisk.errors import InputError
from returnrisk.features.derive import Smoothing
from returnrisk.model.bundle import RiskBands
from returnrisk.model.estimator import ModelParams
from returnrisk.timeutil import DEFAULT_WINDOW_DAYS

__all__ = ["TrainParams", "load_params", "parse_params", "params_layout", "DEFAULT_PARAMS_FILE", "flatten"]

#: The packaged override file used when no ``--params`` is given (overrides nothing by default).
DEFAULT_PARAMS_FILE = resources.files("returnrisk") / "pipeline" / "params.yaml"

_LIGHTGBM_DOCS = "https://lightgbm.readthedocs.io/en/latest/Parameters.html"


@dataclass
class TrainParams:
    """Every training parameter with its default (see the module docstring for the file layout)."""

    window_days: int = DEFAULT_WINDOW_DAYS
    validation_days: int = 90
    calibration_days: int = 30
    refit: bool = True
    smoothing: Smoothing = field(default_factory=Smoothing)
    model: ModelParams = field(default_factory=ModelParams)
    risk_bands: RiskBands = field(default_factory=RiskBands)
    tolerance_log_loss: float = 0.0005
    tolerance_auc: float = 0.001
    min_new_rows: int = 1000

    def to_dict(self) -> dict:
        return asdict(self)


#: Where the keys of a params file go: section → attribute of :class:`TrainParams` (a whole
#: dataclass) or → {key: attribute}.
_LAYOUT: dict[str, str | dict[str, str]] = {
    "data": {"window_days": "window_days"},
    "split": {"validation_days": "validation_days", "calibration_days": "calibration_days", "refit": "refit"},
    "features": {"smoothing": "smoothing"},
    "model": "model",
    "risk_bands": "risk_bands",
    "promotion": {"tolerance_log_loss": "tolerance_log_loss", "tolerance_auc": "tolerance_auc",
                  "min_new_rows": "min_new_rows"},
}


def params_layout(params: TrainParams | None = None) -> dict:
    """``params`` (default: the defaults) in the layout of a params file, every key present."""
    values = (params or TrainParams()).to_dict()
    return {section: values[target] if isinstance(target, str)
            else {key: values[attr] for key, attr in target.items()}
            for section, target in _LAYOUT.items()}


def flatten(values: dict, prefix: str = "") -> dict[str, object]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}`` (how parameters are logged to MLflow)."""
    out: dict[str, object] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


class _Invalid(Exception):
    """A problem at one key of the file (turned into an :class:`InputError` naming the file)."""


def _mapping(value, where: str) -> dict:
    if value is None:          # a section whose keys are all commented out
        return {}
    if not isinstance(value, dict):
        raise _Invalid(f"{where} must be a mapping of keys to values, got {value!r}")
    return value


def _unknown(key, where: str, valid) -> _Invalid:
    place = f"in {where}" if where else "at the top level"
    close = difflib.get_close_matches(str(key), list(valid), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return _Invalid(f"unknown key {key!r} {place}{hint}: valid keys are {', '.join(valid)}")


def _lightgbm_names() -> frozenset[str] | None:
    """Every LightGBM parameter name and alias, or ``None`` if this LightGBM cannot say."""
    try:
        from lightgbm.basic import _ConfigAliases

        aliases = _ConfigAliases._get_all_param_aliases()
    except (ImportError, AttributeError):  # pragma: no cover - a LightGBM without the table
        return None
    return frozenset(aliases) | frozenset(a for names in aliases.values() for a in names)


def _override(default, value, where: str):
    """``default`` with ``value`` from the file applied, checked against the default's shape."""
    if dataclasses.is_dataclass(default):
        raw = _mapping(value, where)
        names = [f.name for f in dataclasses.fields(default)]
        changes = {}
        for key, item in raw.items():
            if key not in names:
                raise _unknown(key, where, names)
            changes[key] = _override(getattr(default, key), item, f"{where}.{key}")
        return dataclasses.replace(default, **changes)
    if isinstance(default, dict):     # LightGBM parameters of a booster: merged onto the defaults
        raw = _mapping(value, where)
        known = _lightgbm_names()
        for key in raw:
            if known is not None and key not in known:
                close = difflib.get_close_matches(str(key), sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise _Invalid(f"unknown LightGBM parameter {key!r} in {where}{hint}: valid names are "
                               f"listed at {_LIGHTGBM_DOCS}")
        return {**default, **raw}
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise _Invalid(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"{where} must be a whole number, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(f"{where} must be a number, got {value!r}")
        return float(value)
    return value


def parse_params(raw, source: str = "params") -> TrainParams:
    """:class:`TrainParams` from the parsed content of a params file (``None`` = no override).

    Raises :class:`InputError` naming ``source``, the key and what is valid.
    """
    defaults = TrainParams()
    try:
        sections = _mapping(raw, "the file")
        changes: dict[str, object] = {}
        for section, value in sections.items():
            target = _LAYOUT.get(section)
            if target is None:
                raise _unknown(section, "", list(_LAYOUT))
            if isinstance(target, str):
                changes[target] = _override(getattr(defaults, target), value, section)
                continue
            for key, item in _mapping(value, section).items():
                if key not in target:
                    raise _unknown(key, section, list(target))
                attr = target[key]
                changes[attr] = _override(getattr(defaults, attr), item, f"{section}.{key}")
        params = dataclasses.replace(defaults, **changes)
    except _Invalid as exc:
        raise InputError(f"{source}: {exc}") from None
    if params.window_days < 1 or params.validation_days < 7 or params.calibration_days < 7:
        raise InputError(f"{source}: data.window_days ≥ 1, split.validation_days ≥ 7 and "
                         f"split.calibration_days ≥ 7 are required (got {params.window_days}, "
                         f"{params.validation_days}, {params.calibration_days})")
    return params


def load_params(path: str | Path | None = None) -> TrainParams:
    """Parameters: the defaults, overridden by ``path`` (default: :data:`DEFAULT_PARAMS_FILE`)."""
    if path is None or str(path).strip() == "":
        source, file = "the packaged params.yaml", DEFAULT_PARAMS_FILE
    else:
        source, file = f"params file {path}", Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{source} not found: pass --params with an existing YAML file") from None
    except IsADirectoryError:
        raise InputError(f"{source} is a folder: pass --params with a YAML file") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{source} is not valid YAML: {exc}") from None
    return parse_params(raw, source)
