"""The MLflow pyfunc model of returnrisk, logged as "models from code".

MLflow copies this file next to the model and runs it when the model is loaded; the
serving bundle travels as the artifact ``bundle``. Input: order lines (the contract's
``order_lines`` columns; ``ordered_at`` optional, product attributes optional for new
products). Output: ``line_id``, ``p_return``, ``p_<reason group>`` and ``risk_band``.
"""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class ReturnRiskPyfunc(PythonModel):
    """Scores order lines with the serving bundle shipped as the model's artifact."""

    def __init__(self) -> None:
        self.bundle = None

    def load_context(self, context) -> None:
        from returnrisk.model.bundle import ServingBundle

        self.bundle = ServingBundle.load(context.artifacts["bundle"])

    def predict(self, context, model_input, params=None):
        from returnrisk.scoring.batch import score_frame

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return score_frame(self.bundle, frame)


mlflow.models.set_model(ReturnRiskPyfunc())
