"""The nurses' and clinicians' dashboard: one page and its static files, served by the API so that
nothing is fetched from elsewhere at run time. All data comes from the JSON API with the user's
token, so the dashboard sees exactly what the API lets that user see."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

HERE = Path(__file__).parent
router = APIRouter(include_in_schema=False)


@router.get("/")
def dashboard() -> FileResponse:
    return FileResponse(HERE / "templates" / "index.html",
                        headers={"Cache-Control": "no-cache"})


@router.get("/sw.js")
def service_worker() -> FileResponse:
    """The service worker that shows Web Push notifications, served from the root so that its
    scope is the whole dashboard."""
    return FileResponse(HERE / "static" / "sw.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache"})


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
