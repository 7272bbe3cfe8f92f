"""ASGI entry point for uvicorn workers: settings from the environment (``RETURNRISK_*``, ``.env``,
the secrets folder).

An expected start-up failure (invalid settings, database behind, no model, a damaged model
artifact) is one log line and exit code 3 (uvicorn's start-up failure: its supervisor does not
restart the worker).
"""

import logging
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before LightGBM starts its OpenMP threads

from returnrisk.config import read_settings  # noqa: E402
from returnrisk.errors import InputError  # noqa: E402
from returnrisk.serving.app import create_app  # noqa: E402
from returnrisk.serving.settings import Settings  # noqa: E402

# `returnrisk serve` hands its workers the Prometheus multiprocess folder through the variable
# prometheus_client itself reads; the service is told the same folder through its settings
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
try:
    _settings = read_settings(Settings, **({"metrics_dir": _metrics_dir} if _metrics_dir else {}))
except InputError as exc:
    logging.getLogger("returnrisk.serving").error("cannot start: %s", exc)
    logging.shutdown()
    os._exit(3)

app = create_app(_settings, exit_on_startup_error=True)
