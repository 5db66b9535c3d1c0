"""The staff console page (`/console/`): static files from this package, no CDN, and the
public configuration it signs in with."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from talia_console.deps import get_state

router = APIRouter(prefix="/console", include_in_schema=False)

_TYPES: Final = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}


@functools.cache
def _static(name: str) -> bytes:
    return resources.files("talia_console").joinpath("static", name).read_bytes()


def _headers(supabase_url: str) -> dict[str, str]:
    # Scripts and styles from this origin only; the page talks to this API and Supabase Auth.
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        f" connect-src 'self' {supabase_url}; base-uri 'none'; form-action 'none';"
        " frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


@router.get("")
async def to_the_page() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=308)


@router.get("/config.json")
async def config(request: Request) -> JSONResponse:
    """What the page needs to sign staff in: the project's URL and public (anon) key."""
    supabase = (await get_state(request)).supabase
    return JSONResponse(
        {
            "supabase_url": str(supabase.url).rstrip("/"),
            "anon_key": supabase.anon_key,
            "api": "/api/console",
        },
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/{name:path}")
async def page(name: str, request: Request) -> Response:
    """The page and its two files; anything else is a 404."""
    name = name or "index.html"
    if name not in _TYPES:
        return JSONResponse(
            {"error": {"code": "not_found", "message": "There is no such page."}},
            status_code=404,
        )
    supabase = (await get_state(request)).supabase
    return Response(
        _static(name),
        media_type=_TYPES[name],
        headers=_headers(str(supabase.url).rstrip("/")),
    )
