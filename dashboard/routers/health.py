"""``GET /health``: is the app up and can it read the store (no sign-in; for load balancers)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from dashboard.web import AppState

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str  # ok | degraded
    store: bool
    live: str  # redis | polling | off


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(state: AppState):
    try:
        with state.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        ok = True
    except Exception:
        ok = False
    hub = state.hub
    live = "off" if hub is None else ("redis" if hub.redis_connected else "polling")
    body = Health(status="ok" if ok else "degraded", store=ok, live=live)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
