"""The HTTP API: storefront risk and advice, merchant figures, admin, dashboard."""

from returnrisk.serving.app import create_app
from returnrisk.serving.settings import Settings

__all__ = ["create_app", "Settings"]
