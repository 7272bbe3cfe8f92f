"""The service's log lines: JSON lines for machines, text for people, one format for every logger.

``RETURNRISK_LOG_FORMAT``: ``json`` (one JSON object per line: ``ts`` — UTC, milliseconds —,
``level``, ``logger``, ``message``, ``request_id`` when written during a request, ``pid``, and
``exc`` with the traceback if any), ``text``, or ``auto`` (the default: text when standard error
is a terminal, JSON otherwise — under Docker, systemd or a log shipper). uvicorn's own lines
(start-up, errors, and the access log when ``RETURNRISK_ACCESS_LOG=true``) go through the same
handler, so they share the format and the request id.

:func:`logging_config` is the ``logging.config.dictConfig`` dictionary ``returnrisk serve`` hands
to uvicorn (each worker applies it).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from contextvars import ContextVar

import orjson

__all__ = ["REQUEST_ID", "RequestIdFilter", "JsonFormatter", "TextFormatter", "logging_config", "resolve_format",
           "FORMATS"]

#: The id of the request being answered (set by :class:`~returnrisk.serving.headers.ResponseHeadersMiddleware`).
REQUEST_ID: ContextVar[str | None] = ContextVar("returnrisk_request_id", default=None)
FORMATS = ("auto", "json", "text")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "request_id",
                                                                           "color_message"}


def resolve_format(setting: str, stream=None) -> str:
    """``json`` or ``text`` for a setting of :data:`FORMATS` (``auto``: text on a terminal)."""
    if setting not in FORMATS:
        raise ValueError(f"log format {setting!r} is not one of {', '.join(FORMATS)}")
    if setting != "auto":
        return setting
    stream = stream or sys.stderr
    return "text" if getattr(stream, "isatty", lambda: False)() else "json"


class RequestIdFilter(logging.Filter):
    """Gives every record the current request id (``None`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def _access_fields(record: logging.LogRecord) -> dict:
    """uvicorn's access line as fields: client, method, path, http_version, status."""
    args = record.args
    if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        client, method, path, version, status = args
        return {"client": client, "method": method, "path": path, "http_version": version, "status": status}
    return {}


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        created = record.created
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process or os.getpid(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        entry.update(_access_fields(record))
        for key, value in record.__dict__.items():   # extra={...} fields
            if key not in _STANDARD and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """``2026-12-01 10:00:00,123 INFO returnrisk.serving.state [req 1a2b-3]: message``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request = f" [req {request_id}]" if request_id else ""
        return super().format(record)


def logging_config(fmt: str = "auto", level: str = "info", access_log: bool = False) -> dict:
    """The dictConfig of a serving process: every logger through one handler in ``fmt``."""
    chosen = resolve_format(fmt)
    formatter = {"()": f"{__name__}.{'JsonFormatter' if chosen == 'json' else 'TextFormatter'}"}
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"returnrisk": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": "returnrisk", "filters": ["request_id"]}},
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            "returnrisk": {"level": level},
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "INFO" if access_log else "WARNING", "propagate": True},
            "mlflow": {"level": "WARNING"},
            "alembic": {"level": "WARNING"},
        },
    }
