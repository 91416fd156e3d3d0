"""Browser access from other origins: only the ones an operator lists (RALLY_CORS_ORIGINS). The
gateway and every service answer it alike: the dev edge proxy routes API paths straight to the
services."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

ALLOWED_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID", "X-Request-Id"]
EXPOSED_HEADERS = ["X-Request-Id", "Retry-After", "Location"]


def install_cors(app: FastAPI, origins: list[str]) -> None:
    """Allow `origins` (none: no CORS headers at all, so only same-origin pages can call).

    Call it after every other middleware: the last added is the outermost, so preflights are
    answered before auth or routing, and error answers carry the headers a browser needs to read
    them. Tokens travel in a header, not cookies, so credentials stay off."""
    if not origins:
        return
    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=False,
                       allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                       allow_headers=ALLOWED_HEADERS, expose_headers=EXPOSED_HEADERS, max_age=600)
