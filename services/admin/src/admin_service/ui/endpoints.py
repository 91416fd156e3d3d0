"""The admin dashboard: a small hand-written SPA served from this package (no CDN, no build)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response
from rally_shared.errors import NotFound

STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".svg": "image/svg+xml", ".html": "text/html; charset=utf-8"}
# The dashboard reads the API with a bearer token from localStorage: no cookies, so no CSRF;
# the CSP keeps every asset local.
_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

router = APIRouter(include_in_schema=False)


@router.get("/admin")
async def admin_root() -> Response:
    return RedirectResponse("/admin/", status_code=308)


@router.get("/admin/")
async def index() -> Response:
    return FileResponse(STATIC / "index.html", headers={**_HEADERS, "Cache-Control": "no-cache"})


@router.get("/admin/static/{name}")
async def asset(name: str) -> Response:
    path = (STATIC / name).resolve()
    if path.parent != STATIC or not path.is_file() or path.suffix not in _TYPES:
        raise NotFound("No such asset.")
    return FileResponse(path, media_type=_TYPES[path.suffix],
                        headers={**_HEADERS, "Cache-Control": "public, max-age=300"})
