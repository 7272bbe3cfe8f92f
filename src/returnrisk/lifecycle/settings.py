"""Settings of alerts and of the worker (``RETURNRISK_ALERT_*``), read by entry points only."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from returnrisk.config import ENV_PREFIX

__all__ = ["AlertSettings"]


class AlertSettings(BaseSettings):
    """Where alerts go and how hard the worker tries (``RETURNRISK_ALERT_<FIELD>``)."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}ALERT_", env_file=".env", extra="ignore", frozen=True)

    webhook_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Incoming-webhook URLs (Slack, Teams, Mattermost…), comma-separated.")
    webhook_secret: str | None = Field(
        None, description="Secret of the X-Returnrisk-Signature header (sha256=<hex HMAC of the body>).")
    lang: str = Field("en", description="Language of the alerts' text: en or fr.")
    dashboard_url: str | None = Field(
        None, description="Public address of the service (e.g. https://returnrisk.example.com): alerts link to "
                          "the product's dashboard page.")
    new_flag_days: int = Field(
        28, ge=1, description="A product is 'newly flagged' when its first flag is at most this many days before "
                              "the end of the data (no alert flood on a first start).")
    min_savings: float = Field(
        0.0, ge=0, description="A newly flagged product is alerted only if its fixes would save more than this a "
                               "month (model estimate, the shop's currency).")
    retry_base_seconds: float = Field(10.0, gt=0, description="First retry after a failed delivery (then doubling).")
    retry_max_seconds: float = Field(3600.0, gt=0, description="Longest wait between two delivery attempts.")
    timeout_seconds: float = Field(10.0, gt=0, description="Time-out of one webhook call.")
    lease_seconds: float = Field(
        120.0, gt=0, description="A delivery taken by a worker that died is tried again after this long (more than "
                                 "the time-out).")

    @field_validator("webhook_urls", mode="before")
    @classmethod
    def _split(cls, value):
        if value is None:
            return []
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return list(value)

    @field_validator("webhook_urls")
    @classmethod
    def _http(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url[:40]!r} is not an http(s) URL: give the incoming webhook's address")
        return urls

    @field_validator("lang")
    @classmethod
    def _lang(cls, value: str) -> str:
        if value not in ("en", "fr"):
            raise ValueError(f"{value!r}: use en or fr")
        return value
