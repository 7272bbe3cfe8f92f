"""The ceiling for a Python endpoint: a bare FastAPI app returning a constant JSON.

``async def``, like the service's routes: a plain ``def`` endpoint would pay a thread-pool hop
per request and make a lower, flattering ceiling.
"""

from fastapi import FastAPI

app = FastAPI()


@app.get("/const")
async def const() -> dict:
    return {"p_return": 0.25, "risk_band": "medium"}
