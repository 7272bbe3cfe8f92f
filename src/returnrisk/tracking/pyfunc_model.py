"""The MLflow pyfunc model of returnrisk, logged as "models from code".

MLflow copies this file next to the model and runs it when the model is loaded; the
serving bundle travels as the artifact ``bundle``. Input: order lines (the contract's
``order_lines`` columns; only ``product_id`` is required, ``ordered_at`` optional, product
attributes optional for new products). Output: ``line_id``, ``p_return``, ``p_<reason group>``
and ``risk_band``. The model's signature (logged with it) lists these columns.

``predict`` has type hints: MLflow validates the input against them (a DataFrame) and they are
what MLflow asks for — without them it prints "Add type hints to the predict method".
"""

from __future__ import annotations

from typing import Any

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

    def predict(self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from returnrisk.scoring.batch import prepare_scoring_lines, score_frame

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return score_frame(self.bundle, prepare_scoring_lines(frame, "model input"))


mlflow.models.set_model(ReturnRiskPyfunc())
