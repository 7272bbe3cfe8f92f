"""Everything returnrisk does with MLflow: runs, the pyfunc model, the registry and its aliases.

No other part of the package imports MLflow.
"""

from returnrisk.tracking.store import (
    CHAMPION_ALIAS,
    DEFAULT_TRACKING_URI,
    EXPERIMENT_NAME,
    MODEL_NAME,
    ModelRef,
    Tracker,
)

__all__ = ["Tracker", "ModelRef", "DEFAULT_TRACKING_URI", "MODEL_NAME", "CHAMPION_ALIAS", "EXPERIMENT_NAME"]
