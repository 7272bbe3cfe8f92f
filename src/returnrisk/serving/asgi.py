"""ASGI entry point for uvicorn workers: settings from the environment (``RETURNRISK_*``, ``.env``).

An expected start-up failure (database behind, no model, a damaged model artifact) is one log
line and exit code 3 (uvicorn's start-up failure: its supervisor does not restart the worker).
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before LightGBM starts its OpenMP threads

from returnrisk.serving.app import create_app  # noqa: E402
from returnrisk.serving.settings import Settings  # noqa: E402

app = create_app(Settings(), exit_on_startup_error=True)
