"""Settings written once: the shop's economics, the monitoring thresholds, and which model is
served by default.

Ground floor: no returnrisk import but :mod:`returnrisk.errors`. The command line and the
service read :class:`Economics` from the same environment variables (``RETURNRISK_*``, or a
``.env`` file in the working directory); library code receives the object and never reads the
environment itself. Only entry points (the CLI commands, ``serving/asgi.py``) build settings
from the environment, through :func:`read_settings`.
"""

from __future__ import annotations

import os
from typing import TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from returnrisk.errors import InputError

__all__ = ["ENV_PREFIX", "DEFAULT_MODEL_URI", "Economics", "DEFAULT_ECONOMICS", "MonitorSettings",
           "DEFAULT_MONITOR_SETTINGS", "read_settings", "env_name"]

#: Prefix of every environment variable returnrisk reads.
ENV_PREFIX = "RETURNRISK_"

#: The model served and scored with when none is named: the registered ``returnrisk`` model's
#: ``champion`` alias (see :mod:`returnrisk.tracking`).
DEFAULT_MODEL_URI = "models:/returnrisk@champion"

_S = TypeVar("_S", bound=BaseSettings)


class Economics(BaseSettings):
    """The shop's money, promises and judgement thresholds, shared by the CLI and the service.

    Each field is read from ``RETURNRISK_<FIELD NAME IN CAPITALS>`` (e.g.
    ``RETURNRISK_FLAG_THRESHOLD``) or ``.env``; amounts are in :attr:`currency`.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True)

    return_cost_per_return: float = Field(
        12.0, ge=0, description="Cost of one return (a parcel: shipping and handling) when the data has no "
                                "return_cost.")
    return_cost_per_unit: float = Field(
        0.0, ge=0, description="Extra cost per returned unit, added to the cost per return when the data has "
                               "no return_cost (opt-in; default 0).")
    margin_loss_rate: float = Field(
        0.15, ge=0, le=1, description="Share of the price lost on a returned item (markdown, damage).")
    refund_target_days: float = Field(
        5.0, gt=0, description="Refund promise in days (KPI: share refunded within it).")
    handling_minutes_per_return: float = Field(
        12.0, ge=0, description="Warehouse minutes per return (staffing forecast).")
    flag_threshold: float = Field(
        0.95, ge=0.5, lt=1, description="Posterior probability of an excess that flags a product (fixes).")
    currency: str = Field(
        "EUR", description="ISO 4217 code of the shop's amounts (prices, costs, savings).")

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value):
        text = str(value).strip().upper()
        if len(text) != 3 or not text.isalpha():
            raise ValueError(f"{value!r} is not an ISO 4217 currency code: use 3 letters, e.g. EUR or USD")
        return text


#: The defaults, without reading the environment (library functions' default arguments).
DEFAULT_ECONOMICS: Economics = Economics.model_construct()


class MonitorSettings(BaseSettings):
    """Thresholds of ``returnrisk monitor`` (docs/monitoring.md), read from ``RETURNRISK_MONITOR_<FIELD>``
    (e.g. ``RETURNRISK_MONITOR_ECE_RETRAIN``) or ``.env``.

    Each check has two levels: crossing the first makes the verdict ``degraded``, crossing the
    second ``retrain_recommended``. Checks on outcomes (AUC, calibration) need matured lines;
    drift checks use every line scored since the as-of date.
    """

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}MONITOR_", env_file=".env", extra="ignore",
                                      frozen=True)

    min_matured_lines: int = Field(500, ge=1, description="Matured lines needed before AUC and calibration are judged.")
    auc_drop_degraded: float = Field(0.02, description="AUC this much below the validation AUC: degraded.")
    auc_drop_retrain: float = Field(0.04, description="AUC this much below the validation AUC: retrain recommended.")
    ece_degraded: float = Field(0.02, description="Expected calibration error (10 bins) from which the model is "
                                                  "degraded — when also above what chance alone gives on these lines.")
    ece_retrain: float = Field(0.035, description="ECE from which retraining is recommended (same chance rule).")
    ece_chance_quantile: float = Field(0.99, gt=0, lt=1, description="Quantile of the ECE a perfectly calibrated "
                                       "model reaches by chance on the same lines; an ECE below it is not judged "
                                       "(0.99: one false alarm in a hundred monitoring runs of a perfect model).")
    segment_gap_degraded: float = Field(0.05, description="|observed − predicted| return rate of a category, brand or "
                                                          "risk band from which the model is degraded.")
    segment_gap_retrain: float = Field(0.10, description="Same gap from which retraining is recommended.")
    segment_min_lines: int = Field(200, ge=1, description="Matured lines a segment needs to be judged.")
    segment_z: float = Field(4.0, description="A segment's gap must also be this many standard errors from zero "
                                              "(so that noise on a small segment raises no alarm).")
    feature_psi_degraded: float = Field(0.25, description="PSI of a feature against training: degraded (0.25 is the "
                                                          "usual 'large shift' rule of thumb). Feature drift alone "
                                                          "never recommends retraining.")
    prediction_psi_degraded: float = Field(0.25, description="PSI of the predicted P(return): degraded.")
    prediction_psi_retrain: float = Field(0.5, description="PSI of the predicted P(return): retrain recommended.")
    unknown_excess_degraded: float = Field(0.15, description="Share of lines with an unknown product, customer or "
                                                             "size this much above training's: degraded.")
    unknown_excess_retrain: float = Field(0.30, description="Same excess from which retraining is recommended (the "
                                                            "model's snapshot no longer knows the shop).")
    ignored_features: tuple[str, ...] = Field(
        ("month", "product_age_days", "shop_rate", "category_rate", "category_size_rate", "brand_small_rate",
         "brand_large_rate", "brand_fit_offset"),
        description="Features left out of drift checks (still shown): the month and the days since a product's "
                    "launch move with the calendar after the as-of date; the shop's, categories' and brands' "
                    "aggregates are frozen in the model's snapshot — after the as-of date they take one value per "
                    "category or brand whatever happens, so their histogram says nothing about the incoming lines.")


#: The documented thresholds, without reading the environment (library functions' default arguments).
DEFAULT_MONITOR_SETTINGS: MonitorSettings = MonitorSettings.model_construct()


def env_name(field: str, cls: type[BaseSettings] | None = None) -> str:
    """The environment variable of a settings field: ``flag_threshold`` → ``RETURNRISK_FLAG_THRESHOLD``
    (with ``cls``, its own prefix: ``ece_retrain`` of :class:`MonitorSettings` → ``RETURNRISK_MONITOR_ECE_RETRAIN``)."""
    prefix = (cls.model_config.get("env_prefix") if cls is not None else None) or ENV_PREFIX
    return f"{prefix}{field.upper()}"


def secrets_dir() -> str | None:
    """Where settings may also be read from files (Docker/compose secrets), one file per setting named
    like its variable (``returnrisk_database_url``, …; the environment wins): ``RETURNRISK_SECRETS_DIR``,
    else ``/run/secrets`` when it exists."""
    return os.environ.get("RETURNRISK_SECRETS_DIR") or ("/run/secrets" if os.path.isdir("/run/secrets") else None)


def read_settings(cls: type[_S], docs: str = "docs/serving.md#settings", **overrides) -> _S:
    """``cls()`` read from the environment, ``.env`` and the secrets folder (:func:`secrets_dir`) —
    for entry points only; ``overrides`` are values the entry point decided itself.

    An invalid value raises :class:`~returnrisk.errors.InputError` naming the variable, the
    value found and what is expected (instead of a validation traceback).
    """
    try:
        folder = secrets_dir()
        return cls(**overrides, **({"_secrets_dir": folder} if folder else {}))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error.get("loc") else "?"
            found = error.get("input")
            secret = "secret" in field or field.endswith("_keys")   # never echoed to a log
            shown = f"={found!r}" if isinstance(found, (str, int, float)) and not secret else ""
            reason = error["msg"].removeprefix("Value error, ")
            problems.append(f"{env_name(field, cls)}{shown} is invalid: {reason}")
        raise InputError("; ".join(problems) + " — correct it in the environment or in .env "
                         f"(see {docs})") from None
