"""create_app(settings): one FastAPI app serving the OpenAI-compatible API (/v1), the UI API (/api)
and the static web UI (/). Routers live in their own modules and are included here."""

from __future__ import annotations

from fastapi import FastAPI

from ..settings import Settings, get_settings
from .pool import ModelPool


def create_app(settings: Settings | None = None, models: list[str] | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Bakeoff", version="0.1.0")
    app.state.settings = settings
    app.state.pool = ModelPool(settings, models)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "loaded": app.state.pool.loaded()}

    @app.on_event("shutdown")
    def _close() -> None:
        app.state.pool.close()

    from .ui_routes import mount_ui

    mount_ui(app)  # keep last: the static UI is mounted at "/" and must not shadow other routes
    return app
