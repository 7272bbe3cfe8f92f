"""Settings written once: the shop's economics, and which model is served by default.

Ground floor: no returnrisk import but :mod:`returnrisk.errors`. The command line and the
service read :class:`Economics` from the same environment variables (``RETURNRISK_*``, or a
``.env`` file in the working directory); library code receives the object and never reads the
environment itself. Only entry points (the CLI commands, ``serving/asgi.py``) build settings
from the environment, through :func:`read_settings`.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from returnrisk.errors import InputError

__all__ = ["ENV_PREFIX", "DEFAULT_MODEL_URI", "Economics", "DEFAULT_ECONOMICS", "read_settings", "env_name"]

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


def env_name(field: str) -> str:
    """The environment variable of a settings field: ``flag_threshold`` → ``RETURNRISK_FLAG_THRESHOLD``."""
    return f"{ENV_PREFIX}{field.upper()}"


def read_settings(cls: type[_S]) -> _S:
    """``cls()`` read from the environment and ``.env`` — for entry points only.

    An invalid value raises :class:`~returnrisk.errors.InputError` naming the variable, the
    value found and what is expected (instead of a validation traceback).
    """
    try:
        return cls()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error.get("loc") else "?"
            found = error.get("input")
            secret = "secret" in field or field.endswith("_keys")   # never echoed to a log
            shown = f"={found!r}" if isinstance(found, (str, int, float)) and not secret else ""
            reason = error["msg"].removeprefix("Value error, ")
            problems.append(f"{env_name(field)}{shown} is invalid: {reason}")
        raise InputError("; ".join(problems) + " — correct it in the environment or in .env "
                         "(see docs/serving.md#settings)") from None
