"""The console's files as the Ingress serves them: a fixed set, a strict CSP, no key needed for the page."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from serve_app.api.console import CONSOLE_DIR

ROOT = Path(__file__).resolve().parents[4]


def get(http: Callable[..., httpx.AsyncClient], path: str, **settings: object) -> httpx.Response:
    async def call() -> httpx.Response:
        async with http(**settings) as client:
            return await client.get(path)

    return asyncio.run(call())


def test_the_page_is_served_with_a_strict_content_security_policy(http: Callable[..., httpx.AsyncClient]) -> None:
    page = get(http, "/console", api_key_env=None)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    # nothing from elsewhere: every script and style the page names is one of ours
    for ref in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert ref.startswith("/console/"), ref
        assert get(http, ref).status_code == 200


def test_scripts_and_styles_have_their_types_and_nothing_else_is_served(http: Callable[..., httpx.AsyncClient]) -> None:
    script = get(http, "/console/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert get(http, "/console/console.css").headers["content-type"].startswith("text/css")
    for path in ["/console/nope.js", "/console/__init__.py", "/console/..%2Fapi%2Fconsole.py", "/console/%2e%2e"]:
        missing = get(http, path)
        assert missing.status_code == 404, path
        assert missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("name", sorted(p.name for p in CONSOLE_DIR.glob("*.js")))
def test_console_code_builds_no_html_from_strings_and_loads_nothing_remote(name: str) -> None:
    """Decisions hold user content: it goes into text nodes, never innerHTML; no URL leaves this origin."""
    source = (CONSOLE_DIR / name).read_text()
    assert "innerHTML" not in source and "outerHTML" not in source and "insertAdjacentHTML" not in source
    assert "eval(" not in source and "new Function" not in source
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", source)


def test_the_console_files_ship_in_the_package() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"serve_app.console" = ["*.html", "*.js", "*.css"]' in pyproject
