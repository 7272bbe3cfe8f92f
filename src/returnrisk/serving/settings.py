"""Service settings: environment variables prefixed ``RETURNRISK_`` and/or a ``.env`` file.

Only the entry points (``returnrisk serve``, ``serving/main.py``) build :class:`Settings` from
the environment; the application factory receives the object.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings"]

_Keys = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RETURNRISK_", env_file=".env", extra="ignore")

    model_uri: str = Field("models:/returnrisk@champion", description="Model served at start-up.")
    tracking_uri: str | None = Field(None, description="MLflow tracking URI (default sqlite:///mlruns/mlflow.db).")
    merchant_api_keys: _Keys = Field(default_factory=list, description="Keys for business data (comma-separated).")
    admin_api_keys: _Keys = Field(default_factory=list, description="Keys for admin endpoints; also merchant keys.")
    public_api_keys: _Keys = Field(default_factory=list, description="Keys the storefront must send, if required.")
    require_public_key: bool = Field(False, description="Storefront endpoints require a public (or merchant) key.")
    cors_origins: _Keys = Field(default_factory=list, description="Origins allowed by CORS (comma-separated).")
    max_body_bytes: int = Field(1 << 20, description="Largest request body accepted (413 above).")
    max_lines: int = Field(1000, description="Most order lines in one POST /v1/score.")
    model_slots: int = Field(2, ge=1, description="Requests computing with the model at once (the others queue, "
                                                  "first come first served); about the number of cores.")
    return_cost_per_return: float = Field(12.0, description="Cost of one return (a parcel: shipping + handling) "
                                                            "when the data has no return_cost.")
    return_cost_per_unit: float = Field(0.0, description="Extra cost per returned unit, added to the cost per "
                                                         "return when the data has none (opt-in; default 0).")
    margin_loss_rate: float = Field(0.15, description="Share of the price lost on a returned item (markdown, damage).")
    refund_target_days: float = Field(5.0, description="Refund promise in days (KPI: share refunded within it).")
    handling_minutes_per_return: float = Field(12.0, description="Warehouse minutes per return (staffing forecast).")
    flag_threshold: float = Field(0.95, description="Posterior probability of an excess that flags a product.")
    data_dir: str | None = Field(None, description="Shop history folder for KPIs and fixes (optional).")
    returns_db_url: str = Field("sqlite:///returnrisk-returns.db", description="Where POST /v1/returns stores returns.")
    session_secret: str | None = Field(None, description="Secret signing dashboard sessions (random if unset).")
    secure_cookies: bool = Field(True, description="Mark the dashboard session cookie Secure (https only).")

    @field_validator("merchant_api_keys", "admin_api_keys", "public_api_keys", "cors_origins", mode="before")
    @classmethod
    def _split(cls, value):
        if value is None:
            return []
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return list(value)
