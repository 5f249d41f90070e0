"""/docs and /redoc work offline: their scripts and styles come from the pinned fastapi-offline package, served by the
app itself, never from a CDN, and the pages reach nothing beyond the app."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import Request, Route

from tests.support.browser import chromium

ASSET_TYPES = {"script": "javascript", "stylesheet": "text/css"}


def _asset_urls(page: str) -> dict[str, list[str]]:
    """The page's scripts and stylesheets (and icons), by kind."""
    return {
        "script": re.findall(r'<script[^>]*\bsrc="([^"]+)"', page),
        "stylesheet": re.findall(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"', page)
        + re.findall(r'<link[^>]*href="([^"]+)"[^>]*rel="stylesheet"', page),
        "icon": re.findall(r'<link[^>]*rel="[^"]*icon"[^>]*href="([^"]+)"', page),
    }


def _is_same_origin(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and url.startswith("/")


@pytest.mark.parametrize(("path", "kinds"), [("/docs", ("script", "stylesheet")), ("/redoc", ("script",))])
def test_api_docs_load_only_same_origin_assets(anonymous: httpx.Client, path: str, kinds: tuple[str, ...]) -> None:
    page = anonymous.get(path)
    assert page.status_code == 200
    # The browser itself is told to load nothing from elsewhere (ReDoc's bundle would fetch a badge from its CDN).
    assert page.headers["content-security-policy"].startswith("default-src 'self';")
    assets = _asset_urls(page.text)
    assert "cdn" not in page.text.lower()
    assert "http://" not in page.text
    assert "https://" not in page.text
    for kind in kinds:
        assert assets[kind], f"{path} has no {kind}"
    for kind, urls in assets.items():
        for url in urls:
            assert _is_same_origin(url), f"{path} loads {url} from elsewhere"
            asset = anonymous.get(url)
            assert asset.status_code == 200, url
            expected_type = ASSET_TYPES.get(kind, "image/")
            assert expected_type in asset.headers["content-type"], (url, asset.headers["content-type"])
            assert len(asset.content) > 1000, url  # the real bundle, not an empty placeholder


def test_swagger_ui_renders_the_operations_with_no_network_beyond_this_app(api: str) -> None:
    requested: list[str] = []
    blocked: list[str] = []

    def only_this_app(route: Route, request: Request) -> None:
        requested.append(request.url)
        if request.url.startswith(api + "/"):
            route.continue_()
        else:
            blocked.append(request.url)
            route.abort()

    with chromium() as browser:
        page = browser.new_page()
        page.route("**/*", only_this_app)
        page.goto(urljoin(api, "/docs"))
        # Operations are drawn from /openapi.json by the Swagger UI script: visible only if it loaded and ran.
        page.locator(".opblock-summary-path", has_text="/api/me").first.wait_for()
        assert page.locator(".opblock").count() > 5
        assert page.title() == "Oodaloo - Swagger UI"

        page.goto(urljoin(api, "/redoc"))
        # ReDoc draws each operation's summary as a heading once its script has read the spec.
        page.get_by_role("heading", name="Sign In").first.wait_for()

    assert not blocked, f"the docs reached beyond the app: {blocked}"
    assert any(url.endswith("swagger-ui-bundle.js") for url in requested)
    assert any(url.endswith("redoc.standalone.js") for url in requested)
