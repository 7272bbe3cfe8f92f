"""Settings of the two customer channels: the return portal and the e-mail inbox.

Read from ``RETURNRISK_PORTAL_*`` / ``RETURNRISK_INBOX_*`` (or ``.env``) by the entry points only
(``returnrisk serve`` through :class:`returnrisk.serving.settings.Settings`, whose ``portal``
field this is; ``returnrisk portal-link`` and ``returnrisk inbox``); library code receives them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from returnrisk.config import ENV_PREFIX
from returnrisk.timeutil import DAY

__all__ = ["DEFAULT_ORDER_PATTERN", "InboxSettings", "PortalSettings", "photo_dir_for"]

#: Where an order number is looked for in an e-mail: ``#1001``, ``order 1001``, ``commande n° 1001``,
#: ``Order #SH-1001``… (one group: the number). Only numbers that are order numbers (or order ids)
#: of the shop count, so a date or a phone number that matches is ignored.
DEFAULT_ORDER_PATTERN = (
    r"(?:#|\bn[°o]\.?\s*|\bnum(?:[ée]ro)?\.?\s*|\border\s*(?:number|no\.?|n°|#)?\s*:?\s*|"
    r"\bcommande\s*(?:n[°o]\.?|num[ée]ro|#)?\s*:?\s*|\bcde\s*:?\s*|\breference\s*:?\s*|\bréférence\s*:?\s*)"
    r"#?\s?([A-Za-z]{0,4}-?\d[\w-]{2,30})"
)


class PortalSettings(BaseSettings):
    """The return portal (``/returns``): its signing secret, link lifetime, texts and limits."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True)

    portal_secret: SecretStr | None = Field(
        None, description="Secret signing the portal links (at least 16 characters); the portal is off without it.")
    portal_link_days: float = Field(30, gt=0, description="Days a portal link stays valid.")
    portal_base_url: str = Field("", description="The service's public address, used by `returnrisk portal-link` "
                                 "(e.g. https://returns.shop.example).")
    portal_instructions_en: str = Field(
        "Pack the items in their original packaging with this page's return number, and drop the parcel at a "
        "post office within 14 days.", description="Return instructions shown on the confirmation page (English).")
    portal_instructions_fr: str = Field(
        "Emballez les articles dans leur emballage d'origine avec le numéro de retour de cette page, et déposez le "
        "colis dans un bureau de poste sous 14 jours.",
        description="Return instructions shown on the confirmation page (French).")
    portal_shop_name: str = Field("", description="The shop's name shown on the portal pages.")
    portal_photo_dir: str | None = Field(
        None, description="Folder of the photos customers attach (default: beside the SQLite database, else "
                          "./returnrisk-photos). Never served.")
    portal_photo_max_bytes: int = Field(8 << 20, ge=10_000, description="Largest photo accepted (bytes).")
    portal_max_photos: int = Field(4, ge=1, le=20, description="Photos per returned line.")
    portal_rate_limit: str = Field("60/minute", description="Portal pages per client address (limits syntax).")
    portal_submit_rate_limit: str = Field("10/minute", description="Portal form submissions per client address.")

    @field_validator("portal_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None):
        if value is not None and value.get_secret_value() and len(value.get_secret_value()) < 16:
            raise ValueError("the portal secret must have at least 16 characters (e.g. `python -c \"import "
                             "secrets; print(secrets.token_urlsafe(32))\"`)")
        return value if value is not None and value.get_secret_value() else None

    @property
    def link_seconds(self) -> int:
        return round(self.portal_link_days * DAY)

    def instructions(self, lang: str) -> str:
        return self.portal_instructions_fr if lang == "fr" else self.portal_instructions_en


class InboxSettings(BaseSettings):
    """The e-mail channel (``returnrisk inbox``)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True)

    inbox_order_pattern: str = Field(DEFAULT_ORDER_PATTERN, description="Regular expression finding order numbers "
                                     "in an e-mail (its first group is the number).")
    imap_password: SecretStr | None = Field(None, description="IMAP password when the URL carries none.")


def photo_dir_for(settings: PortalSettings, database_url: str) -> Path:
    """The photos folder: the setting, else beside a SQLite database file, else ./returnrisk-photos."""
    if settings.portal_photo_dir:
        return Path(settings.portal_photo_dir)
    prefix = "sqlite:///"
    if database_url.startswith(prefix) and ":memory:" not in database_url:
        return Path(database_url[len(prefix):].split("?")[0]).resolve().parent / "returnrisk-photos"
    return Path("returnrisk-photos").resolve()
