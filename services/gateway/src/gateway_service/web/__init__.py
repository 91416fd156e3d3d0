"""The member app: a small hand-written PWA served by the gateway from this package at `/` (no CDN,
no build tools). Its files authenticate through the API with a bearer token, so none of these paths
needs one; they never shadow `/v1/...`, `/admin`, `/docs` or `/openapi.json`.

`index.html` carries the sign-in settings in a meta tag and `sw.js` the list of files to keep
offline with a version that changes whenever a file does, so a new release replaces the old cache.
The ES modules in `static/js/` are sent as two files, `/app/app.js` and `/app/views.js` (see
`bundle`): over HTTP/1.1 a phone would otherwise fetch a dozen modules in several round trips.
Text files go gzipped.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic_settings import BaseSettings, SettingsConfigDict
from rally_shared import devauth
from rally_shared.errors import NotFound

from gateway_service.config import get_settings

STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json; charset=utf-8",
          ".webmanifest": "application/manifest+json"}


class WebSettings(BaseSettings):
    """Sign-in with an identity provider (authorization code + PKCE), next to the gateway's own
    token checks (`RALLY_JWKS_URL`, `RALLY_JWT_ISSUER`, `RALLY_JWT_AUDIENCE`)."""

    model_config = SettingsConfigDict(env_prefix="RALLY_", extra="ignore")

    # The provider's issuer URL (its discovery document is `<issuer>/.well-known/openid-configuration`);
    # when unset, RALLY_JWT_ISSUER is used if it is a URL.
    oidc_issuer: str = ""
    # The member app's public client id at the provider; no client id, no provider sign-in.
    oidc_client_id: str = ""
    oidc_scope: str = "openid profile"
    # Which of the provider's tokens the API verifies: `access_token` or `id_token`.
    oidc_api_token: str = "access_token"


def _issuer(web: WebSettings) -> str:
    if web.oidc_issuer:
        return web.oidc_issuer.rstrip("/")
    issuer = get_settings().jwt_issuer
    return issuer.rstrip("/") if issuer.startswith(("https://", "http://")) else ""


def client_config() -> dict[str, object]:
    """What the app needs to know before anyone signs in."""
    settings, web = get_settings(), WebSettings()
    issuer = _issuer(web)
    oidc = ({"issuer": issuer, "clientId": web.oidc_client_id, "scope": web.oidc_scope,
             "apiToken": web.oidc_api_token} if issuer and web.oidc_client_id else None)
    return {"authMode": settings.auth_mode, "devTokens": devauth.dev_tokens_allowed(settings),
            "oidc": oidc, "version": version()}


@lru_cache
def _headers() -> dict[str, str]:
    # Bearer tokens in localStorage, no cookies: no CSRF. Every asset is local; the API, the live
    # stream and (for provider sign-in) the provider's discovery and token endpoints are fetched.
    issuer = _issuer(WebSettings())
    connect = "'self'"
    if issuer:
        parts = urlsplit(issuer)
        connect += f" {parts.scheme}://{parts.netloc}"
    return {
        "Content-Security-Policy": (f"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                                    f"script-src 'self'; connect-src {connect}; worker-src 'self'; "
                                    f"manifest-src 'self'; frame-ancestors 'none'; base-uri 'self'"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def asset_paths() -> list[str]:
    """Every file the app loads, as URLs (the service worker keeps them for offline use)."""
    files = ["/app/" + p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*")
             if p.is_file() and p.suffix in _TYPES and p.parent.name != "js"
             and p.name not in ("index.html", "sw.js")]
    return sorted([*(f"/app/{b}.js" for b in BUNDLES), *files])


_IMPORT = re.compile(r"^import \{([^}]*)\} from '\./([\w-]+)\.js';\n", re.M)
_EXPORT = re.compile(r"^export (?:async function|function|const|class) (\w+)", re.M)
_LAZY = re.compile(r"import\('\./([\w-]+)\.js'\)")
# The files the app is sent as: the first screen's modules, and the rest, loaded after it.
BUNDLES = {"app": "main", "views": "views"}


def _modules(entry: str, sources: dict[str, str], skip: set[str]) -> list[str]:
    """`entry` and what it imports, dependencies first, leaving out `skip`."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order or name in skip:
            return
        if name in path:
            raise ValueError(f"import cycle: {' -> '.join((*path, name))}")
        for _, dep in _IMPORT.findall(sources[name]):
            visit(dep, (*path, name))
        order.append(name)

    visit(entry, ())
    return order


@lru_cache
def bundle(name: str) -> str:
    """The app's ES modules as two modules, without a build tool: `app` (the first screen, from
    `main.js`) and `views` (the screens after sign-in, from `views.js`, which `main.js` imports
    lazily). Each source module becomes a function scope that returns its exports and reads its
    imports from the modules before it; `views` takes what `app` already has from `app`, so both
    share one copy of each module. The sources keep to what this needs: `import { a, b } from
    './x.js';` lines, `export function|const|class` (no live `let` bindings, no default exports,
    no cycles) and `import('./views.js')` for the lazy part."""
    sources = {p.stem: p.read_text(encoding="utf-8") for p in sorted((STATIC / "js").glob("*.js"))}
    first = _modules(BUNDLES["app"], sources, set())
    names = first if name == "app" else _modules(BUNDLES["views"], sources, set(first))
    parts = [f"// Rally member app: static/js/*.js as one module (gateway_service.web.bundle, {name}).\n"]
    if name != "app":
        used = sorted({dep for m in names for _, dep in _IMPORT.findall(sources[m]) if dep in first})
        parts.append(f"import {{ {', '.join(f'$m_{d}' for d in used)} }} from '/app/app.js';\n")
    for module in names:
        src = sources[module]
        imports = "".join(f"const {{{imported.strip()}}} = $m_{dep};\n"
                          for imported, dep in _IMPORT.findall(src))
        body = _EXPORT.sub(lambda m: m.group(0)[len("export "):], _IMPORT.sub("", src))
        body = _LAZY.sub(lambda m: f"import('/app/{m.group(1)}.js')", body)
        exports = ", ".join(_EXPORT.findall(src))
        parts.append(f"// --- {module}.js\nconst $m_{module} = (() => {{\n{imports}{body}\n"
                     f"return {{ {exports} }};\n}})();\n")
    entry = BUNDLES[name]
    if name == "app":
        parts.append(f"export {{ {', '.join(f'$m_{m}' for m in first)} }};\n")
    else:
        parts.extend(f"export const {e} = $m_{entry}.{e};\n" for e in _EXPORT.findall(sources[entry]))
    return "".join(parts)


@lru_cache
def version() -> str:
    """Changes whenever any file of the app does."""
    digest = hashlib.sha256()
    for p in sorted(STATIC.rglob("*")):
        if p.is_file():
            digest.update(p.relative_to(STATIC).as_posix().encode())
            digest.update(p.read_bytes())
    return digest.hexdigest()[:12]


LANGUAGES = ("en", "de")


def preferred_language(accept_language: str) -> str:
    """The first language of the browser's list that the app speaks (as the app itself picks)."""
    for part in accept_language.split(","):
        code = part.split(";")[0].strip().lower().split("-")[0]
        if code in LANGUAGES:
            return code
    return "en"


@lru_cache
def _index(lang: str) -> bytes:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    meta = html.escape(json.dumps(client_config(), separators=(",", ":")), quote=True)
    return page.replace("__RALLY_CONFIG__", meta).replace("__LANG__", lang).encode()


@lru_cache
def _service_worker() -> bytes:
    script = (STATIC / "sw.js").read_text(encoding="utf-8")
    return (script.replace("__VERSION__", version())
            .replace('["__ASSETS__"]', json.dumps(["/", *asset_paths()]))).encode()


@lru_cache(maxsize=64)
def _gzipped(data: bytes) -> bytes:
    return gzip.compress(data, 9, mtime=0)


def _send(request: Request, data: bytes, media_type: str, **headers: str) -> Response:
    """`data` gzipped when the browser takes it; revalidated on each load (the service worker
    answers offline), so a release shows at once."""
    out = {**_headers(), "Cache-Control": "no-cache", "Vary": "Accept-Encoding", **headers}
    if "gzip" in request.headers.get("accept-encoding", "") and len(data) > 512:
        data = _gzipped(data)
        out["Content-Encoding"] = "gzip"
    return Response(data, media_type=media_type, headers=out)


router = APIRouter(include_in_schema=False)


def _page(request: Request) -> Response:
    lang = preferred_language(request.headers.get("accept-language", ""))
    return _send(request, _index(lang), "text/html; charset=utf-8", Vary="Accept-Encoding, Accept-Language")


@router.get("/")
async def index(request: Request) -> Response:
    return _page(request)


@router.get("/s/{session_id}")
async def session_link(session_id: str, request: Request) -> Response:
    """A shared link to a session opens the app, which shows that session."""
    return _page(request)


@router.get("/sw.js")
async def service_worker(request: Request) -> Response:
    # At the root, so it may keep `/` and `/s/...` for offline use.
    return _send(request, _service_worker(), _TYPES[".js"])


@router.get("/app/app.js")
async def app_bundle(request: Request) -> Response:
    return _send(request, bundle("app").encode(), _TYPES[".js"])


@router.get("/app/views.js")
async def views_bundle(request: Request) -> Response:
    return _send(request, bundle("views").encode(), _TYPES[".js"])


@router.get("/manifest.webmanifest")
async def manifest(request: Request) -> Response:
    return _send(request, _file(STATIC / "manifest.webmanifest"), _TYPES[".webmanifest"])


@router.get("/favicon.ico")
async def favicon() -> Response:
    return RedirectResponse("/app/icon.svg", status_code=308)


@router.get("/app/{name:path}")
async def asset(name: str, request: Request) -> Response:
    """The app's files; the modules of `js/` too (one by one, for reading and debugging)."""
    path = (STATIC / name).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file() or path.suffix not in _TYPES \
            or path.name in ("index.html", "sw.js"):
        raise NotFound("No such file.")
    if path.suffix == ".png":
        return FileResponse(path, media_type=_TYPES[".png"],
                            headers={**_headers(), "Cache-Control": "no-cache"})
    return _send(request, _file(path), _TYPES[path.suffix])


@lru_cache(maxsize=64)
def _file(path: Path) -> bytes:
    return path.read_bytes()
