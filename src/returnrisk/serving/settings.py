"""Service settings: environment variables prefixed ``RETURNRISK_`` and/or a ``.env`` file.

Only service matters live here (keys, limits, database, model URI, sessions); the shop's
economics are :class:`returnrisk.config.Economics`, embedded as :attr:`Settings.economics` and
read from the same variables the command line reads. Only the entry points (``returnrisk
serve``, ``serving/asgi.py``) build :class:`Settings` from the environment; the application
factory receives the object.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from returnrisk.capture.settings import PortalSettings
from returnrisk.config import DEFAULT_MODEL_URI, ENV_PREFIX, Economics

__all__ = ["Settings"]

_Keys = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    model_uri: str = Field(DEFAULT_MODEL_URI, description="Model served at start-up.")
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
    data_dir: str | None = Field(None, description="Shop history folder for KPIs and fixes (optional).")
    database_url: str = Field("sqlite:///returnrisk-returns.db", description="The service database (returns recorded "
                              "by POST /v1/returns, …): any SQLAlchemy URL.")
    returns_db_url: str | None = Field(None, description="Old name of database_url (RETURNRISK_RETURNS_DB_URL), read "
                                                         "when RETURNRISK_DATABASE_URL is not set; mirrors it after.")
    shopify_webhook_secret: str | None = Field(None, description="Secret Shopify signs its webhooks with "
                                               "(X-Shopify-Hmac-Sha256); POST /v1/webhooks/shopify answers 404 "
                                               "until it is set.")
    customer_token_secret: str | None = Field(None, description="Secret of the shop's customer tokens (HS256 JWTs: "
                                              "sub = customer id, exp at most 24 h ahead), at least 32 characters.")
    shopify_app_secret: str | None = Field(None, description="Shared secret of the Shopify app whose App Proxy "
                                           "forwards storefront calls (its `signature` parameter is checked).")
    allow_raw_customer_ids: bool = Field(False, description="Accept a raw customer_id without a merchant key (the "
                                         "behaviour before customer tokens; anyone who knows an id sees its answer).")
    visitor_cache_max_age: int = Field(300, ge=0, description="Seconds browsers and shared caches may keep a "
                                       "visitor's answer (Cache-Control: public, max-age=…).")
    session_secret: str | None = Field(None, description="Secret signing dashboard sessions (random if unset).")
    secure_cookies: bool = Field(True, description="Mark the dashboard session cookie Secure (https only).")
    # ---- production (issue 18): several workers, logs, login ------------------------------------
    model_poll_seconds: float = Field(30.0, ge=0, description="How often each worker checks the registry alias "
                                      "(RETURNRISK_MODEL_URI) and loads a new champion; 0 turns the watch off.")
    log_format: Literal["auto", "json", "text"] = Field("auto", description="Log lines: json, text, or auto (text "
                                                         "on a terminal, JSON otherwise).")
    access_log: bool = Field(False, description="Log one line per request (uvicorn's access log, same format).")
    metrics_dir: str | None = Field(None, description="Folder of the workers' Prometheus files (multiprocess mode; "
                                    "default: a new temporary folder per `returnrisk serve`).")
    session_hours: float = Field(8.0, gt=0, description="Lifetime of a dashboard session.")
    login_max_failures: int = Field(5, ge=1, description="Failed dashboard logins allowed from one client address "
                                    "within login_window_seconds; then 429 with Retry-After.")
    login_max_failures_global: int = Field(100, ge=1, description="Failed dashboard logins allowed from all "
                                           "addresses together within login_window_seconds.")
    login_window_seconds: int = Field(300, ge=1, description="The window of the login throttle.")
    economics: Economics = Field(default_factory=Economics, description="Costs, refund promise, flag threshold, "
                                 "currency: RETURNRISK_RETURN_COST_PER_RETURN, RETURNRISK_FLAG_THRESHOLD, … (see "
                                 "returnrisk.config.Economics).")
    portal: PortalSettings = Field(default_factory=PortalSettings, description="The return portal: "
                                   "RETURNRISK_PORTAL_SECRET, RETURNRISK_PORTAL_LINK_DAYS, … (see "
                                   "returnrisk.capture.settings.PortalSettings).")

    def __init__(self, **values):
        # secrets as files (Docker/compose secrets): the entry points pass ``_secrets_dir``
        # (returnrisk.config.secrets_dir: RETURNRISK_SECRETS_DIR, else /run/secrets when it exists)
        if "economics" not in values and "_env_file" in values:   # the same .env choice for both
            values["economics"] = Economics(_env_file=values["_env_file"])
        if "portal" not in values and "_env_file" in values:
            values["portal"] = PortalSettings(_env_file=values["_env_file"])
        super().__init__(**values)

    @model_validator(mode="after")
    def _database_url_old_name(self):
        if "database_url" not in self.model_fields_set and self.returns_db_url:
            self.database_url = self.returns_db_url   # the new name wins wherever both are set
        self.returns_db_url = self.database_url
        return self

    @field_validator("customer_token_secret", "shopify_app_secret", mode="after")
    @classmethod
    def _secret(cls, value, info):
        if value is None or not value.strip():
            return None
        if info.field_name == "customer_token_secret" and len(value) < 32:   # Shopify chooses its own
            raise ValueError(f"a secret of {len(value)} characters is too short: use at least 32 random characters "
                             "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
        return value

    @field_validator("merchant_api_keys", "admin_api_keys", "public_api_keys", "cors_origins", mode="before")
    @classmethod
    def _split(cls, value):
        if value is None:
            return []
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return list(value)
