"""Errors that carry a message meant for the person running returnrisk."""

from __future__ import annotations

__all__ = ["ReturnRiskError", "ModelNotFoundError", "InputError"]


class ReturnRiskError(Exception):
    """An expected failure: the message says what went wrong and what to do."""


class ModelNotFoundError(ReturnRiskError):
    """No model where one was asked for (no champion yet, unknown version or URI)."""


class InputError(ReturnRiskError):
    """A file or value given on the command line or to the API cannot be used."""
