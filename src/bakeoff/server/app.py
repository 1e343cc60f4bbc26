"""create_app(settings): one FastAPI app serving the OpenAI-compatible API (/v1), the UI API (/api)
and the static web UI (/). Routers live in their own modules and are included here."""

from __future__ import annotations

from fastapi import FastAPI

from ..settings import Settings, get_settings
from .errors import QuietCancel, install_error_handlers
from .metrics import CountRequests, Metrics
from .openai_routes import ENDPOINTS
from .openai_routes import router as openai_router
from .pool import ModelPool
from .security import Guard
from .ui_routes import mount_ui

MAX_BODY_BYTES = 8 << 20  # 8 MiB: far above any prompt that fits a context window


def create_app(settings: Settings | None = None, models: list[str] | None = None, *,
               api_key: str | None = None, host: str = "127.0.0.1", slots: int = 8,
               max_queue: int | None = None, n_ctx: int | None = None,
               max_body: int = MAX_BODY_BYTES) -> FastAPI:
    """`api_key` (default: BAKEOFF_API_KEY) guards every route but /health; `host` is the bound
    address, accepted in the Host header besides loopback names; `slots` sequences per llama.cpp
    model are decoded together; `max_queue` more may wait before requests get 429."""
    settings = settings or get_settings()
    app = FastAPI(title="Bakeoff", version="0.1.0",
                  description="OpenAI-compatible API for local open-weights models")
    app.state.settings = settings
    app.state.pool = ModelPool(settings, models, slots=slots, max_queue=max_queue, n_ctx=n_ctx)
    app.state.metrics = Metrics(app.state.pool.stats)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "loaded": app.state.pool.loaded()}

    @app.on_event("shutdown")
    def _close() -> None:
        app.state.pool.close()

    install_error_handlers(app)
    app.include_router(openai_router)
    app.add_middleware(Guard, api_key=api_key or settings.api_key, bound_host=host, max_body=max_body)
    app.add_middleware(CountRequests, metrics=app.state.metrics, endpoints=ENDPOINTS)
    app.add_middleware(QuietCancel)

    mount_ui(app)  # keep last: the static UI is mounted at "/" and must not shadow other routes
    return app
