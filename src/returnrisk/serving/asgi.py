"""ASGI entry point for uvicorn workers: settings from the environment (``RETURNRISK_*``, ``.env``)."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before LightGBM starts its OpenMP threads

from returnrisk.serving.app import create_app  # noqa: E402
from returnrisk.serving.settings import Settings  # noqa: E402

app = create_app(Settings())
