"""ASGI entry point for uvicorn workers: settings from the environment (``RETURNRISK_*``, ``.env``)."""

from returnrisk.serving.app import create_app
from returnrisk.serving.settings import Settings

app = create_app(Settings())
