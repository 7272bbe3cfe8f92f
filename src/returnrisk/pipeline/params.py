"""Training parameters, read from ``training/params.yaml`` (or ``--params FILE``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from returnrisk.errors import InputError
from returnrisk.features.derive import Smoothing
from returnrisk.model.bundle import RiskBands
from returnrisk.model.estimator import ModelParams

__all__ = ["TrainParams", "load_params", "DEFAULT_PARAMS_FILE", "flatten"]

DEFAULT_PARAMS_FILE = Path(__file__).resolve().parents[3] / "training" / "params.yaml"


@dataclass
class TrainParams:
    window_days: int = 30
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


def load_params(path: str | Path | None = None) -> TrainParams:
    """Parameters from a YAML file (default: the repository's ``training/params.yaml``).

    Unknown keys are an error, so a typo does not silently train with a default.
    """
    if path is None:
        if not DEFAULT_PARAMS_FILE.is_file():
            return TrainParams()
        path = DEFAULT_PARAMS_FILE
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise InputError(f"params file {path} not found: pass --params with an existing YAML file") from None
    except yaml.YAMLError as exc:
        raise InputError(f"params file {path} is not valid YAML: {exc}") from None
    known = {"data", "split", "features", "model", "risk_bands", "promotion"}
    unknown = set(raw) - known
    if unknown:
        raise InputError(f"unknown section(s) {sorted(unknown)} in {path}: expected {sorted(known)}")
    try:
        data, split = raw.get("data", {}), raw.get("split", {})
        promotion = raw.get("promotion", {})
        params = TrainParams(
            window_days=int(data.get("window_days", 30)),
            validation_days=int(split.get("validation_days", 90)),
            calibration_days=int(split.get("calibration_days", 30)),
            refit=bool(split.get("refit", True)),
            smoothing=Smoothing(**raw.get("features", {}).get("smoothing", {})),
            model=ModelParams.from_dict(raw.get("model", {})),
            risk_bands=RiskBands(**raw.get("risk_bands", {})),
            tolerance_log_loss=float(promotion.get("tolerance_log_loss", 0.0005)),
            tolerance_auc=float(promotion.get("tolerance_auc", 0.001)),
            min_new_rows=int(promotion.get("min_new_rows", 1000)),
        )
    except TypeError as exc:
        raise InputError(f"invalid parameter in {path}: {exc}") from None
    if params.window_days < 1 or params.validation_days < 7 or params.calibration_days < 7:
        raise InputError(f"{path}: window_days ≥ 1, validation_days ≥ 7 and calibration_days ≥ 7 are required")
    return params
