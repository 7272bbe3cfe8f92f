"""Predictions of a few rows without LightGBM's per-call set-up: the storefront's request path.

``Booster.predict`` validates its input, builds a predictor and parses its parameters on every
call — about 40 µs per booster before a tree is walked, more than the trees themselves cost
for one row. LightGBM's C API has a prepared path for exactly this case:
``LGBM_BoosterPredictForMatSingleRowFastInit`` sets a predictor up once (one thread, float32
rows, the prediction type) and ``LGBM_BoosterPredictForMatSingleRowFast`` then scores one row
(measured ≈ 10 µs for the return booster, ≈ 15 µs for the six-class reason booster). The trees
and their arithmetic are LightGBM's own, so the values are the booster's to the last bit (a
test compares them with :meth:`~returnrisk.model.estimator.ReturnRiskModel.predict`).

A prepared predictor keeps buffers that two threads must not share, so each thread gets its
own (created on its first call, freed with it); each holds a reference to its booster, which
therefore outlives it.
"""

from __future__ import annotations

import ctypes
import threading

import lightgbm as lgb
import numpy as np
from lightgbm.basic import _LIB, _safe_call

from returnrisk.model.estimator import Prediction, ReturnRiskModel
from returnrisk.taxonomy import RETURN_GROUPS

__all__ = ["RowPredictor"]

_PREDICT_NORMAL, _PREDICT_RAW_SCORE = 0, 1
_FLOAT32 = 0


class _Prepared:
    """One booster's prepared single-row predictor (one thread's)."""

    def __init__(self, booster: lgb.Booster, predict_type: int, n_out: int):
        self.booster = booster                     # kept alive as long as the handle
        self.handle = ctypes.c_void_p()
        _safe_call(_LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
            booster._handle, ctypes.c_int(predict_type), ctypes.c_int(0), ctypes.c_int(-1),
            ctypes.c_int(_FLOAT32), ctypes.c_int32(booster.num_feature()), ctypes.c_char_p(b"num_threads=1"),
            ctypes.byref(self.handle)))
        self.out = np.empty(n_out, dtype=np.float64)
        self._out = self.out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._length = ctypes.c_int64()
        self._call = _LIB.LGBM_BoosterPredictForMatSingleRowFast

    def __call__(self, row: np.ndarray) -> np.ndarray:
        """The prediction of one contiguous float32 row (a view of a buffer reused by the next call)."""
        _safe_call(self._call(self.handle, row.ctypes.data_as(ctypes.c_void_p), ctypes.byref(self._length),
                              self._out))
        return self.out

    def __del__(self):
        if getattr(self, "handle", None) is not None and self.handle.value:
            _LIB.LGBM_FastConfigFree(self.handle)
            self.handle = None


class RowPredictor:
    """``model.predict`` for a handful of rows, through LightGBM's prepared single-row path.

    Rows beyond ``batch_from`` go to ``model.predict`` in one call (a prepared row costs about
    what ``Booster.predict`` costs per extra row of a batch, plus its own call).
    """

    def __init__(self, model: ReturnRiskModel, *, batch_from: int = 48):
        self.model = model
        self.batch_from = batch_from
        self.n_features = model.return_booster.num_feature()
        self._local = threading.local()

    def _prepared(self) -> tuple[_Prepared, _Prepared]:
        pair = getattr(self._local, "pair", None)
        if pair is None:
            pair = self._local.pair = (
                _Prepared(self.model.return_booster, _PREDICT_RAW_SCORE, 1),
                _Prepared(self.model.reason_booster, _PREDICT_NORMAL, len(RETURN_GROUPS)),
            )
        return pair

    def predict(self, X: np.ndarray) -> Prediction:
        """``p_return`` (n,) and ``p_reasons`` (n, groups), as :meth:`ReturnRiskModel.predict` gives them."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got shape {X.shape}")
        if len(X) >= self.batch_from:
            return self.model.predict(X, num_threads=1)
        raw_return, reasons = self._prepared()
        margin = np.empty(len(X))
        given = np.empty((len(X), len(RETURN_GROUPS)))
        for i in range(len(X)):
            margin[i] = raw_return(X[i])[0]
            given[i] = reasons(X[i])
        a, b = self.model.platt
        p_return = 1.0 / (1.0 + np.exp(-(a * margin + b)))
        return Prediction(p_return, p_return[:, None] * given)
