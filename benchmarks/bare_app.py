"""The ceiling for a Python endpoint: a bare FastAPI app returning a constant JSON."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/const")
def const() -> dict:
    return {"p_return": 0.25, "risk_band": "medium"}
