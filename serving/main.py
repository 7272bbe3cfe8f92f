"""ASGI entry point of the returnrisk API, for uvicorn or any ASGI server.

    uvicorn serving.main:app --host 127.0.0.1 --port 8000
    returnrisk serve            # the same, with TCP_NODELAY and uvloop set up

Settings are read from RETURNRISK_* environment variables and .env (see serving/.env.example).
"""

from returnrisk.serving.asgi import app

__all__ = ["app"]
