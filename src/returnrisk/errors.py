"""The errors that carry a message meant for the person running returnrisk: one tree, one root.

Every expected failure is a :class:`ReturnRiskError`; its subclass says what kind of failure it
is, and that decides how each entry point reports it:

================================  ===========  ===================================================
class                             API status   meaning
================================  ===========  ===================================================
:class:`InputError`               422          bad input: a value, file or request cannot be used
                                               (``returnrisk.data.problems.DataError``, the
                                               shop's files, is one)
:class:`UnauthenticatedError`     401          the request does not prove who sent it (a webhook
                                               whose signature is wrong or missing)
:class:`NotFoundError`            404          what was asked for does not exist
                                               (:class:`ModelNotFoundError` is one)
:class:`ConflictError`            409          it contradicts what is already recorded
:class:`UnavailableError`         503          the service cannot do it now (no model, no data,
                                               database unreachable or behind): retry or fix the set-up
:class:`ReturnRiskError` (other)  500          any other expected failure (its message is shown)
================================  ===========  ===================================================

The command line prints the message and exits 2 for all of them; the API answers
``{"detail": message, "code": code, **details}`` with the status above, in one handler
(``returnrisk.serving.errors``). ``code`` is a stable machine-readable code: each class has a
default, a raise site may name a more precise one (``UnavailableError(..., code="data_unavailable")``);
``details`` are extra JSON fields of the API answer (e.g. the differences of a conflict).
"""

from __future__ import annotations

__all__ = [
    "ReturnRiskError",
    "InputError",
    "NotFoundError",
    "ModelNotFoundError",
    "UnauthenticatedError",
    "ConflictError",
    "UnavailableError",
]


class ReturnRiskError(Exception):
    """An expected failure: the message says what went wrong and what to do."""

    #: Stable machine-readable code of the failure (API answers); a raise site may override it.
    code: str = "error"

    def __init__(self, *args: object, code: str | None = None, **details: object):
        super().__init__(*args)
        if code is not None:
            self.code = code
        self.details: dict[str, object] = details


class InputError(ReturnRiskError):
    """A file or value given on the command line or to the API cannot be used (bad input)."""

    code = "invalid_input"


class UnauthenticatedError(ReturnRiskError):
    """The request does not prove who sent it (e.g. a webhook signature that is wrong or missing)."""

    code = "unauthenticated"


class NotFoundError(ReturnRiskError):
    """What was asked for does not exist (a product, a recorded return, a model version…)."""

    code = "not_found"


class ModelNotFoundError(NotFoundError):
    """No model where one was asked for (no champion yet, unknown version or URI)."""

    code = "model_not_found"


class ConflictError(ReturnRiskError):
    """The request contradicts what is already recorded; nothing was changed."""

    code = "conflict"


class UnavailableError(ReturnRiskError):
    """The service cannot do it now (no model loaded, no shop data, database down or behind)."""

    code = "unavailable"
