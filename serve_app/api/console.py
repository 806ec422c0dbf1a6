"""The moderation console's static page and scripts, served by the Ingress at ``/console``.

The page holds no data: it asks for an admin key and every API call it makes carries that key, so
the page itself is served without one. Assets come from a fixed list read once from the package
(``serve_app/console/``); nothing is fetched from elsewhere at run time, and the Content-Security-Policy
allows scripts, styles and connections to this origin only.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Response

from pipelines.core.errors import NotFoundError

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
PAGE = "index.html"
ASSET_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",  # the pictures dropped into "Try it", shown from local object URLs
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


@cache
def _assets() -> dict[str, tuple[bytes, str]]:
    """Every servable file by name: the page and the scripts and styles beside it."""
    files = {PAGE: ((CONSOLE_DIR / PAGE).read_bytes(), "text/html; charset=utf-8")}
    for path in sorted(CONSOLE_DIR.iterdir()):
        if path.suffix in ASSET_TYPES:
            files[path.name] = (path.read_bytes(), ASSET_TYPES[path.suffix])
    return files


def _response(name: str) -> Response:
    found = _assets().get(name)
    if found is None:
        raise NotFoundError(f"No console file '{name}'.", code="not_found")
    body, media_type = found
    return Response(body, media_type=media_type, headers=SECURITY_HEADERS)


def console_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/console")
    async def page() -> Response:
        return _response(PAGE)

    @router.get("/console/{name}")
    async def asset(name: str) -> Response:
        return _response(name)

    return router
